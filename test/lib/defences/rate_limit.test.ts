/**
 * The limits on guessing, to the attempt and to the second: how many attempts a limiter lets through,
 * how fast it refills, the longest per-account wait, and how many keys each remembers by default.
 * A limit that is merely "some limit" would pass a looser test while letting ten times the guesses in.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateLimiter, clientAddress, limitRequests } from '../../../lib/defences/rate_limit.ts';
import type { Request } from '../../../lib/http/listener.ts';
import { manualClock } from '../../helpers/server.ts';

/** Matches the error a limit throws (a 429), with its wait in seconds (`Retry-After`). */
const tooMany = (retryAfterSeconds: number) => ({ code: 'ERR_TOO_MANY_REQUESTS', retryAfterSeconds });

describe('RateLimiter: N attempts per minute per key', () => {
  test('lets exactly N attempts through at once, and refuses the next with Retry-After 60/N seconds', () => {
    const limiter = new RateLimiter(6, manualClock().now);
    for (let i = 1; i <= 6; i++) assert.doesNotThrow(() => limiter.take('203.0.113.1'), `attempt ${i}`);
    assert.throws(() => limiter.take('203.0.113.1'), tooMany(10));
  });

  test('refills at N per minute: one more attempt once 60/N seconds have passed, not a moment before', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(6, clock.now);
    for (let i = 0; i < 6; i++) limiter.take('203.0.113.1');

    clock.advance(9_900);
    assert.throws(() => limiter.take('203.0.113.1'), tooMany(1), 'a tenth of a second early');
    clock.advance(100);
    assert.doesNotThrow(() => limiter.take('203.0.113.1'));
    assert.throws(() => limiter.take('203.0.113.1'), tooMany(10), 'one token, not more');
  });

  test('refills to N and no further after a long quiet spell', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(6, clock.now);
    limiter.take('203.0.113.1');
    clock.advance(60 * 60_000);
    for (let i = 1; i <= 6; i++) assert.doesNotThrow(() => limiter.take('203.0.113.1'), `attempt ${i}`);
    assert.throws(() => limiter.take('203.0.113.1'), tooMany(10));
  });

  test('keeps each key to its own allowance', () => {
    const limiter = new RateLimiter(1, manualClock().now);
    limiter.take('203.0.113.1');
    assert.throws(() => limiter.take('203.0.113.1'), tooMany(60));
    assert.doesNotThrow(() => limiter.take('203.0.113.2'));
  });

  test('remembers up to 10 000 keys by default, and no more', () => {
    const limiter = new RateLimiter(1, manualClock().now);
    for (let i = 0; i <= 10_000; i++) limiter.take(`key-${i}`);
    assert.equal(limiter.trackedKeys, 10_000);
  });
});

describe('the limits switched off, and the messages they answer with', () => {
  test('a RateLimiter of 0 per minute never refuses (RATE_LIMIT=0)', () => {
    const limiter = new RateLimiter(0, manualClock().now);
    for (let i = 0; i < 100; i++) assert.doesNotThrow(() => limiter.take('203.0.113.1'));
  });

  test('a 429 says it is the address that waits, or what the limiter was given to say', () => {
    const limiter = new RateLimiter(1, manualClock().now);
    limiter.take('203.0.113.1');
    assert.throws(() => limiter.take('203.0.113.1'), { message: 'Too many attempts from your address: wait a moment and try again' });
    const refreshes = new RateLimiter(1, manualClock().now, { message: 'Too many refreshes' });
    refreshes.take('session');
    assert.throws(() => refreshes.take('session'), { message: 'Too many refreshes' });
  });

  test('a burst larger than the rate lets that many through at once, then refills at the rate', () => {
    const clock = manualClock();
    const limiter = new RateLimiter(60, clock.now, { burst: 3 });
    for (let i = 0; i < 3; i++) limiter.take('session');
    assert.throws(() => limiter.take('session'), tooMany(1));
    clock.advance(1000);
    assert.doesNotThrow(() => limiter.take('session'));
  });

  test('a cap of maxKeys forgets the least recently used key, which then starts afresh', () => {
    const limiter = new RateLimiter(1, manualClock().now, { maxKeys: 2 });
    limiter.take('a');
    limiter.take('b');
    assert.throws(() => limiter.take('a'), tooMany(60), 'a is now the most recently used');
    limiter.take('c'); // pushes out b
    assert.equal(limiter.trackedKeys, 2);
    assert.doesNotThrow(() => limiter.take('b'));
  });
});

describe('limitRequests(): the guard', () => {
  /** A request as the guard sees it, from `address`. */
  const request = (method: string, path: string, address: string | undefined = '203.0.113.1') =>
    ({ method, path, req: { socket: { remoteAddress: address } } }) as unknown as Request;

  test('takes one attempt per request to a listed route, under the key it is given; other routes and methods pass untouched', () => {
    const limiter = new RateLimiter(1, manualClock().now);
    const guard = limitRequests(limiter, ['POST /login'], clientAddress);
    for (const [method, path] of [['GET', '/login'], ['POST', '/signup'], ['POST', '/login/'], ['POST', '/logi']]) {
      assert.doesNotThrow(() => guard(request(method!, path!)), `${method} ${path}`);
    }
    assert.equal(limiter.trackedKeys, 0);
    guard(request('POST', '/login'));
    assert.throws(() => guard(request('POST', '/login')), tooMany(60));
    assert.doesNotThrow(() => guard(request('POST', '/login', '203.0.113.2')), 'another address, another bucket');
  });

  test('a request given no key is not counted', () => {
    const limiter = new RateLimiter(1, manualClock().now);
    const guard = limitRequests(limiter, ['POST /refresh'], () => undefined);
    for (let i = 0; i < 3; i++) assert.doesNotThrow(() => guard(request('POST', '/refresh')));
    assert.equal(limiter.trackedKeys, 0);
  });

  test('clientAddress() is the socket\'s address, never a forwarding header; "unknown" when the socket has none', () => {
    assert.equal(clientAddress(request('POST', '/login', '198.51.100.7')), '198.51.100.7');
    assert.equal(clientAddress({ method: 'POST', path: '/login', req: { socket: {} } } as unknown as Request), 'unknown');
  });
});
