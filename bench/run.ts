/**
 * `npm run bench`: the project against the physical limits of this machine and against a framework
 * doing the same job, side by side in one run, on Node and on Deno (the figures, plan.ts).
 *
 *   1. GET /order on the project, on the Fastify server (fastify_server.ts) and on the bare node:https
 *      server sending the project's very answer (bare_server.ts), each on both runtimes, taken in turn
 *      in every round; medians of requests per second, p99 latency and server CPU per request
 *   2. POST /signup on the project and on Fastify, on both runtimes, in the same rounds as raw argon2id
 *      hashing at the same parameters and concurrency
 *   3. signup and refresh with 0, 10,000 and 100,000 users and sessions stored: latency, throughput,
 *      bytes written per write, startup time and memory (the storage chart)
 *   4. POST /login vs raw argon2id verification; GET /session/refresh rotations per second
 *
 * The project runs as `npm start` runs it (dist/, built first) and as `npm run start:deno` does. Every
 * server runs in a child process of its own; this process only generates load. Targets are reported,
 * never asserted: the exit code is non-zero only when the benchmark could not run. A full run puts a
 * dated entry at the top of bench/RESULTS.md, with its charts in bench/charts/.
 *
 * BENCH_QUICK=1 shortens every phase and BENCH_ONLY=2,3 runs only some sections (for working on the
 * harness itself; neither writes RESULTS.md). BENCH_PROFILE=1 writes a CPU profile of each Node server
 * process into bench/profiles/ (open it in Chrome DevTools or speedscope).
 */
import { hash } from '@node-rs/argon2';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSigned } from '../lib/startup/certificate.ts';
import { OWASP_ARGON2ID } from '../lib/accounts/passwords.ts';
import { DENO } from '../scripts/deno_permissions.ts';
import { httpsRequest } from '../scripts/support/https_client.ts';
import { PROJECT_ROOT } from '../scripts/support/project_root.ts';
import { startContenders, type Contender } from './contenders.ts';
import { lastRecordedRatio, prependEntry } from './history.ts';
import { load, percentile, type LoadResult } from './load.ts';
import { makeSessions, makeUsers, seedName } from './make_users.ts';
import { storageChart } from './chart.ts';
import { orderChart } from './order_chart.ts';
import { FAST_CONNECTIONS, ORDER, RUNTIMES, RUNTIME_NAMES, SIGNUP, STORE_SIZES, TARGETS } from './plan.ts';
import { JsonSessionStore } from '../lib/storage/session_store.ts';
import { buildServer, cookieValue, runRawArgon2, startProject, type ProjectServer, type TlsFiles } from './processes.ts';
import { figure, formatReport, type Row } from './report.ts';

const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_ONLY=1,3 runs only those sections (RESULTS.md is then left alone). */
const ONLY = new Set((process.env.BENCH_ONLY ?? '1,2,3,4').split(',').map(Number));
const PARTIAL = ONLY.size < 4;
const seconds = (full: number) => (QUICK ? Math.max(1, Math.round(full / 4)) : full);
const rounds = (full: number) => (QUICK ? 1 : full);
const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

/**
 * Requests in flight for the argon2 routes: four times the libuv thread pool (where argon2 runs), as
 * under a real burst of sign-ups. Each signup spends ~25 ms hashing but can then spend 100 ms or more
 * waiting for two fsynced commits (users.json, then sessions-v3.json); with only twice the pool (8), the
 * hashing slots sat idle waiting for requests still in their commits, and the run measured the disk's
 * latency instead of throughput. Raw argon2 runs at the same count.
 */
const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const ARGON2_CONCURRENCY = 4 * POOL_SIZE;
const PASSWORD = 'correct horse battery staple';
const RESULTS_FILE = path.join(PROJECT_ROOT, 'bench', 'RESULTS.md');

