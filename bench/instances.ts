/**
 * `npm run bench:pg`: the PostgreSQL backend (DATABASE_URL) against the embedded store and the machine.
 *
 *   1. GET /order on PostgreSQL vs on the embedded store (target ≥ 0.9×): it should not differ, since
 *      /order never queries the database
 *   2. POST /signup on PostgreSQL vs raw argon2id hashing (target ≥ 0.85×)
 *   3. revocation propagation between two instances: from the moment a logout on A is answered until
 *      B refuses that session's access token, p50 and p99 (bound: 1 s, docs/instances.md)
 *
 * Needs a database: inside `pg_virtualenv` (this script re-runs itself there when PGHOST is unset), or
 * with PGHOST/PGPORT/PGUSER/PGPASSWORD pointing at one it may create a database on. Figures are
 * printed, never asserted. BENCH_QUICK=1 shortens every phase.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { createSelfSigned } from '../lib/http/certificate.ts';
import { load } from './load.ts';
import { cookieValue, httpsRequest, runRawArgon2, startProject, type ProjectServer, type TlsFiles } from './processes.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const seconds = (full: number) => (QUICK ? Math.max(1, Math.round(full / 4)) : full);
const FAST_CONNECTIONS = 16;
const ARGON2_CONCURRENCY = 4 * Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const REVOCATIONS = QUICK ? 30 : 200;
const PASSWORD = 'correct horse battery staple';
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

const log = (line: string) => process.stderr.write(`${line}\n`);
const median = (values: number[]) => percentile(values, 50);
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

if ((process.env.PGHOST ?? '') === '' && spawnSync('sh', ['-c', 'command -v pg_virtualenv'], { stdio: 'ignore' }).status === 0) {
  const result = spawnSync('pg_virtualenv', [process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

function serverUrl(database: string): string {
  const { PGHOST = 'localhost', PGPORT = '5432', PGUSER = 'postgres', PGPASSWORD = '' } = process.env;
  return `postgres://${encodeURIComponent(PGUSER)}:${encodeURIComponent(PGPASSWORD)}@${PGHOST}:${PGPORT}/${database}`;
}

const signupBody = (username: string) => new URLSearchParams({ username, password: PASSWORD }).toString();
let counter = 0;
const uniqueName = () => `p${Date.now().toString(36)}${(counter++).toString(36)}`;

/** req/s of GET /order with one valid cookie, median of three 5 s rounds after a warm-up. */
async function orderRate(server: ProjectServer, ca: string): Promise<{ rps: number; p99: number }> {
  const signup = await httpsRequest(`${server.url}/signup`, ca, 'POST', FORM, signupBody(uniqueName()));
  const jwt = cookieValue(signup.setCookies, '__Host-jwt');
  if (signup.status !== 303 || jwt === undefined) throw new Error(`signup answered ${signup.status}`);
  const run = (s: number) => load({ url: server.url, path: '/order', headers: { Cookie: `__Host-jwt=${jwt}` }, connections: FAST_CONNECTIONS, seconds: s });
  await run(seconds(2));
  const rounds = [];
  for (let i = 0; i < 3; i++) {
    const result = await run(seconds(5));
    if (Object.keys(result.statuses).some((code) => code !== '200')) throw new Error(`/order answered ${JSON.stringify(result.statuses)}`);
    rounds.push(result);
  }
  return { rps: median(rounds.map((r) => r.rps)), p99: median(rounds.map((r) => r.p99)) };
}

async function signupRate(server: ProjectServer): Promise<number> {
  const run = (s: number) =>
    load({ url: server.url, method: 'POST', path: '/signup', headers: FORM, body: () => signupBody(uniqueName()), connections: ARGON2_CONCURRENCY, seconds: s });
  await run(seconds(2));
  const result = await run(seconds(8));
  if (Object.keys(result.statuses).some((code) => code !== '303')) throw new Error(`/signup answered ${JSON.stringify(result.statuses)}`);
  return result.rps;
}

