/**
 * Starting servers for tests, each with its own temporary DATA_DIR and certificate.
 *
 * `launchServer` runs the real `server.ts` as a child process (what `npm start` runs), for black-box
 * tests: under Node, or under Deno with `TEST_RUNTIME=deno` (`npm run test:deno`), with the permissions
 * `npm run start:deno` grants. `startInProcess` runs the same server in this process, so a test can
 * pass in a clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/support/log.ts';
import { startServer, type RunningServer, type StartOptions } from '../../lib/start_server.ts';
import { DENO, denoRunArgs } from '../../scripts/deno_permissions.ts';
import { TestBrowser } from './https_client.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A JWT_SECRET tests know, so they can forge tokens the way an attacker with the key could. */
export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

/** Cheap argon2id parameters for tests whose subject is not the hash cost. */
export const FAST_ARGON2 = { memoryCost: 256, timeCost: 1, parallelism: 1 } as const;

/** The runtime `launchServer` starts `server.ts` under: `TEST_RUNTIME=deno`, or Node by default. */
export const RUNTIME = readRuntime(process.env.TEST_RUNTIME);

function readRuntime(value = 'node'): 'node' | 'deno' {
  if (value === 'node' || value === 'deno') return value;
  throw new Error(`Cannot run tests: TEST_RUNTIME must be "node" or "deno", got "${value}"`);
}

export interface TestServer {
  readonly origin: string;
  readonly ca: string;
  readonly dataDir: string;
  /** A fresh cookie jar on this server. */
  browser(): TestBrowser;
}

export interface LaunchedServer extends TestServer {
  readonly child: ChildProcess;
  /** Everything the server printed so far, stdout and stderr. */
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function makeTempDir(prefix = 'jwt-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** A test server's environment: its own files under `root`, port 0, a known secret, no attempt limits. */
function testEnv(root: string, overrides: Record<string, string> = {}): Record<string, string> & { DATA_DIR: string; TLS_CERT: string } {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_SECRET,
    RATE_LIMIT: '0',
    TLS_KEY: path.join(root, 'key.pem'),
    ...overrides,
    DATA_DIR: overrides.DATA_DIR ?? path.join(root, 'data'),
    TLS_CERT: overrides.TLS_CERT ?? path.join(root, 'cert.pem'),
  };
}

/**
 * Runs `server.ts` in a child process on port 0 and waits for its "Listening on" line. The child is
 * the runtime itself (Node, or Deno without the `start:deno` launcher in between), so a signal the
 * test sends, `SIGKILL` included, reaches the server.
 */
export async function launchServer(env: Record<string, string> = {}, dir?: string): Promise<LaunchedServer> {
  const root = dir ?? (await makeTempDir());
  const serverEnv = testEnv(root, env);
  const fullEnv = { ...process.env, ...serverEnv };
  const [command, args] =
    RUNTIME === 'deno' ? [DENO, await denoRunArgs(fullEnv, PROJECT_ROOT)] : [process.execPath, ['--import', 'tsx', 'server.ts']];
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const origin = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /Listening on (https:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
  const ca = await readFile(serverEnv.TLS_CERT, 'utf8');
  return {
    origin,
    ca,
    dataDir: serverEnv.DATA_DIR,
    child,
    output: () => output,
    browser: () => new TestBrowser(origin, ca),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (dir === undefined) await rm(root, { recursive: true, force: true });
      return code;
    },
  };
}

export interface InProcessServer extends TestServer {
  readonly running: RunningServer;
  close(): Promise<void>;
}

/** The same server, in this process, with whatever options (clock, lifetimes) the test passes. */
export async function startInProcess(options: StartOptions & { env?: Record<string, string>; dir?: string } = {}): Promise<InProcessServer> {
  const root = options.dir ?? (await makeTempDir());
  const config = readConfig(testEnv(root, options.env));
  const running = await startServer(config, { log: silentLogger, passwords: { params: FAST_ARGON2 }, ...options });
  return {
    origin: running.url,
    ca: running.certificate,
    dataDir: config.dataDir,
    running,
    browser: () => new TestBrowser(running.url, running.certificate),
    async close() {
      await running.close();
      if (options.dir === undefined) await rm(root, { recursive: true, force: true });
    },
  };
}

/** A clock a test moves by hand. */
export function manualClock(start = Date.now()): { now: () => number; advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
  };
}
