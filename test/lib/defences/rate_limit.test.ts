/**
 * The limits on guessing, to the attempt and to the second: how many attempts a limiter lets through,
 * how fast it refills, the longest per-account wait, and how many keys each remembers by default.
 * A limit that is merely "some limit" would pass a looser test while letting ten times the guesses in.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoginBackoff, RateLimiter } from '../../../lib/defences/rate_limit.ts';
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

describe('LoginBackoff: a growing wait per account after failed logins', () => {
  // An attempt counts as a failure from the moment it is reserved (until `succeeded()`), so "reserve"
  // below is both "may this attempt start?" and, left unsettled, "it failed".
  test('lets 6 attempts through (5 free failures and one more), then waits 1 s, doubling with each failure', () => {
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let i = 0; i < 6; i++) backoff.reserve('alice');
    for (const seconds of [1, 2, 4, 8]) {
      assert.throws(() => backoff.reserve('alice'), tooMany(seconds));
      clock.advance(seconds * 1000 - 1);
      assert.throws(() => backoff.reserve('alice'), tooMany(1));
      clock.advance(1);
      backoff.reserve('alice'); // let through, and failed: the next wait doubles
    }
  });

  test('after many failures, Retry-After is exactly the cap of 15 minutes', () => {
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let i = 0; i < 40; i++) {
      backoff.reserve('alice');
      clock.advance(15 * 60_000); // each wait over, so every failure counts
    }
    backoff.reserve('alice');
    assert.throws(() => backoff.reserve('alice'), tooMany(15 * 60));
    clock.advance(15 * 60_000 - 1);
    assert.throws(() => backoff.reserve('alice'), tooMany(1));
    clock.advance(1);
    assert.doesNotThrow(() => backoff.reserve('alice'));
  });

  test('a success clears the account: the next failures are free ones again', () => {
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let i = 0; i < 6; i++) backoff.reserve('alice');
    clock.advance(1000); // the first wait over
    backoff.reserve('alice').succeeded();
    for (let i = 0; i < 6; i++) assert.doesNotThrow(() => backoff.reserve('alice'));
  });

  test('an abandoned attempt (no password was checked) gives its place back, once', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    for (let i = 0; i < 5; i++) backoff.reserve('alice');
    const shed = backoff.reserve('alice'); // the sixth, shed by the hasher before any check
    shed.abandoned();
    shed.abandoned(); // settled already: gives nothing back twice
    backoff.reserve('alice'); // the sixth again, let through
    assert.throws(() => backoff.reserve('alice'), tooMany(1));
  });

  test('an abandoned lone attempt forgets the account; one abandoned after a success changes nothing', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    backoff.reserve('alice').abandoned();
    assert.equal(backoff.trackedKeys, 0);
    const slow = backoff.reserve('bob');
    backoff.reserve('bob').succeeded(); // clears bob while the slow attempt is still out
    assert.doesNotThrow(() => slow.abandoned());
    assert.equal(backoff.trackedKeys, 0);
  });

  test('a success counts once: settling the same attempt again after new failures clears nothing', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    const first = backoff.reserve('alice');
    first.succeeded();
    for (let i = 0; i < 6; i++) backoff.reserve('alice');
    first.succeeded();
    assert.throws(() => backoff.reserve('alice'), tooMany(1));
  });

  test('a device with a verified device cookie has its own count: the account lock does not apply to it, nor its lock to others', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    for (let i = 0; i < 6; i++) backoff.reserve('alice');
    assert.throws(() => backoff.reserve('alice'), { message: 'Too many failed logins for this account: wait a moment and try again' });
    for (let i = 0; i < 6; i++) backoff.reserve('alice', 'laptop');
    assert.throws(() => backoff.reserve('alice', 'laptop'), { message: 'Too many failed logins from this device: wait a moment and try again' });
    assert.doesNotThrow(() => backoff.reserve('alice', 'phone'));
  });

  test('remembers up to 10 000 accounts by default, and no more', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    for (let i = 0; i <= 10_000; i++) backoff.reserve(`user${i}`);
    assert.equal(backoff.trackedKeys, 10_000);
  });
});

describe('the limits switched off, and the messages they answer with', () => {
  test('a RateLimiter of 0 per minute never refuses (RATE_LIMIT=0)', () => {
    const limiter = new RateLimiter(0, manualClock().now);
    for (let i = 0; i < 100; i++) assert.doesNotThrow(() => limiter.take('203.0.113.1'));
  });

  test('a disabled LoginBackoff never makes an account wait, and remembers nothing', () => {
    const backoff = new LoginBackoff(false, manualClock().now);
    for (let i = 0; i < 20; i++) assert.doesNotThrow(() => backoff.reserve('alice'));
    assert.equal(backoff.trackedKeys, 0);
    assert.doesNotThrow(() => backoff.reserve('alice').succeeded());
    assert.doesNotThrow(() => backoff.reserve('alice', 'laptop').abandoned());
  });

  test('an account that never failed does not wait', () => {
    assert.doesNotThrow(() => new LoginBackoff(true, manualClock().now).reserve('nobody-yet'));
  });

  test('each 429 says which limit it is: the address, or the account', () => {
    const limiter = new RateLimiter(1, manualClock().now);
    limiter.take('203.0.113.1');
    assert.throws(() => limiter.take('203.0.113.1'), { message: 'Too many attempts from your address: wait a moment and try again' });
    const backoff = new LoginBackoff(true, manualClock().now);
    for (let i = 0; i < 6; i++) backoff.reserve('alice');
    assert.throws(() => backoff.reserve('alice'), { message: 'Too many failed logins for this account: wait a moment and try again' });
  });
});
