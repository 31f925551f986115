/**
 * The child processes a benchmark drives: the project's own `server.ts` (exactly as `npm start` runs
 * it, with production settings), the bare HTTPS server, and raw argon2. Each runs in its own process so
 * the load generator never shares an event loop or a thread pool with what it measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Set BENCH_PROFILE=1 to write a V8 CPU profile of every server process into bench/profiles/. */
const PROFILE_DIR = process.env.BENCH_PROFILE ? path.join(PROJECT_ROOT, 'bench', 'profiles') : undefined;

/** Every child still running; killed if the benchmark itself fails, so no server outlives it. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function nodeArgs(script: string, name: string): string[] {
  // One folder per process: tsx's loader runs on a thread of its own, which writes a profile too.
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROFILE_DIR, `${name}-${Date.now()}`)}`] : [];
  return [...profile, '--import', 'tsx', script];
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
  /** Resident memory now, and the peak so far (VmRSS, VmHWM), in MiB. */
  memory(): { rssMb: number; peakMb: number };
  /** CPU time (user + system) the process has used so far, in seconds. */
  cpuSeconds(): number;
  /** SIGTERM, as an operator would stop it; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `server.ts` as production would: NODE_ENV=production, attempt limits off (RATE_LIMIT=0, as
 * the contract allows for load tests), and its log going through the real logger to a real file.
 * (Node writes to stdout synchronously when stdout is a file or a pipe, so this is the honest setting.)
 */
export async function startProject(dataDir: string, tls: TlsFiles, secret: string, name = 'project', extraEnv: Record<string, string> = {}): Promise<ProjectServer> {
  const logFile = path.join(dataDir, '..', `${name}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const logFd = openSync(logFile, 'a');
  const started = performance.now();
  const child = track(spawn(process.execPath, nodeArgs('server.ts', name), {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      RATE_LIMIT: '0',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      TLS_CERT: tls.certFile,
      TLS_KEY: tls.keyFile,
      JWT_SECRET: secret,
      ...extraEnv, // DATABASE_URL for the PostgreSQL benchmark (bench/instances.ts)
    },
    stdio: ['ignore', logFd, 'pipe'],
  }));
  closeSync(logFd);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  // Poll the log file for the first line; 5 ms of polling granularity is noise next to startup.
  let url: string | undefined;
  while (url === undefined) {
    if (child.exitCode !== null) throw new Error(`server.ts exited with ${child.exitCode} before listening:\n${stderr}`);
    url = /Listening on (https:\/\/\S+)/.exec(readFileSync(logFile, 'utf8'))?.[1];
    if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    if (performance.now() - started > 60_000) throw new Error(`server.ts did not listen within 60 s:\n${stderr}`);
  }
  const startupMs = performance.now() - started;
  return {
    url,
    pid: child.pid!,
    startupMs,
    startupCpuMs: cpuSecondsOf(child.pid!) * 1000,
    memory: () => memoryOf(child.pid!),
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) process.stderr.write(`warning: server.ts exited with ${code}\n${stderr}`);
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

export interface BareServer {
  readonly url: string;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Starts `bare_server.ts` serving `pageFile` with the same certificate. */
export async function startBare(pageFile: string, tls: TlsFiles): Promise<BareServer> {
  const child = track(spawn(process.execPath, nodeArgs('bench/bare_server.ts', 'bare'), {
    cwd: PROJECT_ROOT,
    env: { ...process.env, PAGE_FILE: pageFile, TLS_CERT: tls.certFile, TLS_KEY: tls.keyFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  const port = await firstLine(child, /^listening (\d+)/m);
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
  const child = track(spawn(process.execPath, nodeArgs('bench/argon2_raw.ts', `argon2-${mode}`), {
    cwd: PROJECT_ROOT,
    env: { ...process.env, MODE: mode, CONCURRENCY: String(concurrency), SECONDS: String(seconds) },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  const line = await firstLine(child, /^\{.*\}$/m);
  return JSON.parse(line) as Argon2Result;
}

/** The first match of `pattern` in a child's stdout (its first group, if any). */
function firstLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = pattern.exec(out);
      if (match) resolve(match[1] ?? match[0]);
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before printing ${pattern}:\n${out}`)));
  });
}

export interface SimpleResponse {
  status: number;
  setCookies: string[];
  body: string;
}

/** One HTTPS request that trusts exactly our certificate, for setting up cookies before a run. */
export function httpsRequest(url: string, ca: string, method: string, headers: Record<string, string> = {}, body?: string): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookies: res.headers['set-cookie'] ?? [], body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of cookie `name` among `Set-Cookie` headers. */
export function cookieValue(setCookies: readonly string[], name: string): string | undefined {
  for (const header of setCookies) {
    if (header.startsWith(`${name}=`)) return header.slice(name.length + 1, header.indexOf(';'));
  }
  return undefined;
}
