/**
 * `npm run bench`: the project against the physical limits of this machine, side by side in one run.
 *
 *   1. GET /order with a valid cookie vs a bare node:https server sending a page of the same size
 *   2. POST /signup vs raw argon2id hashing at the same parameters and concurrency
 *   3. signup and refresh with 0, 10,000 and 100,000 users and sessions stored: latency, throughput,
 *      bytes written per write, startup time and memory (and bench/storage.svg, the chart of it)
 *   4. POST /login vs raw argon2id verification; GET /session/refresh rotations per second
 *
 * Every server runs in a child process of its own; this process only generates load. Targets are
 * reported, never asserted: the exit code is non-zero only when the benchmark could not run.
 *
 * BENCH_QUICK=1 shortens every phase and BENCH_ONLY=2,3 runs only some sections (for working on the
 * harness itself; neither writes RESULTS.md). BENCH_PROFILE=1 writes a CPU profile of each server
 * process into bench/profiles/ (open it in Chrome DevTools or speedscope).
 */
import { hash } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { createSelfSigned } from '../lib/startup/certificate.ts';
import { OWASP_ARGON2ID } from '../lib/accounts/passwords.ts';
import { httpsRequest } from '../scripts/support/https_client.ts';
import { PROJECT_ROOT } from '../scripts/support/project_root.ts';
import { load, type LoadResult } from './load.ts';
import { makeSessions, makeUsers, seedName } from './make_users.ts';
import { storageChart } from './chart.ts';
import { JsonSessionStore } from '../lib/storage/session_store.ts';
import {
  cookieValue,
  runRawArgon2,
  startBare,
  startProject,
  type ProjectServer,
  type TlsFiles,
} from './processes.ts';
import { formatReport, type Row } from './report.ts';

const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_ONLY=1,3 runs only those sections (RESULTS.md is then left alone). */
const ONLY = new Set((process.env.BENCH_ONLY ?? '1,2,3,4').split(',').map(Number));
const PARTIAL = ONLY.size < 4;
const seconds = (full: number) => (QUICK ? Math.max(1, Math.round(full / 4)) : full);

/** Keep-alive connections for the fast routes (/order, /session/refresh). */
const FAST_CONNECTIONS = 16;
/**
 * Requests in flight for the argon2 routes: four times the libuv thread pool (where argon2 runs), as
 * under a real burst of sign-ups. Each signup spends ~25 ms hashing but can then spend 100 ms or more
 * waiting for two fsynced commits (users.json, then sessions-v3.json); with only twice the pool (8), the
 * hashing slots sat idle waiting for requests still in their commits, and the run measured the disk's
 * latency instead of throughput. Raw argon2 runs at the same count.
 */
const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const ARGON2_CONCURRENCY = 4 * POOL_SIZE;
const ORDER_ROUNDS = QUICK ? 1 : 3;
const STORE_SIZES = [0, 10_000, 100_000];
const PASSWORD = 'correct horse battery staple';

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

/** Runs a load while measuring the server's own CPU time, so cost per request can be compared too. */
async function measured(server: { cpuSeconds(): number }, run: () => Promise<LoadResult>): Promise<LoadResult & { cpuUsPerRequest: number; cpuShare: number }> {
  const cpuBefore = server.cpuSeconds();
  const started = performance.now();
  const result = await run();
  const cpu = server.cpuSeconds() - cpuBefore;
  return { ...result, cpuUsPerRequest: (cpu * 1e6) / result.total, cpuShare: cpu / ((performance.now() - started) / 1000) };
}

// ---------------------------------------------------------------------------------------------------
// 1. /order vs a bare HTTPS server