/** One GET /order on a kept-alive connection; resolves with the status. */
function order(url: string, ca: string, agent: Agent, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/order`, { ca, agent, headers: { cookie, accept: 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Milliseconds from each logout's answer on A until B refuses the logged-out token. */
async function revocationDelays(a: ProjectServer, b: ProjectServer, ca: string): Promise<number[]> {
  const name = uniqueName();
  await httpsRequest(`${a.url}/signup`, ca, 'POST', FORM, signupBody(name));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const delays: number[] = [];
  for (let i = 0; i < REVOCATIONS; i++) {
    const login = await httpsRequest(`${a.url}/login`, ca, 'POST', FORM, signupBody(name));
    const cookie = `__Host-jwt=${cookieValue(login.setCookies, '__Host-jwt')}`;
    if ((await order(b.url, ca, agent, cookie)) !== 200) throw new Error('B did not accept a fresh session');
    await httpsRequest(`${a.url}/logout`, ca, 'POST', { Cookie: cookie });
    const answered = performance.now();
    while ((await order(b.url, ca, agent, cookie)) === 200) {
      if (performance.now() - answered > 10_000) throw new Error('B still accepts the token 10 s after the logout');
    }
    delays.push(performance.now() - answered);
  }
  agent.destroy();
  return delays;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'jwt-bench-pg-'));
  const name = `jwt_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(serverUrl(process.env.PGDATABASE ?? 'postgres'), { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const databaseUrl = serverUrl(name);
  const servers: ProjectServer[] = [];
  try {
    const certificate = await createSelfSigned();
    const tls: TlsFiles = { certFile: path.join(root, 'cert.pem'), keyFile: path.join(root, 'key.pem') };
    await writeFile(tls.certFile, certificate.cert);
    await writeFile(tls.keyFile, certificate.key, { mode: 0o600 });
    const ca = await readFile(tls.certFile, 'utf8');
    const secret = randomBytes(32).toString('base64url');
    const start = async (label: string, env: Record<string, string> = {}) => {
      const server = await startProject(path.join(root, label, 'data'), tls, secret, label, env);
      servers.push(server);
      return server;
    };

    log('1. GET /order: PostgreSQL vs the embedded store');
    const embedded = await start('embedded');
    const embeddedOrder = await orderRate(embedded, ca);
    await embedded.stop();
    const a = await start('pg-a', { DATABASE_URL: databaseUrl });
    const pgOrder = await orderRate(a, ca);
    log(`   embedded ${embeddedOrder.rps.toFixed(0)} req/s (p99 ${embeddedOrder.p99} ms), PostgreSQL ${pgOrder.rps.toFixed(0)} req/s (p99 ${pgOrder.p99} ms): ${(pgOrder.rps / embeddedOrder.rps).toFixed(2)}× (target ≥ 0.9)`);

    log(`2. POST /signup on PostgreSQL vs raw argon2id (${ARGON2_CONCURRENCY} in flight)`);
    const raw = await runRawArgon2('hash', ARGON2_CONCURRENCY, seconds(8));
    const signups = await signupRate(a);
    log(`   signup ${signups.toFixed(1)}/s, raw hash ${raw.opsPerSec.toFixed(1)}/s: ${(signups / raw.opsPerSec).toFixed(2)}× (target ≥ 0.85)`);

    log(`3. revocation propagation A → B (${REVOCATIONS} logouts)`);
    const b = await start('pg-b', { DATABASE_URL: databaseUrl });
    const delays = await revocationDelays(a, b, ca);
    log(`   from the logout's answer on A to the first refusal on B: p50 ${percentile(delays, 50).toFixed(1)} ms, p99 ${percentile(delays, 99).toFixed(1)} ms, max ${Math.max(...delays).toFixed(1)} ms (bound 1000 ms)`);
  } finally {
    await Promise.all(servers.map((server) => server.stop().catch(() => null)));
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
