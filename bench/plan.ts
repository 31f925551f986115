/**
 * What `npm run bench` runs, in figures: `run.ts` follows them, and test/docs/benchmark_plan.test.ts
 * checks that docs/benchmarks.md describes the same. (BENCH_QUICK=1 shortens every phase to a quarter
 * and runs one round.)
 */

/** Each runtime the project runs on; the yardsticks run on each too. */
export const RUNTIMES = ['node', 'deno'] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const RUNTIME_NAMES: Record<Runtime, string> = { node: 'Node', deno: 'Deno' };

/** Keep-alive connections for the fast routes (/order, /refresh). */
export const FAST_CONNECTIONS = 16;

/** Section 1: every server in turn, in each round, for so many seconds. */
export const ORDER = { rounds: 3, seconds: 5, warmUpSeconds: 2 } as const;

/** Section 2: raw argon2 and every server in turn, in each round. */
export const SIGNUP = { rounds: 3, seconds: 6, warmUpSeconds: 2 } as const;

/** Section 3: users and sessions stored. */
export const STORE_SIZES = [0, 10_000, 100_000] as const;

/** The targets of the issue "performance": reported against each figure, never asserted. */
export const TARGETS = {
  /** /order requests per second, at least this share of the bare server's (Node). */
  orderRps: 0.85,
  /** /order p99, at most this multiple of the bare server's (Node). */
  orderP99: 1.5,
  /** Sign-ups per second, at least this share of raw argon2id hashes per second (fsyncs included). */
  signup: 0.95,
  /** Start-up, spawn to "Listening on", with nothing stored and with the largest store, ms. */
  startEmptyMs: 300,
  startLargestMs: 1000,
  /** Resident memory settled with the largest store, MB (10^6 bytes). */
  rssLargestMb: 150,
} as const;