async function benchOrder(root: string, tls: TlsFiles, secret: string): Promise<void> {
  log('1. /order vs bare node:https');
  const project = await startProject(path.join(root, 'order', 'data'), tls, secret, 'order');
  const ca = await readFile(tls.certFile, 'utf8');
  const signup = await httpsRequest(`${project.url}/signup`, { ca, method: 'POST', headers: FORM, body: formBody('benchuser') });
  const jwt = cookieValue(signup.setCookies, '__Host-jwt');
  if (signup.status !== 303 || jwt === undefined) throw new Error(`signup for the /order run failed: ${signup.status} ${signup.body}`);
  const cookie = `__Host-jwt=${jwt}`;
  const page = await httpsRequest(`${project.url}/order`, { ca, headers: { Cookie: cookie } });
  if (page.status !== 200) throw new Error(`GET /order with a fresh cookie answered ${page.status}`);
  const pageFile = path.join(root, 'order-page.html');
  await writeFile(pageFile, page.body);
  const bare = await startBare(pageFile, tls);

  const orderLoad = (url: string, s: number) => load({ url, path: '/order', headers: { Cookie: cookie }, connections: FAST_CONNECTIONS, seconds: s });
  // Warm both up (JIT, TLS session setup) before anything counts.
  await orderLoad(project.url, seconds(2));
  await orderLoad(bare.url, seconds(2));

  const a: Awaited<ReturnType<typeof measured>>[] = [];
  const b: Awaited<ReturnType<typeof measured>>[] = [];
  for (let round = 1; round <= ORDER_ROUNDS; round++) {
    const pa = await measured(project, () => orderLoad(project.url, seconds(5)));
    checkStatuses('GET /order', pa, 200);
    const pb = await measured(bare, () => orderLoad(bare.url, seconds(5)));
    checkStatuses('bare server', pb, 200);
    log(`   round ${round}: project ${pa.rps.toFixed(0)} req/s (cpu ${(pa.cpuShare * 100).toFixed(0)}%), bare ${pb.rps.toFixed(0)} req/s (cpu ${(pb.cpuShare * 100).toFixed(0)}%)`);
    a.push(pa);
    b.push(pb);
  }
  await bare.stop();
  await project.stop();
  const logLines = (await readFile(path.join(root, 'order', 'order.log'), 'utf8')).split('\n').length;

  const rpsA = median(a.map((r) => r.rps));
  const rpsB = median(b.map((r) => r.rps));
  const cpuA = median(a.map((r) => r.cpuUsPerRequest));
  const cpuB = median(b.map((r) => r.cpuUsPerRequest));
  rows.push(
    { section: '1. /order', measure: `req/s (median of ${ORDER_ROUNDS}, ${FAST_CONNECTIONS} keep-alive conns, ${page.body.length} B page)`, project: rpsA, limit: rpsB, ratio: rpsA / rpsB, target: '≥ 0.85', met: rpsA / rpsB >= 0.85 },
    { section: '1. /order', measure: 'latency p50 / p99, ms', project: `${median(a.map((r) => r.p50))} / ${median(a.map((r) => r.p99))}`, limit: `${median(b.map((r) => r.p50))} / ${median(b.map((r) => r.p99))}` },
    { section: '1. /order', measure: 'server CPU per request, µs', project: cpuA, limit: cpuB, ratio: cpuB / cpuA, note: `server process busy ${(median(a.map((r) => r.cpuShare)) * 100).toFixed(0)}% / ${(median(b.map((r) => r.cpuShare)) * 100).toFixed(0)}% of a core; ${logLines - 1} log lines written to a file` },
  );
}

// ---------------------------------------------------------------------------------------------------
// 2 and 3. Signup vs argon2, and signup as the store grows

let uniqueCounter = 0;
/** A username no run has used: `b<time><counter>`, within the 32-character limit. */
const uniqueName = () => `b${Date.now().toString(36)}${(uniqueCounter++).toString(36)}`;

function signupLoad(server: ProjectServer, s: number): Promise<LoadResult> {
  return load({ url: server.url, method: 'POST', path: '/signup', headers: FORM, body: () => formBody(uniqueName()), connections: ARGON2_CONCURRENCY, seconds: s });
}

