/**
 * The per-account wait after failed logins, to the attempt and to the second, and what no flood can
 * make it forget (round 3, finding 1): an account's count is kept by its id, apart from the names that have
 * no account, and is never pushed out by anything an attacker sends.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FORGET_AFTER_MS, LoginBackoff, UNKNOWN_NAMES_REMEMBERED } from '../../../lib/defences/login_backoff.ts';
import { manualClock } from '../../helpers/server.ts';

/** Matches the error a limit throws (a 429), with its wait in seconds (`Retry-After`). */
const tooMany = (retryAfterSeconds: number) => ({ code: 'ERR_TOO_MANY_REQUESTS', retryAfterSeconds });
const ACCOUNT_MESSAGE = 'Too many failed logins for this account: wait a moment and try again';

describe('LoginBackoff: a growing wait per account after failed logins', () => {
  // An attempt counts as a failure from the moment it is reserved (until `succeeded()`), so "reserve"
  // below is both "may this attempt start?" and, left unsettled, "it failed".
  test('lets 6 attempts through (5 free failures and one more), then waits 1 s, doubling with each failure', () => {
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('alice');
    for (const seconds of [1, 2, 4, 8]) {
      assert.throws(() => backoff.reserveForAccount('alice'), tooMany(seconds));
      clock.advance(seconds * 1000 - 1);
      assert.throws(() => backoff.reserveForAccount('alice'), tooMany(1));
      clock.advance(1);
      backoff.reserveForAccount('alice'); // let through, and failed: the next wait doubles
    }
  });

  test('after many failures, Retry-After is exactly the cap of 15 minutes', () => {
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let i = 0; i < 40; i++) {
      backoff.reserveForAccount('alice');
      clock.advance(15 * 60_000); // each wait over, so every failure counts
    }
    backoff.reserveForAccount('alice');
    assert.throws(() => backoff.reserveForAccount('alice'), tooMany(15 * 60));
    clock.advance(15 * 60_000 - 1);
    assert.throws(() => backoff.reserveForAccount('alice'), tooMany(1));
    clock.advance(1);
    assert.doesNotThrow(() => backoff.reserveForAccount('alice'));
  });

  test('a success clears the account: the next failures are free ones again', () => {
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('alice');
    clock.advance(1000); // the first wait over
    backoff.reserveForAccount('alice').succeeded();
    for (let i = 0; i < 6; i++) assert.doesNotThrow(() => backoff.reserveForAccount('alice'));
    assert.throws(() => backoff.reserveForAccount('alice'), tooMany(1));
  });

  test('an abandoned attempt (no password was checked) gives its place back, once', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    for (let i = 0; i < 5; i++) backoff.reserveForAccount('alice');
    const shed = backoff.reserveForAccount('alice'); // the sixth, shed by the hasher before any check
    shed.abandoned();
    shed.abandoned(); // settled already: gives nothing back twice
    backoff.reserveForAccount('alice'); // the sixth again, let through
    assert.throws(() => backoff.reserveForAccount('alice'), tooMany(1));
  });

  test('an abandoned lone attempt forgets the account; one abandoned after a success changes nothing', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    backoff.reserveForAccount('alice').abandoned();
    assert.equal(backoff.tracked.accounts, 0);
    const slow = backoff.reserveForAccount('bob');
    backoff.reserveForAccount('bob').succeeded(); // clears bob while the slow attempt is still out
    assert.doesNotThrow(() => slow.abandoned());
    assert.equal(backoff.tracked.accounts, 0);
  });

  test('a success counts once: settling the same attempt again after new failures clears nothing', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    const first = backoff.reserveForAccount('alice');
    first.succeeded();
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('alice');
    first.succeeded();
    first.abandoned();
    assert.throws(() => backoff.reserveForAccount('alice'), tooMany(1));
  });

  test('a trusted device has its own count: the account lock does not apply to it, nor its lock to others', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('alice');
    assert.throws(() => backoff.reserveForAccount('alice'), { message: ACCOUNT_MESSAGE });
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('alice', 'laptop');
    assert.throws(() => backoff.reserveForAccount('alice', 'laptop'), { message: 'Too many failed logins from this device: wait a moment and try again' });
    assert.doesNotThrow(() => backoff.reserveForAccount('alice', 'phone'));
    assert.deepEqual(backoff.tracked, { accounts: 1, devices: 2, unknownNames: 0 });
  });

  test('a name with no account waits exactly like an account, with the same message, on a count of its own', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    for (let i = 0; i < 6; i++) backoff.reserveForUnknownName('nobody');
    assert.throws(() => backoff.reserveForUnknownName('nobody'), { ...tooMany(1), message: ACCOUNT_MESSAGE });
    assert.doesNotThrow(() => backoff.reserveForAccount('nobody'), 'an account whose id happens to be that text is another count');
    assert.doesNotThrow(() => backoff.reserveForUnknownName('somebody-else'));
  });

  test('a disabled LoginBackoff never makes anyone wait, and remembers nothing', () => {
    const backoff = new LoginBackoff(false, manualClock().now);
    for (let i = 0; i < 20; i++) {
      assert.doesNotThrow(() => backoff.reserveForAccount('alice'));
      assert.doesNotThrow(() => backoff.reserveForAccount('alice', 'laptop'));
      assert.doesNotThrow(() => backoff.reserveForUnknownName('nobody'));
    }
    assert.deepEqual(backoff.tracked, { accounts: 0, devices: 0, unknownNames: 0 });
    assert.doesNotThrow(() => backoff.reserveForAccount('alice').succeeded());
    assert.doesNotThrow(() => backoff.reserveForAccount('alice', 'laptop').abandoned());
  });
});

