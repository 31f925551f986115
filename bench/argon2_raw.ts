/**
 * The physical limit for signup and login: raw `@node-rs/argon2` throughput, `CONCURRENCY` operations
 * in flight for `SECONDS` seconds, at the project's own parameters (OWASP_ARGON2ID), in a process of its
 * own with the same thread pool the server gets. Prints one JSON line:
 * `{ ops, seconds, opsPerSec, p50, p99, cpuMsPerOp }`.
 *
 * MODE=hash hashes a fresh password each time; MODE=verify checks a password against one stored hash.
 */
import { hash, verify } from '@node-rs/argon2';
import { OWASP_ARGON2ID } from '../lib/accounts/passwords.ts';

const mode = process.env.MODE === 'verify' ? 'verify' : 'hash';
const concurrency = Number(process.env.CONCURRENCY ?? 8);
const seconds = Number(process.env.SECONDS ?? 5);
const options = { ...OWASP_ARGON2ID, algorithm: 2 as const }; // 2 = argon2id
const password = 'correct horse battery staple';
const stored = await hash(password, options);

const latencies: number[] = [];
let counter = 0;
const operation = (): Promise<unknown> =>
  mode === 'hash' ? hash(`${password}-${counter++}`, options) : verify(stored, password);

async function worker(until: number): Promise<void> {
  while (performance.now() < until) {
    const started = performance.now();
    await operation();
    latencies.push(performance.now() - started);
  }
}

// A short warm-up fills the thread pool and the allocator before anything is counted.
await Promise.all(Array.from({ length: concurrency }, () => worker(performance.now() + 500)));
latencies.length = 0;
const cpuBefore = process.cpuUsage();
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, () => worker(started + seconds * 1000)));
const elapsed = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuMsPerOp = (cpu.user + cpu.system) / 1000 / latencies.length;

latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
console.log(JSON.stringify({ ops: latencies.length, seconds: elapsed, opsPerSec: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), cpuMsPerOp }));