async function benchSignup(root: string, tls: TlsFiles, secret: string): Promise<void> {
  log(`2. signup vs raw argon2id hash (${ARGON2_CONCURRENCY} in flight, thread pool ${POOL_SIZE})`);
  const project = await startProject(path.join(root, 'signup', 'data'), tls, secret, 'signup');
  await signupLoad(project, seconds(2)); // warm-up
  const signups: number[] = [];
  const raws: number[] = [];
  const cpuPerSignup: number[] = [];
  const cpuPerHash: number[] = [];
  for (let round = 1; round <= 2; round++) {
    const raw = await runRawArgon2('hash', ARGON2_CONCURRENCY, seconds(6));
    const result = await measured(project, () => signupLoad(project, seconds(6)));
    checkStatuses('POST /signup', result, 303);
    log(`   round ${round}: signup ${result.rps.toFixed(1)}/s (${(result.cpuUsPerRequest / 1000).toFixed(1)} CPU ms each), raw hash ${raw.opsPerSec.toFixed(1)}/s (${raw.cpuMsPerOp.toFixed(1)} CPU ms each)`);
    signups.push(result.rps);
    raws.push(raw.opsPerSec);
    cpuPerSignup.push(result.cpuUsPerRequest / 1000);
    cpuPerHash.push(raw.cpuMsPerOp);
  }
  await project.stop();
  const ratio = median(signups) / median(raws);
  rows.push({
    section: '2. signup',
    measure: `signups/s vs argon2id hashes/s (${ARGON2_CONCURRENCY} in flight)`,
    project: median(signups),
    limit: median(raws),
    ratio,
    target: '≥ 0.90',
    met: ratio >= 0.9,
    note: 'raw argon2 hands all of them to the thread pool; the server runs one per core and queues the rest',
  });
  rows.push({ section: '2. signup', measure: 'CPU ms per signup vs per raw hash (all threads)', project: median(cpuPerSignup), limit: median(cpuPerHash), ratio: median(cpuPerHash) / median(cpuPerSignup) });
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
    const project = await startProject(dataDir, tls, secret, `store-${size}`);
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
        `signup ${signup.rps.toFixed(1)}/s p99 ${signup.p99} ms ${(signupBytes / 1024).toFixed(1)} KiB each, ` +
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
        project: `${signup.p50} / ${signup.p99}, ${signup.rps.toFixed(1)}/s`,
        ...(first && { ratio: signup.p99 / first.signupP99 }),
        ...(largest && first && { target: 'p99 ≤ 1.2× at 0', met: signup.p99 / first.signupP99 <= 1.2 }),
      },
      {
        section: '3. store',
        measure: `${label}: startup ms (CPU ms; reading the stores), RSS MiB settled (peak)`,
        project: `${project.startupMs.toFixed(0)} (${project.startupCpuMs.toFixed(0)}; ${project.storesReadMs}), ${atStart.rssMb.toFixed(0)} (${peakMb.toFixed(0)})`,
        ...(largest && { target: '≤ 1000 ms, ≤ 150 MB', met: project.startupMs <= 1000 && atStart.rssMb * 2 ** 20 <= 150e6 }),
        ...(size === 0 && { note: 'the server alone: Node, tsx and its loader thread, TLS' }),
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

/** The chart: this run's figures against those recorded before the journal (issue 13, RESULTS.md of 2026-11-27). */
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
  const project = await startProject(dataDir, tls, secret, 'login');
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
  rows.push({ section: '4. login', measure: `logins/s vs argon2id verifications/s (${ARGON2_CONCURRENCY} in flight)`, project: median(logins), limit: median(raws), ratio: median(logins) / median(raws) });

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

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'jwt-bench-'));
  try {
    const started = Date.now();
    const certificate = await createSelfSigned();
    const tls = { certFile: path.join(root, 'cert.pem'), keyFile: path.join(root, 'key.pem') };
    await writeFile(tls.certFile, certificate.cert);
    await writeFile(tls.keyFile, certificate.key, { mode: 0o600 });
    const secret = randomBytes(32).toString('base64url');
    const storedHash = await hash(PASSWORD, { ...OWASP_ARGON2ID, algorithm: 2 });

    if (ONLY.has(1)) await benchOrder(root, tls, secret);
    if (ONLY.has(2)) await benchSignup(root, tls, secret);
    const storePoints = ONLY.has(3) ? await benchStoreScaling(root, tls, secret, storedHash) : [];
    if (ONLY.has(4)) await benchLoginAndRefresh(root, tls, secret, storedHash);

    const machine = {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      threadPool: POOL_SIZE,
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      seconds: Math.round((Date.now() - started) / 1000),
      quick: QUICK,
    };
    const chart = storePoints.length > 0 ? chartOf(storePoints) : undefined;
    const report =
      formatReport(machine, rows) +
      (chart === undefined ? '' : `\n![Bytes written per write, signup p99 and refreshes per second against the users and sessions stored, before the journal (dashed) and after](storage.svg)\n`);
    process.stdout.write(`\n${report}\n`);
    if (chart !== undefined) await writeFile(path.join(PROJECT_ROOT, 'bench', QUICK || PARTIAL ? 'storage.partial.svg' : 'storage.svg'), chart);
    if (!QUICK && !PARTIAL) await writeFile(path.join(PROJECT_ROOT, 'bench', 'RESULTS.md'), report);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error('The benchmark could not run:', error);
  process.exit(1);
});