const rows: Row[] = [];
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Asserts a run measured what it meant to: only the expected status, no errors. */
function checkStatuses(what: string, result: LoadResult, expected: number): void {
  const unexpected = Object.entries(result.statuses).filter(([code]) => code !== String(expected));
  if (unexpected.length > 0 || result.total === 0) {
    throw new Error(`${what}: expected only ${expected} responses, got ${JSON.stringify(result.statuses)}`);
  }
}

function formBody(username: string, password = PASSWORD): string {
  return new URLSearchParams({ username, password }).toString();
}
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

type Measured = LoadResult & { cpuUsPerRequest: number; cpuShare: number };

/** Runs a load while measuring the server's own CPU time, so cost per request can be compared too. */
async function measured(server: { cpuSeconds(): number }, run: () => Promise<LoadResult>): Promise<Measured> {
  const cpuBefore = server.cpuSeconds();
  const started = performance.now();
  const result = await run();
  const cpu = server.cpuSeconds() - cpuBefore;
  return { ...result, cpuUsPerRequest: (cpu * 1e6) / result.total, cpuShare: cpu / ((performance.now() - started) / 1000) };
}

/**
 * The order a round takes its runs in: each round starts one further along, so no run always follows
 * the same one (the one after a heavy run meets the kernel's and the other processes' leftovers).
 */
