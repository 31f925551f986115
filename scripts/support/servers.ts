/**
 * Starting the real server for the scripts, the tests and the benchmarks, in one of two ways:
 * - `startInProcess`: `startServer` in this process, so the caller can pass a clock, a logger, cheaper
 *   password hashing or a faulty file system;
 * - `launchServer`: `server.ts` in a child process, exactly what `npm start` runs (under Node, or under
 *   Deno with the permissions `npm run start:deno` grants), ready once it prints `Listening on`.
 * Either runs on port 0 with its DATA_DIR and certificate in a folder of its own: a new temporary one,
 * removed on close, unless the caller names one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readConfig, type Config } from '../../lib/config.ts';
import { startServer, type RunningServer, type StartOptions } from '../../lib/start_server.ts';
import { descriptorLimit } from '../../lib/defences/connection_limits.ts';
import { DENO, denoEnvironment, denoRunArgs } from '../deno_permissions.ts';
import { PROJECT_ROOT } from './project_root.ts';

export async function makeTempDir(prefix = 'jwt-cookie-redirect-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** Port 0 and the server's files under `root`; `overrides` win. */
function serverEnv(root: string, overrides: Record<string, string>): Record<string, string> & { DATA_DIR: string; TLS_CERT: string } {
  return {
    PORT: '0',
    DATA_DIR: path.join(root, 'data'),
    TLS_CERT: path.join(root, 'cert.pem'),
    TLS_KEY: path.join(root, 'key.pem'),
    ...overrides,
  };
}

export interface InProcessServer {
  readonly origin: string;
  /** The certificate to trust, in PEM. */
  readonly ca: string;
  readonly dataDir: string;
  readonly config: Config;
  readonly running: RunningServer;
  /** Stops the server, and removes its folder if it was a temporary one. */
  close(): Promise<void>;
}

export interface InProcessOptions extends StartOptions {
  /** Environment variables as `server.ts` would read them (PORT defaults to 0). */
  env?: Record<string, string>;
  /** The folder for DATA_DIR and the certificate; a temporary one by default. */
  dir?: string;
}

/** The real server, started in this process. */
export async function startInProcess({ env = {}, dir, ...startOptions }: InProcessOptions = {}): Promise<InProcessServer> {
  const root = dir ?? (await makeTempDir());
  const config = readConfig(serverEnv(root, env));
  const running = await startServer(config, startOptions);
  return {
    origin: running.url,
    ca: running.certificate,
    dataDir: config.dataDir,
    config,
    running,
    async close() {
      await running.close();
      if (dir === undefined) await rm(root, { recursive: true, force: true });
    },
  };
}

export interface LaunchedServer {
  readonly origin: string;
  /** The certificate to trust, in PEM (read from TLS_CERT once the server listens). */
  readonly ca: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** From spawning the process to its "Listening on" line: what an operator waits for. */
  readonly startupMs: number;
  /** Everything the server printed so far that was not sent to `logFile`. */
  output(): string;
  /** Sends a signal (SIGTERM by default) unless it has already exited; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface LaunchOptions {
  /** Environment variables on top of this process's own (PORT defaults to 0). */
  env?: Record<string, string>;
  /** The folder for DATA_DIR and the certificate; a temporary one by default. */
  dir?: string;
  runtime?: 'node' | 'deno';
  /** Extra flags for Node, before `server.ts` (`--cpu-prof`). */
  nodeFlags?: string[];
  /**
   * Sends the server's stdout (its request log) to this file instead of keeping it in memory, for
   * long runs. Node writes to a file synchronously, as it does to a pipe, so the server pays what it
   * pays in production.
   */
  logFile?: string;
  /**
   * `StartOptions` that survive JSON (shorter timeouts, a lower connection cap): the child then runs
   * `start_with_options.ts` instead of `server.ts`, to watch a limit bite under either runtime.
   */
  startOptions?: Record<string, unknown>;
  /** Runs the server under `prlimit --nofile=N` (util-linux), which sets the limit and becomes the server. */
  descriptors?: number;
  /** Another server to run instead of `server.ts`, reading the same variables: `lib/minimal/server.ts`. */
  script?: string;
  /**
   * Node only: runs what `npm start` runs, the bundle of `server.ts` that `npm run build` wrote into
   * dist/, on Node alone (no tsx, no loader thread). Build it first.
   */
  built?: boolean;
}

