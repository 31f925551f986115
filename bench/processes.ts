/**
 * The child processes a benchmark drives: the project's own server (exactly as `npm start` runs it,
 * the bundle on Node, or as `npm run start:deno` runs it, `server.ts` on Deno, with production
 * settings), its two yardsticks (the bare HTTPS server, the Fastify server) under either runtime, and
 * raw argon2. Each runs in its own process so the load generator never shares an event loop or a thread
 * pool with what it measures.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { DENO } from '../scripts/deno_permissions.ts';
import { PROJECT_ROOT } from '../scripts/support/project_root.ts';
import { killOnExit, launchServer } from '../scripts/support/servers.ts';

/** Set BENCH_PROFILE=1 to write a V8 CPU profile of every Node server process into bench/profiles/. */
const PROFILE_DIR = process.env.BENCH_PROFILE ? path.join(PROJECT_ROOT, 'bench', 'profiles') : undefined;

function profileFlags(name: string): string[] {
  // One folder per process: tsx's loader runs on a thread of its own, which writes a profile too.
  return PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROFILE_DIR, `${name}-${Date.now()}`)}`] : [];
}

function nodeArgs(script: string, name: string): string[] {
  return [...profileFlags(name), '--import', 'tsx', script];
}

export type Runtime = 'node' | 'deno';

/** Builds dist/ as `npm start` does first (`npm run build`), so the bench measures this working tree. */
export function buildServer(): void {
  execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface ProjectServer {
  readonly url: string;
  readonly pid: number;
  /** From spawning the process to its "Listening on" line: what an operator waits for. */
  readonly startupMs: number;
  /** CPU time the process had used by then (all threads): less swayed by a busy machine than the wall clock. */
  readonly startupCpuMs: number;
  /** Of the startup, the time reading the stores took, from the server's own `Storage:` line. */
  readonly storesReadMs: number;
  /** Resident memory now, and the peak so far (VmRSS, VmHWM), in MiB. */
  memory(): { rssMb: number; peakMb: number };
  /** CPU time (user + system) the process has used so far, in seconds. */
  cpuSeconds(): number;
  /** SIGTERM, as an operator would stop it; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface ProjectOptions {
  name?: string;
  /** Node (the bundle, `buildServer()` first) by default. */
  runtime?: Runtime;
  /** DATABASE_URL, for bench/instances.ts. */
  env?: Record<string, string>;
}

/**
 * Starts the server as production would, as `npm start` (or `npm run start:deno`) runs it:
 * NODE_ENV=production, attempt limits off (RATE_LIMIT=0, the switch docs/http.md gives for load tests),
 * and its log going through the real logger to a real file. (Node writes to stdout synchronously when
 * stdout is a file or a pipe, so this is the honest setting.)
 */
export async function startProject(dataDir: string, tls: TlsFiles, secret: string, { name = 'project', runtime = 'node', env = {} }: ProjectOptions = {}): Promise<ProjectServer> {
  const logFile = path.join(dataDir, '..', `${name}.log`);
  const server = await launchServer({
    env: { NODE_ENV: 'production', RATE_LIMIT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, TLS_CERT: tls.certFile, TLS_KEY: tls.keyFile, JWT_SECRET: secret, ...env },
    dir: path.dirname(dataDir),
    runtime,
    built: runtime === 'node',
    nodeFlags: profileFlags(name),
    logFile,
  });
  const pid = server.child.pid!;
  const storesRead = /^Storage: .* \(read in (\d+) ms\)$/m.exec(readFileSync(logFile, 'utf8'));
  return {
    url: server.origin,
    pid,
    startupMs: server.startupMs,
    startupCpuMs: cpuSecondsOf(pid) * 1000,
    storesReadMs: Number(storesRead?.[1] ?? NaN),
    memory: () => memoryOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    async stop() {
      const code = await server.stop();
      if (code !== 0) process.stderr.write(`warning: server.ts exited with ${code}\n${server.output()}`);
      return code;
    },
  };
}

function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** utime + stime from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name in parentheses may hold spaces
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A yardstick: the bare server or the Fastify server. */
export interface Yardstick {
  readonly url: string;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/**
 * Starts `bare_server.ts` or `fastify_server.ts` under `runtime`, answering /order with the recorded
 * `responseFile` over the same certificate. Under Deno with every permission: these are the bench's own
 * servers, not the product whose permissions docs/deno.md narrows.
 */
export async function startYardstick(
  kind: 'bare' | 'fastify',
  runtime: Runtime,
  { responseFile, tls, secret, logFile }: { responseFile: string; tls: TlsFiles; secret: string; logFile: string },
): Promise<Yardstick> {
  const script = path.join('bench', `${kind}_server.ts`);
  const [command, args] = runtime === 'deno' ? [DENO, ['run', '--allow-all', script]] : [process.execPath, nodeArgs(script, kind)];
  const log = openSync(logFile, 'a'); // Fastify's request log, as the project's goes to a file
  const child = killOnExit(spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, RESPONSE_FILE: responseFile, TLS_CERT: tls.certFile, TLS_KEY: tls.keyFile, JWT_SECRET: secret },
    stdio: ['ignore', log, 'pipe'],
  }));
  closeSync(log); // the child has its own copy
  const port = await firstLine(child, child.stderr!, /^listening (\d+)/m);
  return {
    url: `https://127.0.0.1:${port}`,
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface Argon2Result {
  ops: number;
  opsPerSec: number;
  /** Per-operation latency, ms. */
  p50: number;
  p99: number;
  /** CPU time of the whole process (all threads) per operation, ms. */
  cpuMsPerOp: number;
}

/** Runs raw argon2 (`argon2_raw.ts`) in a child process and returns its figures. */
export async function runRawArgon2(mode: 'hash' | 'verify', concurrency: number, seconds: number): Promise<Argon2Result> {
  const child = killOnExit(spawn(process.execPath, nodeArgs('bench/argon2_raw.ts', `argon2-${mode}`), {
    cwd: PROJECT_ROOT,
    env: { ...process.env, MODE: mode, CONCURRENCY: String(concurrency), SECONDS: String(seconds) },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  const line = await firstLine(child, child.stdout!, /^\{.*\}$/m);
  return JSON.parse(line) as Argon2Result;
}

/** How long a child may take to print what the bench waits for (a yardstick's port, raw argon2's figures). */
const CHILD_LIMIT_MS = 120_000;

/** The first match of `pattern` in what a child prints on `stream` (its first group, if any). */
function firstLine(child: ChildProcess, stream: Readable, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child printed no ${pattern} within ${CHILD_LIMIT_MS / 1000} s:\n${out}`));
    }, CHILD_LIMIT_MS);
    stream.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] ?? match[0]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited with ${code} before printing ${pattern}:\n${out}`));
    });
  });
}

/** The value of cookie `name` among `Set-Cookie` headers. */
export function cookieValue(setCookies: readonly string[], name: string): string | undefined {
  for (const header of setCookies) {
    if (header.startsWith(`${name}=`)) return header.slice(name.length + 1, header.indexOf(';'));
  }
  return undefined;
}
