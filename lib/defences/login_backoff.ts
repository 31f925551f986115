/**
 * A per-account wait after repeated failed logins (OWASP Authentication Cheat Sheet, "Protect against
 * automated attacks"), so guessing one account's password is slow even from many addresses. The wait
 * is short and lifts by itself: a hard lockout would let anyone lock a user out of their own account.
 *
 * Even a short wait, kept up by one guess every few minutes, would keep the owner out; so a browser
 * with a device cookie the account trusts (`device_tokens.ts`) is counted on its own, by its device
 * id, and only clients without one share the account's count (OWASP, "Slow down online guessing
 * attacks with device cookies").
 *
 * An attempt is counted when it starts, not when its argon2 check ends: checked the other way round,
 * a hundred guesses sent at once all pass the check before the first failure is recorded, and all of
 * them are tried. Counted first, at most `FREE_FAILURES + 1` checks run before the wait starts, however
 * many arrive together.
 *
 * Nothing an attacker sends can make an account forget its count (round 3, finding 1: 10,100 logins for
 * made-up names used to push a waiting account out of one shared LRU map). Counts are kept apart:
 *
 * - accounts, by user id: one entry per account with a failure in the last day, never evicted, so at
 *   most one per stored account (~150 bytes each); only a sign-up, itself limited per address and
 *   costing an argon2 hash, makes room for another;
 * - trusted devices, by device id: likewise, at most `MAX_DEVICES_PER_ACCOUNT` per account;
 * - names with no account, by the SHA-256 of their key: at most `UNKNOWN_NAMES_REMEMBERED` (10,000,
 *   ~1.5 MB), the oldest forgotten first. Forgetting one only lets someone guess again at a name that
 *   has no password to find. They get the same answers as an account, so the backoff tells nobody
 *   which names exist (sign-up's 409 does, as on any site with public usernames).
 *
 * A count is forgotten a day after its last failure (`FORGET_AFTER_MS`), far past the longest wait:
 * someone who waits a day for 6 more guesses guesses slower than one guess per 15-minute wait.
 */
import { createHash } from 'node:crypto';
import { TooManyRequestsError } from '../errors.ts';
import type { Clock } from '../support/clock.ts';

/** Failures allowed before the wait starts; then it doubles with each failure, up to the cap. */
const FREE_FAILURES = 5;
const MAX_WAIT_MS = 15 * 60_000;
/** A count is forgotten this long after its last failure. */
export const FORGET_AFTER_MS = 24 * 60 * 60_000;
/** Names with no account whose failures are remembered at once; the oldest is forgotten first. */
export const UNKNOWN_NAMES_REMEMBERED = 10_000;

const ACCOUNT_MESSAGE = 'Too many failed logins for this account: wait a moment and try again';
const DEVICE_MESSAGE = 'Too many failed logins from this device: wait a moment and try again';

function waitAfter(failures: number): number {
  return failures <= FREE_FAILURES ? 0 : Math.min(MAX_WAIT_MS, 1000 * 2 ** (failures - FREE_FAILURES - 1));
}

/**
 * One login attempt, reserved before its password is checked. It counts as a failure from the moment
 * it is reserved; `succeeded()` clears the count, `abandoned()` gives its place back when no password
 * was checked after all (the hasher shed the load, the disk failed).
 */
export interface LoginAttempt {
  succeeded(): void;
  abandoned(): void;
}

const UNLIMITED_ATTEMPT: LoginAttempt = Object.freeze({ succeeded() {}, abandoned() {} });

/**
 * Failure counts by key, in the order of their last failure (a `Map` keeps insertion order, and each
 * failure re-inserts its key), so the oldest are at the front: forgetting the idle ones stops at the
 * first that is not, and a full map forgets its oldest.
 */
class FailureCounts {
  readonly #entries = new Map<string, { count: number; at: number }>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Milliseconds `key` must still wait; 0 or less when it may try. */
  waitFor(key: string, now: number): number {
    const entry = this.#entries.get(key);
    return entry === undefined ? 0 : entry.at + waitAfter(entry.count) - now;
  }

  failed(key: string, now: number): void {
    const count = (this.#entries.get(key)?.count ?? 0) + 1;
    this.#entries.delete(key);
    this.#entries.set(key, { count, at: now });
    for (const [oldest, entry] of this.#entries) {
      if (now - entry.at < FORGET_AFTER_MS && this.#entries.size <= this.#max) break;
      this.#entries.delete(oldest);
    }
  }

  clear(key: string): void {
    this.#entries.delete(key);
  }

  /** Takes back one failure that turned out not to be one. */
  giveBack(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    if (entry.count <= 1) this.#entries.delete(key);
    else entry.count -= 1;
  }
}

export class LoginBackoff {
  readonly #enabled: boolean;
  readonly #clock: Clock;
  readonly #accounts = new FailureCounts(Infinity);
  readonly #devices = new FailureCounts(Infinity);
  readonly #unknownNames: FailureCounts;

  constructor(enabled: boolean, clock: Clock, unknownNames = UNKNOWN_NAMES_REMEMBERED) {
    this.#enabled = enabled;
    this.#clock = clock;
    this.#unknownNames = new FailureCounts(unknownNames);
  }

  /** How many counts are kept, of each kind. */
  get tracked(): { accounts: number; devices: number; unknownNames: number } {
    return { accounts: this.#accounts.size, devices: this.#devices.size, unknownNames: this.#unknownNames.size };
  }

  /**
   * Reserves an attempt at the password of the account `userId`, or throws 429 with `Retry-After`
   * while it must wait. `deviceId` is a device the account trusts (`DeviceTokens.trustedDevice`): that
   * device's own count applies.
   */
  reserveForAccount(userId: string, deviceId?: string): LoginAttempt {
    return deviceId === undefined ? this.#reserve(this.#accounts, userId, ACCOUNT_MESSAGE) : this.#reserve(this.#devices, deviceId, DEVICE_MESSAGE);
  }

  /** Reserves an attempt at a name no account has (its `usernameKey`), counted and answered like an account's. */
  reserveForUnknownName(key: string): LoginAttempt {
    // The name is up to a whole request body (16 KiB) of the attacker's choosing; its SHA-256 is 43
    // characters, so the cap on entries is also a cap on bytes.
    return this.#reserve(this.#unknownNames, createHash('sha256').update(key).digest('base64url'), ACCOUNT_MESSAGE);
  }

  #reserve(counts: FailureCounts, key: string, message: string): LoginAttempt {
    if (!this.#enabled) return UNLIMITED_ATTEMPT;
    const now = this.#clock();
    const wait = counts.waitFor(key, now);
    if (wait > 0) throw new TooManyRequestsError(message, wait);
    counts.failed(key, now);

    let settled = false;
    const settle = (action: () => void) => () => {
      if (settled) return;
      settled = true;
      action();
    };
    return { succeeded: settle(() => counts.clear(key)), abandoned: settle(() => counts.giveBack(key)) };
  }
}