function inTurn<T>(items: readonly T[], round: number): T[] {
  const shift = (round - 1) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Runs every entry once per round, in turn, and returns each one's results. */
async function interleaved<T, R>(items: readonly T[], count: number, run: (item: T, round: number) => Promise<R>): Promise<Map<T, R[]>> {
  const results = new Map<T, R[]>(items.map((item) => [item, []]));
  for (let round = 1; round <= count; round++) {
    for (const item of inTurn(items, round)) results.get(item)!.push(await run(item, round));
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------
// 1. /order against Fastify and the bare server, on each runtime

/** What the /order chart shows of one server. */
interface OrderFigures {
  rps: number;
  p99: number;
  p50: number;
  cpuUs: number;
}

async function benchOrder(contenders: readonly Contender[], history: string | undefined): Promise<Map<Contender, OrderFigures>> {
  const count = rounds(ORDER.rounds);
  log(`1. GET /order: the project, Fastify and the bare server on ${RUNTIMES.map((r) => RUNTIME_NAMES[r]).join(' and ')} (${plural(count, 'round')} × ${seconds(ORDER.seconds)} s, ${FAST_CONNECTIONS} keep-alive connections each)`);
  const orderLoad = (contender: Contender, s: number) => load({ url: contender.url, path: '/order', headers: { Cookie: contender.cookie }, connections: FAST_CONNECTIONS, seconds: s });
  // Warm each up (JIT, TLS session setup) before anything counts.
  for (const contender of contenders) await orderLoad(contender, seconds(ORDER.warmUpSeconds));
  const results = await interleaved(contenders, count, async (contender, round) => {
    const result = await measured(contender, () => orderLoad(contender, seconds(ORDER.seconds)));
    checkStatuses(`GET /order on ${contender.label}`, result, 200);
    log(`   round ${round}: ${contender.label} ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(2)} p99 ${result.p99.toFixed(2)} ms, ${result.cpuUsPerRequest.toFixed(0)} µs CPU each (busy ${(result.cpuShare * 100).toFixed(0)}% of a core)`);
    return result;
  });
  const figures = new Map(
    [...results].map(([contender, runs]) => [
      contender,
      { rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), p50: median(runs.map((r) => r.p50)), cpuUs: median(runs.map((r) => r.cpuUsPerRequest)) },
    ]),
  );

  const of = (runtime: string, kind: Contender['kind']) => figures.get(contenders.find((c) => c.runtime === runtime && c.kind === kind)!)!;
  for (const runtime of RUNTIMES) {
    const [project, fastify, bare] = [of(runtime, 'project'), of(runtime, 'fastify'), of(runtime, 'bare')];
    const section = `1. /order, ${RUNTIME_NAMES[runtime]}`;
    const targeted = runtime === 'node'; // the targets are Node's; Deno's is against Node, below
    rows.push(
      {
        section,
        measure: `req/s against the bare server (median of ${plural(count, 'round')})`,
        project: project.rps,
        against: bare.rps,
        ratio: project.rps / bare.rps,
        ...(targeted && { target: `≥ ${TARGETS.orderRps}`, met: project.rps / bare.rps >= TARGETS.orderRps }),
      },
      {
        section,
        measure: 'latency p99, ms, against the bare server',
        project: project.p99,
        against: bare.p99,
        ratio: project.p99 / bare.p99,
        ...(targeted && { target: `≤ ${TARGETS.orderP99}`, met: project.p99 / bare.p99 <= TARGETS.orderP99 }),
        note: `p50 ${project.p50.toFixed(2)} against ${bare.p50.toFixed(2)} ms`,
      },
      { section, measure: 'req/s against Fastify', project: project.rps, against: fastify.rps, ratio: project.rps / fastify.rps },
      { section, measure: 'latency p99, ms, against Fastify', project: project.p99, against: fastify.p99, ratio: project.p99 / fastify.p99, note: `p50 ${project.p50.toFixed(2)} against ${fastify.p50.toFixed(2)} ms` },
      {
        section,
        measure: 'server CPU per request, µs: the project against the bare server (Fastify in the note)',
        project: project.cpuUs,
        against: bare.cpuUs,
        ratio: bare.cpuUs / project.cpuUs,
        note: `Fastify ${fastify.cpuUs.toFixed(0)} µs; independent of the load generator, which shares the cores`,
      },
    );
  }
  const deno = of('deno', 'project').rps / of('node', 'project').rps;
  const measure = 'req/s of the project on Deno against on Node';
  const before = lastRecordedRatio(history, measure);
  rows.push({
    section: '1. /order, Deno',
    measure,
    project: of('deno', 'project').rps,
    against: of('node', 'project').rps,
    ratio: deno,
    target: before === undefined ? 'not below the last run' : `≥ ${before.toFixed(2)}, the last run`,
    ...(before !== undefined && { met: deno >= before }),
  });
  return figures;
}

// ---------------------------------------------------------------------------------------------------
// 2 and 3. Signup vs argon2, and signup as the store grows

let uniqueCounter = 0;
/** A username no run has used: `b<time><counter>`, within the 32-character limit. */
const uniqueName = () => `b${Date.now().toString(36)}${(uniqueCounter++).toString(36)}`;

function signupLoad(server: { url: string }, s: number): Promise<LoadResult> {
  return load({ url: server.url, method: 'POST', path: '/signup', headers: FORM, body: () => formBody(uniqueName()), connections: ARGON2_CONCURRENCY, seconds: s });
}

/** One participant of section 2: a server under sign-up load, or raw argon2 hashing. */
interface SignupRun {
  label: string;
  run(s: number): Promise<{ perSecond: number; cpuMs: number }>;
}

async function benchSignup(contenders: readonly Contender[]): Promise<void> {
  const count = rounds(SIGNUP.rounds);
  log(`2. POST /signup: the project and Fastify on each runtime, and raw argon2id hashing (${ARGON2_CONCURRENCY} in flight, thread pool ${POOL_SIZE}, ${plural(count, 'round')} × ${seconds(SIGNUP.seconds)} s)`);
  const servers = contenders.filter((contender) => contender.kind !== 'bare');
  for (const server of servers) await signupLoad(server, seconds(SIGNUP.warmUpSeconds));
  const raw: SignupRun = {
    label: 'raw argon2id',
    run: async (s) => {
      const result = await runRawArgon2('hash', ARGON2_CONCURRENCY, s);
      return { perSecond: result.opsPerSec, cpuMs: result.cpuMsPerOp };
    },
  };
  const signups = servers.map((server): SignupRun & { contender: Contender } => ({
    label: server.label,
    contender: server,
    run: async (s) => {
      const result = await measured(server, () => signupLoad(server, s));
      checkStatuses(`POST /signup on ${server.label}`, result, 303);
      return { perSecond: result.rps, cpuMs: result.cpuUsPerRequest / 1000 };
    },
  }));
  const results = await interleaved<SignupRun, { perSecond: number; cpuMs: number }>([raw, ...signups], count, async (entry, round) => {
    const result = await entry.run(seconds(SIGNUP.seconds));
    log(`   round ${round}: ${entry.label} ${result.perSecond.toFixed(1)}/s, ${result.cpuMs.toFixed(1)} CPU ms each (all threads)`);
    return result;
  });
  const perSecond = (entry: SignupRun) => median(results.get(entry)!.map((r) => r.perSecond));
  const cpuMs = (entry: SignupRun) => median(results.get(entry)!.map((r) => r.cpuMs));
  for (const runtime of RUNTIMES) {
    const section = `2. signup, ${RUNTIME_NAMES[runtime]}`;
    const project = signups.find((entry) => entry.contender.runtime === runtime && entry.contender.kind === 'project')!;
    const fastify = signups.find((entry) => entry.contender.runtime === runtime && entry.contender.kind === 'fastify')!;
    const ratio = perSecond(project) / perSecond(raw);
    rows.push(
      {
        section,
        measure: `signups/s against raw argon2id hashes/s (${ARGON2_CONCURRENCY} in flight)`,
        project: perSecond(project),
        against: perSecond(raw),
        ratio,
        target: `≥ ${TARGETS.signup}`,
        met: ratio >= TARGETS.signup,
        note: 'two fsynced journal appends per signup; raw argon2 hands all 16 to the thread pool, the server one per core',
      },
      { section, measure: 'signups/s against Fastify', project: perSecond(project), against: perSecond(fastify), ratio: perSecond(project) / perSecond(fastify), note: `Fastify: ${(perSecond(fastify) / perSecond(raw)).toFixed(2)}× raw argon2, its users in a Map (no disk)` },
      { section, measure: 'CPU ms per signup against per raw hash (all threads)', project: cpuMs(project), against: cpuMs(raw), ratio: cpuMs(raw) / cpuMs(project), note: `Fastify ${cpuMs(fastify).toFixed(1)} ms` },
    );
  }
}

/** What one store size measured, for the rows and the chart. */
interface StorePoint {
  size: number;
  signupP99: number;
  signupBytes: number;
  refreshRps: number;
  refreshBytes: number;
  storeCpuUs: number;
}

/**
 * Bytes the process has caused to be written to the storage layer (`write_bytes` in /proc/<pid>/io):
 * counted as pages are dirtied, so an append and its fsync cost at least a 4 KiB page, whatever their
 * size. Includes the request log, the same at every size.
 */
function bytesWrittenBy(pid: number): number {
  return Number(/^write_bytes: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
}

async function benchStoreScaling(root: string, tls: TlsFiles, secret: string, storedHash: string): Promise<StorePoint[]> {
  log('3. signup and refresh as the store grows (users and sessions)');
  const ca = await readFile(tls.certFile, 'utf8');
  const points: StorePoint[] = [];
  for (const size of STORE_SIZES) {
    const dataDir = path.join(root, `store-${size}`, 'data');
    if (size > 0) await makeSessions(dataDir, await makeUsers(dataDir, size, storedHash));
    const project = await startProject(dataDir, tls, secret, { name: `store-${size}` });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // settled: the first garbage collections are over
    const atStart = project.memory();
    let written = bytesWrittenBy(project.pid);
    const signup = await signupLoad(project, seconds(8));
    checkStatuses(`POST /signup with ${size} users`, signup, 303);
    const signupBytes = (bytesWrittenBy(project.pid) - written) / signup.total;

    // Sessions to rotate: users signed up now, one keep-alive connection each.
    const tokens: string[] = [];
    for (let i = 0; i < FAST_CONNECTIONS; i++) {
      const response = await httpsRequest(`${project.url}/signup`, { ca, method: 'POST', headers: FORM, body: formBody(uniqueName()) });
      const token = cookieValue(response.setCookies, '__Secure-refresh');
      if (token === undefined) throw new Error(`signup for the refresh run failed: ${response.status}`);
      tokens.push(token);
    }
    written = bytesWrittenBy(project.pid);
    const refresh = await measured(project, () => rotateLoad(project.url, ca, tokens, seconds(6)));
    checkStatuses(`GET /session/refresh with ${size} sessions`, refresh, 303);
    const refreshBytes = (bytesWrittenBy(project.pid) - written) / refresh.total;
    const { peakMb } = project.memory();
    await project.stop();
    const storeAlone = await rotateInProcess(dataDir, secret, seconds(4));

    log(
      `   ${size} users and sessions: start ${project.startupMs.toFixed(0)} ms, RSS ${atStart.rssMb.toFixed(0)} MiB, ` +
        `signup ${signup.rps.toFixed(1)}/s p99 ${figure(signup.p99)} ms ${(signupBytes / 1024).toFixed(1)} KiB each, ` +
        `refresh ${refresh.rps.toFixed(0)}/s p99 ${refresh.p99} ms ${(refreshBytes / 1024).toFixed(1)} KiB and ${refresh.cpuUsPerRequest.toFixed(0)} µs CPU each`,
    );
    const first = points[0];
    points.push({ size, signupP99: signup.p99, signupBytes, refreshRps: refresh.rps, refreshBytes, storeCpuUs: storeAlone.cpuUs });
    const label = `${size.toLocaleString('en')} users and sessions`;
    const largest = size === STORE_SIZES.at(-1);
    rows.push(
      {
        section: '3. store',
        measure: `${label}: signup p50 / p99 ms, signups/s`,
        project: `${figure(signup.p50)} / ${figure(signup.p99)}, ${signup.rps.toFixed(1)}/s`,
        ...(first && { ratio: signup.p99 / first.signupP99 }),
        ...(largest && first && { target: 'p99 ≤ 1.2× at 0', met: signup.p99 / first.signupP99 <= 1.2 }),
      },
      {
        section: '3. store',
        measure: `${label}: startup ms (CPU ms; reading the stores), RSS MiB settled (peak)`,
        project: `${project.startupMs.toFixed(0)} (${project.startupCpuMs.toFixed(0)}; ${project.storesReadMs}), ${atStart.rssMb.toFixed(0)} (${peakMb.toFixed(0)})`,
        ...(size === 0 && { target: `≤ ${TARGETS.startEmptyMs} ms`, met: project.startupMs <= TARGETS.startEmptyMs, note: 'the server alone: Node, the bundle, TLS' }),
        ...(largest && {
          target: `≤ ${TARGETS.startLargestMs} ms, ≤ ${TARGETS.rssLargestMb} MB`,
          met: project.startupMs <= TARGETS.startLargestMs && atStart.rssMb * 2 ** 20 <= TARGETS.rssLargestMb * 1e6,
        }),
      },
      {
        section: '3. store',
        measure: `${label}: bytes written per signup / per rotation`,
        project: `${(signupBytes / 1024).toFixed(1)} KiB / ${(refreshBytes / 1024).toFixed(1)} KiB`,
        ...(first && {
          ratio: Math.max(signupBytes / first.signupBytes, refreshBytes / first.refreshBytes),
          target: '≤ 2× at 0',
          met: signupBytes / first.signupBytes <= 2 && refreshBytes / first.refreshBytes <= 2,
        }),
        note: 'write_bytes of the server process: pages dirtied (4 KiB per fsynced append, shared by a batch), the request log included',
      },
      {
        section: '3. store',
        measure: `${label}: rotations/s, p50 / p99 ms, server CPU µs per rotation (${FAST_CONNECTIONS} sessions)`,
        project: `${refresh.rps.toFixed(0)}/s, ${refresh.p50} / ${refresh.p99}, ${refresh.cpuUsPerRequest.toFixed(0)} µs`,
        ...(first && { ratio: refresh.rps / first.refreshRps }),
        ...(largest && first && {
          target: '≥ 0.8× the rate at 0, ≤ 150 µs',
          met: refresh.rps / first.refreshRps >= 0.8 && refresh.cpuUsPerRequest <= 150,
        }),
        note: 'the whole request: TLS, HTTP, a signed JWT, the cookies, the store and its fsync',
      },
      {
        section: '3. store',
        measure: `${label}: the session store alone, in process: rotations/s, CPU µs per rotation (${FAST_CONNECTIONS} sessions)`,
        project: `${storeAlone.rps.toFixed(0)}/s, ${storeAlone.cpuUs.toFixed(0)} µs`,
        ...(first && { ratio: storeAlone.cpuUs / first.storeCpuUs }),
        note: `the same rotations without HTTPS and JWTs, the journal's write and fsync included: ${storeAlone.userUs.toFixed(0)} µs of it in user space, the rest in the kernel`,
      },
    );
  }
  return points;
}

/** The chart: this run's figures against those recorded before the journal (RESULTS.md of 2026-11-27). */
function chartOf(points: readonly StorePoint[]): string {
  const after = (value: (point: StorePoint) => number) => points.map((point) => [point.size, value(point)] as const);
  return storageChart([
    {
      title: 'bytes written per write',
      log: true,
      series: [
        { label: 'signup, before (rewrite users.json)', before: true, colour: '#c0392b', points: [[30, 25_000], [2_530, 1_200_000]] },
        { label: 'refresh, before (rewrite sessions.json)', before: true, colour: '#2471a3', points: [[30, 4_200], [2_530, 175_000]] },
        { label: 'signup, after (journal)', before: false, colour: '#c0392b', points: after((point) => point.signupBytes) },
        { label: 'refresh, after (journal)', before: false, colour: '#2471a3', points: after((point) => point.refreshBytes) },
      ],
    },
    {
      title: 'signup latency p99, ms',
      log: false,
      series: [
        { label: 'signup, before (rewrite users.json)', before: true, colour: '#c0392b', points: [[0, 364], [10_000, 424], [100_000, 579]] },
        { label: 'signup, after (journal)', before: false, colour: '#c0392b', points: after((point) => point.signupP99) },
      ],
    },
    {
      title: 'refreshes per second',
      log: false,
      series: [
        { label: 'refresh, before (rewrite sessions.json)', before: true, colour: '#2471a3', points: [[30, 486], [100_000, 23]] },
        { label: 'refresh, after (journal)', before: false, colour: '#2471a3', points: after((point) => point.refreshRps) },
      ],
    },
  ]);
}

/**
 * The session store on its own, in this process, on the data folder a server just left: rotations as
 * fast as 16 sessions can go, and the CPU each cost this process (its fsyncs in the thread pool
 * included). What the store adds to a refresh, apart from HTTPS and the JWT.
 */
async function rotateInProcess(dataDir: string, secret: string, s: number): Promise<{ rps: number; cpuUs: number; userUs: number }> {
  const store = await JsonSessionStore.open(dataDir, { secret: Buffer.from(secret), clock: Date.now });
  const tokens = await Promise.all(Array.from({ length: FAST_CONNECTIONS }, async (_, i) => (await store.start(`bench-${i}`)).refreshToken));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let rotations = 0;
  await Promise.all(
    tokens.map(async (first) => {
      let token = first;
      while (performance.now() - started < s * 1000) {
        token = (await store.rotate(token)).refreshToken;
        rotations++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const elapsed = (performance.now() - started) / 1000;
  await store.close();
  return { rps: rotations / elapsed, cpuUs: (cpu.user + cpu.system) / rotations, userUs: cpu.user / rotations };
}

// ---------------------------------------------------------------------------------------------------
// 4. Login vs argon2 verify, and refresh rotations

async function benchLoginAndRefresh(root: string, tls: TlsFiles, secret: string, storedHash: string): Promise<void> {
  log('4. login vs raw argon2id verify; /session/refresh rotations');
  const dataDir = path.join(root, 'login', 'data');
  const seeded = 1_000;
  await makeUsers(dataDir, seeded, storedHash);
  const project = await startProject(dataDir, tls, secret, { name: 'login' });
  let next = 0;
  const loginLoad = (s: number) =>
    load({ url: project.url, method: 'POST', path: '/login', headers: FORM, body: () => formBody(seedName(next++ % seeded)), connections: ARGON2_CONCURRENCY, seconds: s });
  await loginLoad(seconds(2));
  const logins: number[] = [];
  const raws: number[] = [];
  for (let round = 1; round <= 2; round++) {
    const raw = await runRawArgon2('verify', ARGON2_CONCURRENCY, seconds(5));
    const login = await loginLoad(seconds(5));
    checkStatuses('POST /login', login, 303);
    log(`   round ${round}: login ${login.rps.toFixed(1)}/s, raw verify ${raw.opsPerSec.toFixed(1)}/s`);
    logins.push(login.rps);
    raws.push(raw.opsPerSec);
  }
  rows.push({ section: '4. login', measure: `logins/s vs argon2id verifications/s (${ARGON2_CONCURRENCY} in flight)`, project: median(logins), against: median(raws), ratio: median(logins) / median(raws) });

  const ca = await readFile(tls.certFile, 'utf8');
  const tokens: string[] = [];
  for (let i = 0; i < FAST_CONNECTIONS; i++) {
    const response = await httpsRequest(`${project.url}/login`, { ca, method: 'POST', headers: FORM, body: formBody(seedName(i)) });
    const token = cookieValue(response.setCookies, '__Secure-refresh');
    if (token === undefined) throw new Error(`login for the refresh run failed: ${response.status}`);
    tokens.push(token);
  }
  const refresh = await measured(project, () => rotateLoad(project.url, ca, tokens, seconds(6)));
  checkStatuses('GET /session/refresh', refresh, 303);
  await project.stop();
  const sessionsKb = (await stat(path.join(dataDir, 'sessions-v3.json'))).size / 1024;
  log(`   refresh ${refresh.rps.toFixed(0)}/s p50 ${refresh.p50} p99 ${refresh.p99} ms`);
  rows.push({
    section: '4. refresh',
    measure: `rotations/s, p50 / p99 ms (${FAST_CONNECTIONS} sessions)`,
    project: `${refresh.rps.toFixed(0)}/s, ${refresh.p50} / ${refresh.p99}`,
    note: `sessions-v3.json ${sessionsKb.toFixed(0)} KiB at the end; ${refresh.cpuUsPerRequest.toFixed(0)} µs server CPU per rotation`,
  });
}

/**
 * One keep-alive connection per session, each presenting the refresh token the previous answer set:
 * every request is a real rotation (a new record written), never a replay inside the retry window.
 * (autocannon cannot carry a cookie from one response to the next request, so this is a plain loop.)
 */
async function rotateLoad(url: string, ca: string, tokens: readonly string[], s: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, ca, maxSockets: tokens.length });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const until = started + s * 1000;
  const rotateOne = async (token: string) => {
    const response = await httpsRequest(`${url}/session/refresh?next=/order`, { ca, agent, headers: { Cookie: `__Secure-refresh=${token}` } });
    return { status: response.status, token: cookieValue(response.setCookies, '__Secure-refresh') };
  };
  await Promise.all(
    tokens.map(async (first) => {
      let token: string | undefined = first;
      while (token !== undefined && performance.now() < until) {
        const sent = performance.now();
        const answer = await rotateOne(token);
        latencies.push(performance.now() - sent);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        token = answer.token;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), total: latencies.length, statuses };
}

// ---------------------------------------------------------------------------------------------------

/** The version of the `deno` dev dependency: `2.1.4`. */
function denoVersion(): string {
  return /^deno (\S+)/.exec(execFileSync(DENO, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
}

/** The /order chart's bars: on each runtime, the project, Fastify and the bare server. */
function orderBars(figures: Map<Contender, { rps: number; p99: number }>) {
  const contenders = [...figures.keys()];
  return RUNTIMES.map((runtime) => ({
    runtime: RUNTIME_NAMES[runtime],
    servers: (['project', 'fastify', 'bare'] as const).map((kind) => {
      const contender = contenders.find((c) => c.runtime === runtime && c.kind === kind)!;
      return { label: kind === 'project' ? 'this project' : kind === 'fastify' ? 'Fastify' : 'bare node:https', ...figures.get(contender)! };
    }),
  }));
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'jwt-bench-'));
  let contenders: Contender[] = [];
  try {
    const started = Date.now();
    const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    buildServer(); // what npm start runs, from this working tree
    const certificate = await createSelfSigned();
    const tls = { certFile: path.join(root, 'cert.pem'), keyFile: path.join(root, 'key.pem') };
    await writeFile(tls.certFile, certificate.cert);
    await writeFile(tls.keyFile, certificate.key, { mode: 0o600 });
    const secret = randomBytes(32).toString('base64url');
    const storedHash = await hash(PASSWORD, { ...OWASP_ARGON2ID, algorithm: 2 });
    const history = await readFile(RESULTS_FILE, 'utf8').catch(() => undefined);

    if (ONLY.has(1) || ONLY.has(2)) contenders = await startContenders(root, tls, secret, RUNTIMES, PASSWORD);
    const orderFigures = ONLY.has(1) ? await benchOrder(contenders, history) : undefined;
    if (ONLY.has(2)) await benchSignup(contenders);
    await Promise.all(contenders.map((contender) => contender.stop()));
    contenders = [];
    const storePoints = ONLY.has(3) ? await benchStoreScaling(root, tls, secret, storedHash) : [];
    if (ONLY.has(4)) await benchLoginAndRefresh(root, tls, secret, storedHash);

    // A full run's charts are kept beside its entry; a quick or partial run's are scratch, git-ignored.
    const recorded = !QUICK && !PARTIAL;
    const chartFile = (name: string) => (recorded ? `charts/${date.slice(0, 16).replace(':', '')}Z-${name}.svg` : `${name}.partial.svg`);
    const charts: { file: string; alt: string; svg: string }[] = [];
    if (orderFigures !== undefined) {
      charts.push({
        file: chartFile('order'),
        alt: 'GET /order requests per second and p99 latency on Node and on Deno: this project, Fastify and the bare server, measured in the same rounds',
        svg: orderChart(orderBars(orderFigures)),
      });
    }
    if (storePoints.length > 0) {
      charts.push({
        file: chartFile('storage'),
        alt: 'Bytes written per write, signup p99 and refreshes per second against the users and sessions stored, before the journal (dashed) and after',
        svg: chartOf(storePoints),
      });
    }
    const machine = {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      deno: denoVersion(),
      threadPool: POOL_SIZE,
      date,
      seconds: Math.round((Date.now() - started) / 1000),
      quick: QUICK,
    };
    const report = formatReport(machine, rows, charts);
    process.stdout.write(`\n${report}\n`);
    for (const chart of charts) {
      await mkdir(path.dirname(path.join(PROJECT_ROOT, 'bench', chart.file)), { recursive: true });
      await writeFile(path.join(PROJECT_ROOT, 'bench', chart.file), chart.svg);
    }
    if (recorded) await writeFile(RESULTS_FILE, prependEntry(history, report));
  } finally {
    await Promise.all(contenders.map((contender) => contender.stop().catch(() => undefined)));
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error('The benchmark could not run:', error);
  process.exit(1);
});
