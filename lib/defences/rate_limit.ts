/**
 * Limits on guessing: a token bucket per client address, and a growing wait per account after failed
 * logins (OWASP Authentication Cheat Sheet, "Protect against automated attacks"). The same token
 * bucket limits refreshes, per session and per address.
 *
 * Both keep at most `maxKeys` entries, dropping the least recently used, so an attacker who rotates
 * through addresses or usernames cannot grow the server's memory without bound.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../support/clock.ts';
import type { Guard, Request } from '../http/listener.ts';
import { TooManyRequestsError } from '../errors.ts';
import { LruMap } from '../support/lru_map.ts';

const DEFAULT_MAX_KEYS = 10_000;

/**
 * Refreshes a session and an address may make at once, each refilled at one a second. A browser
 * refreshes a session once per access token (15 min), or a few times at once when tabs wake together;
 * 10 a session and 60 an address (a household or an office behind one NAT) are never reached by that,
 * and still cap a script that refreshes in a loop (each rotation is a write to disk).
 */
export const REFRESH_BURST = { perSession: 10, perAddress: 60 } as const;
export const REFRESHES_PER_MINUTE = 60;

export interface RateLimiterOptions {
  /** Attempts a key may make at once, before the refill matters; default `perMinute`. */
  burst?: number;
  /** The 429's message; by default it speaks of attempts from the client's address. */
  message?: string;
  maxKeys?: number;
}

/**
 * A token bucket per key: `perMinute` attempts, refilled continuously, and up to `burst` at once.
 * `perMinute` 0 turns the limit off.
 */
export class RateLimiter {
  readonly #perMinute: number;
  readonly #burst: number;
  readonly #message: string;
  readonly #clock: Clock;
  readonly #buckets: LruMap<string, { tokens: number; at: number }>;

  constructor(perMinute: number, clock: Clock, options: RateLimiterOptions = {}) {
    this.#perMinute = perMinute;
    this.#burst = options.burst ?? perMinute;
    this.#message = options.message ?? 'Too many attempts from your address: wait a moment and try again';
    this.#clock = clock;
    this.#buckets = new LruMap(options.maxKeys ?? DEFAULT_MAX_KEYS);
  }

  get trackedKeys(): number {
    return this.#buckets.size;
  }

  /** Takes one attempt for `key`, or throws 429 with `Retry-After`. */
  take(key: string): void {
    if (this.#perMinute === 0) return;
    const now = this.#clock();
    const msPerToken = 60_000 / this.#perMinute;
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) / msPerToken);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.#buckets.set(key, bucket);
      throw new TooManyRequestsError(this.#message, (1 - bucket.tokens) * msPerToken);
    }
    bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
  }
}

/**
 * The guard: one attempt from `limiter` for each request to `routes` (`POST /login`), under the key
 * `keyOf` gives; a request it gives no key is not counted.
 */
export function limitRequests(limiter: RateLimiter, routes: readonly string[], keyOf: (request: Request) => string | undefined): Guard {
  const limited = new Set(routes);
  return (request) => {
    if (!limited.has(`${request.method} ${request.path}`)) return;
    const key = keyOf(request);
    if (key !== undefined) limiter.take(key);
  };
}

/** The client's address: the key of the per-address limits. Forwarding headers are never trusted. */
export function clientAddress(request: Request): string {
  return request.req.socket.remoteAddress ?? 'unknown';
}

/** Failures allowed before the wait starts; then it doubles with each failure, up to the cap. */
const FREE_FAILURES = 5;
const MAX_WAIT_MS = 15 * 60_000;

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
 * A per-account wait after repeated failed logins, so guessing one account's password is slow even
 * from many addresses. The wait is short and lifts by itself: a hard lockout would let anyone lock a
 * user out of their own account.
 *
 * Even a short wait, kept up by one guess every few minutes, would keep the owner out; so a browser
 * with a valid device cookie for the account (`device_tokens.ts`) is counted on its own, by its device
 * id, and only clients without one share the account's count (OWASP, "Slow down online guessing
 * attacks with device cookies").
 *
 * An attempt is counted when it starts, not when its argon2 check ends: checked the other way round,
 * a hundred guesses sent at once all pass the check before the first failure is recorded, and all of
 * them are tried. Counted first, at most `FREE_FAILURES + 1` checks run before the wait starts, however
 * many arrive together.
 */
export class LoginBackoff {
  readonly #enabled: boolean;
  readonly #clock: Clock;
  /** Failures of clients without a device cookie, by account; and of trusted devices, by device id. */
  readonly #failures: LruMap<string, { count: number; at: number }>;
  readonly #deviceFailures: LruMap<string, { count: number; at: number }>;

  constructor(enabled: boolean, clock: Clock, maxKeys = DEFAULT_MAX_KEYS) {
    this.#enabled = enabled;
    this.#clock = clock;
    this.#failures = new LruMap(maxKeys);
    this.#deviceFailures = new LruMap(maxKeys);
  }

  /** How many accounts are remembered (at most `maxKeys`). */
  get trackedKeys(): number {
    return this.#failures.size;
  }

  /**
   * Reserves an attempt at `account`'s password, or throws 429 with `Retry-After` while it must wait.
   * `device` is the id from a device cookie verified for this account: that device's own count applies.
   */
  reserve(account: string, device?: string): LoginAttempt {
    if (!this.#enabled) return UNLIMITED_ATTEMPT;
    const [failures, key, message] =
      device === undefined
        ? [this.#failures, entryKey(account), 'Too many failed logins for this account: wait a moment and try again']
        : [this.#deviceFailures, device, 'Too many failed logins from this device: wait a moment and try again'];
    const now = this.#clock();
    const entry = failures.get(key);
    const wait = entry === undefined ? 0 : entry.at + waitAfter(entry.count) - now;
    if (wait > 0) throw new TooManyRequestsError(message, wait);
    failures.set(key, { count: (entry?.count ?? 0) + 1, at: now });

    let settled = false;
    return {
      succeeded: () => {
        if (settled) return;
        settled = true;
        failures.delete(key);
      },
      abandoned: () => {
        if (settled) return;
        settled = true;
        const current = failures.get(key);
        if (current === undefined) return;
        if (current.count <= 1) failures.delete(key);
        else failures.set(key, { ...current, count: current.count - 1 });
      },
    };
  }
}

/**
 * The account name as typed is up to a whole request body (16 KiB) of the attacker's choosing; its
 * SHA-256 is 43 characters. Keyed by the hash, the cap on entries is also a cap on bytes.
 */
function entryKey(account: string): string {
  return createHash('sha256').update(account).digest('base64url');
}
