/**
 * Limits on guessing: a token bucket per client address (OWASP Authentication Cheat Sheet, "Protect
 * against automated attacks"); the per-account wait is `login_backoff.ts`. The same token bucket
 * limits refreshes, per session and per address.
 *
 * Memory: each limiter keeps at most `maxKeys` buckets (10,000 by default), dropping the least
 * recently used, so an attacker who rotates through addresses or sessions cannot grow the server's
 * memory: a bucket is a key of at most 45 characters (an IPv6 address, a session id) and two numbers,
 * about 200 bytes, so 2 MB a limiter at most. What the cap gives up: a client with more than 10,000
 * addresses can push its own buckets out, and start them afresh; it has that many allowances anyway.
 */
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