/** `npm start`'s command after its build, as package.json has it (test/scripts/build.test.ts checks they agree). */
export const BUILT_SERVER_ARGS = ['--enable-source-maps', path.join(PROJECT_ROOT, 'dist', 'server.js')];

const START_WITH_OPTIONS = path.join(PROJECT_ROOT, 'scripts', 'support', 'start_with_options.ts');

/** How long a server may take to print "Listening on" before the launch is given up. */
const STARTUP_LIMIT_MS = 60_000;

/**
 * Runs `server.ts` in a child process and waits for its "Listening on" line. The child is the runtime
 * itself (Node, or Deno without the `start:deno` launcher in between), so a signal the caller sends,
 * `SIGKILL` included, reaches the server.
 */
export async function launchServer(options: LaunchOptions = {}): Promise<LaunchedServer> {
  const root = options.dir ?? (await makeTempDir());
  const baseEnv = { ...process.env, ...serverEnv(root, options.env ?? {}) };
  // Under Deno, the connection cap `npm run start:deno` would pass on, for the limit the child runs under.
  const env = options.runtime === 'deno' ? { ...baseEnv, ...denoEnvironment(baseEnv, PROJECT_ROOT, options.descriptors ?? descriptorLimit()) } : baseEnv;
  // server.ts itself, or a script that starts it with options the environment cannot carry.
  const script = options.startOptions === undefined ? [options.script ?? path.join(PROJECT_ROOT, 'server.ts')] : [START_WITH_OPTIONS, JSON.stringify(options.startOptions)];
  const [runtime, runtimeArgs] =
    options.runtime === 'deno'
      ? [DENO, await denoRunArgs(env, PROJECT_ROOT, script)]
      : [process.execPath, [...(options.nodeFlags ?? []), ...(options.built ? BUILT_SERVER_ARGS : ['--import', 'tsx', ...script])]];
  const [command, args] =
    options.descriptors === undefined ? [runtime, runtimeArgs] : ['prlimit', [`--nofile=${options.descriptors}:${options.descriptors}`, '--', runtime, ...runtimeArgs]];
  const logFd = options.logFile === undefined ? undefined : openLog(options.logFile);
  const started = performance.now();
  const child = killOnExit(spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', logFd ?? 'pipe', 'pipe'] }));
  if (logFd !== undefined) closeSync(logFd); // the child has its own copy
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const printed = options.logFile === undefined ? () => output : () => readFileSync(options.logFile!, 'utf8');

  // Polled: 5 ms of granularity is noise next to a start-up, and one loop serves a pipe and a file.
  const listeningOn = () => /Listening on (https:\/\/\S+)/.exec(printed())?.[1];
  let origin = listeningOn();
  while (origin === undefined) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server.ts exited with ${child.exitCode ?? child.signalCode} before listening:\n${output}`);
    if (performance.now() - started > STARTUP_LIMIT_MS) {
      child.kill('SIGKILL');
      throw new Error(`server.ts did not listen within ${STARTUP_LIMIT_MS / 1000} s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    origin = listeningOn();
  }
  const startupMs = performance.now() - started;
  return {
    origin,
    ca: await readFile(env.TLS_CERT, 'utf8'),
    dataDir: env.DATA_DIR,
    child,
    startupMs,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (options.dir === undefined) await rm(root, { recursive: true, force: true });
      return code;
    },
  };
}

/** A file descriptor appending to `file`, its folder created. */
function openLog(file: string): number {
  mkdirSync(path.dirname(file), { recursive: true });
  return openSync(file, 'a');
}

/** Every child still running; killed if this process exits first, so no server outlives a crashed run. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Makes sure `child` ends when this process does. */
export function killOnExit(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