describe('LoginBackoff: what nothing an attacker sends can make it forget (round 3, finding 1)', () => {
  test('a flood of made-up names leaves a waiting account waiting: 10,100 names after a count of 12', () => {
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let failures = 0; failures < 12; failures++) {
      clock.advance(15 * 60_000);
      backoff.reserveForAccount('victim');
    }
    for (let i = 0; i < UNKNOWN_NAMES_REMEMBERED + 100; i++) backoff.reserveForUnknownName(`made-up-${i}`);
    assert.throws(() => backoff.reserveForAccount('victim'), tooMany(64), 'the 13th guess waits 2^6 s, as before the flood');
    assert.deepEqual(backoff.tracked, { accounts: 1, devices: 0, unknownNames: UNKNOWN_NAMES_REMEMBERED });
  });

  test('nor do other accounts: however many fail, each keeps its own count', () => {
    const backoff = new LoginBackoff(true, manualClock().now, 10);
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('victim');
    for (let i = 0; i < 1000; i++) backoff.reserveForAccount(`account-${i}`);
    assert.throws(() => backoff.reserveForAccount('victim'), tooMany(1));
    assert.equal(backoff.tracked.accounts, 1001, 'at most one count per account: bounded by the accounts stored');
  });

  test('names with no account are capped: the oldest is forgotten first, the newest kept', () => {
    const backoff = new LoginBackoff(true, manualClock().now, 3);
    for (let i = 0; i < 6; i++) backoff.reserveForUnknownName('first');
    for (let i = 0; i < 6; i++) backoff.reserveForUnknownName('second');
    backoff.reserveForUnknownName('third');
    backoff.reserveForUnknownName('fourth'); // pushes out "first", the oldest
    assert.equal(backoff.tracked.unknownNames, 3);
    assert.throws(() => backoff.reserveForUnknownName('second'), tooMany(1));
    assert.doesNotThrow(() => backoff.reserveForUnknownName('first'), 'forgotten: a fresh count');
  });

  test('a name of 16 KiB is kept as its SHA-256: a bounded entry, whatever was sent', () => {
    const backoff = new LoginBackoff(true, manualClock().now);
    const long = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 6; i++) backoff.reserveForUnknownName(long);
    assert.throws(() => backoff.reserveForUnknownName(long), tooMany(1));
    assert.doesNotThrow(() => backoff.reserveForUnknownName(`${long}y`));
  });

  test('a count is forgotten a day after its last failure, not a moment before', () => {
    assert.equal(FORGET_AFTER_MS, 86_400_000);
    assert.equal(UNKNOWN_NAMES_REMEMBERED, 10_000);
    const clock = manualClock();
    const backoff = new LoginBackoff(true, clock.now);
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('alice');
    for (let i = 0; i < 6; i++) backoff.reserveForAccount('alice', 'laptop');
    clock.advance(FORGET_AFTER_MS - 1);
    backoff.reserveForAccount('bob'); // any failure tidies the idle counts of its kind
    assert.equal(backoff.tracked.accounts, 2, 'alice is kept until a full day has passed');
    clock.advance(1);
    backoff.reserveForAccount('carol');
    assert.equal(backoff.tracked.accounts, 2, 'alice forgotten; bob and carol kept');
    for (let i = 0; i < 6; i++) assert.doesNotThrow(() => backoff.reserveForAccount('alice'), 'a fresh count');
    backoff.reserveForAccount('dave', 'phone');
    assert.equal(backoff.tracked.devices, 1, 'the laptop, idle for a day, forgotten when another device fails');
  });
});
