/**
 * Password hashing with argon2id, and a bound on how much hashing may wait in line.
 */
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify, type Algorithm } from '@node-rs/argon2';
import { BusyError } from '../errors.ts';

export interface Argon2Params {
  /** KiB of memory per hash: what makes a GPU or ASIC attack expensive. */
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/**
 * OWASP Password Storage Cheat Sheet's argon2id minimum: 19 MiB, 2 passes, 1 lane. Passed explicitly
 * so a change in the library's defaults can never weaken the hashes silently.
 */
export const OWASP_ARGON2ID: Argon2Params = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

const ARGON2ID = 2 satisfies Algorithm.Argon2id; // a const enum in the typings: spelled as its value

/** How long the queue of hashes waiting for a thread may grow, in seconds of work. */
const MAX_QUEUE_SECONDS = 3;
/** What one hash costs at OWASP_ARGON2ID on one core (about 45 ms measured on the reference machine). */
const HASH_SECONDS_ESTIMATE = 0.05;

/** libuv's thread pool: where argon2 runs, and also file I/O and WebCrypto (JWT signing). */
const THREAD_POOL_SIZE = threadPoolSize();

function threadPoolSize(): number {
  try {
    return Number(process.env.UV_THREADPOOL_SIZE) || 4; // libuv's default
  } catch {
    return 4; // Deno refuses to read a variable its --allow-env list does not name
  }
}

/**
 * Hashes that run at once: one per core, and always at least one pool thread left free.
 *
 * `@node-rs/argon2` runs each hash on a libuv pool thread, and the pool is first come, first served.
 * Handing it every hash at once (4 threads by default, on 2 cores here) buys no throughput, since the
 * cores are already full, but it makes every `fsync` of users.json and every JWT signature queue
 * behind all the hashes handed over before it: a signup waited for other people's hashes twice.
 * Queued hashes wait here in JS instead, so the pool always has a thread for the disk.
 */
const DEFAULT_CONCURRENCY = Math.max(1, Math.min(availableParallelism(), THREAD_POOL_SIZE - 1));

export interface PasswordHasherOptions {
  params?: Argon2Params;
  /** Hashes allowed in flight (running or queued) before new ones get 503; default: ~3 s of work for this machine's cores. */
  maxInFlight?: number;
  /** Hashes running at once; the rest wait their turn. Default: one per core, leaving a pool thread free. */
  concurrency?: number;
}

export class PasswordHasher {
  readonly params: Argon2Params;
  readonly maxInFlight: number;
  readonly concurrency: number;
  #inFlight = 0;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #dummyHash: string;

  /**
   * Makes the dummy hash `verifyNobody` checks against now, as part of starting the server. Made on
   * first use instead, it made the first login for an unknown name after each start take 86-230 ms
   * rather than ~31: a timing tell that the name does not exist.
   */
  static async create(options: PasswordHasherOptions = {}): Promise<PasswordHasher> {
    const params = options.params ?? OWASP_ARGON2ID;
    return new PasswordHasher(options, await hash(randomBytes(32), { ...params, algorithm: ARGON2ID }));
  }

  private constructor(options: PasswordHasherOptions, dummyHash: string) {
    this.#dummyHash = dummyHash;
    this.params = options.params ?? OWASP_ARGON2ID;
    this.maxInFlight =
      options.maxInFlight ?? Math.ceil((availableParallelism() * MAX_QUEUE_SECONDS) / HASH_SECONDS_ESTIMATE);
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  /** A PHC string such as `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`. */
  hash(password: string): Promise<string> {
    return this.#bounded(() => hash(password, { ...this.params, algorithm: ARGON2ID }));
  }

  verify(passwordHash: string, password: string): Promise<boolean> {
    return this.#bounded(() => verify(passwordHash, password));
  }

  /**
   * Runs a full verification against a hash nobody's password matches, so "no such user" takes as
   * long as "wrong password" and response timing does not reveal which usernames exist.
   */
  async verifyNobody(password: string): Promise<false> {
    await this.verify(this.#dummyHash, password);
    return false;
  }

  /** True when a stored hash is not argon2id or is cheaper than the current policy. */
  needsRehash(passwordHash: string): boolean {
    const stored = parseOptions(passwordHash);
    return (
      stored.algorithm !== ARGON2ID ||
      stored.memoryCost < this.params.memoryCost ||
      stored.timeCost < this.params.timeCost ||
      stored.parallelism < this.params.parallelism
    );
  }

  /**
   * Each hash holds a thread and 19 MiB for ~50 ms. Past a few seconds of queued work, waiting longer
   * helps nobody: answer 503 at once and keep latency and memory bounded (load shedding).
   */
  async #bounded<T>(work: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.maxInFlight) {
      throw new BusyError('Cannot check passwords right now: the server is busy, try again shortly', MAX_QUEUE_SECONDS);
    }
    this.#inFlight++;
    try {
      await this.#turn();
      try {
        return await work();
      } finally {
        this.#done();
      }
    } finally {
      this.#inFlight--;
    }
  }

  /** Resolves when this hash may run: at once while fewer than `concurrency` run, else in arrival order. */
  #turn(): Promise<void> | undefined {
    if (this.#running < this.concurrency) {
      this.#running++;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** A hash finished: its place goes straight to the longest-waiting one, if any. */
  #done(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#running--;
    else next();
  }
}
