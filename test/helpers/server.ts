/**
 * Servers for tests: the shared starters (`scripts/support/servers.ts`) with the tests' settings (a
 * known JWT_SECRET, no attempt limits, 127.0.0.1) and a cookie-jar client on each.
 *
 * `launchServer` runs the real `server.ts` as a child process (what `npm start` runs), for black-box
 * tests: under Node, or under Deno with `TEST_RUNTIME=deno` (`npm run test:deno`), with the permissions
 * `npm run start:deno` grants. `startInProcess` runs the same server in this process, so a test can
 * pass in a clock.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { silentLogger } from '../../lib/support/log.ts';
import { DENO, denoRunArgs } from '../../scripts/deno_permissions.ts';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';
import type { StartOptions } from '../../lib/start_server.ts';
import type { ServerTimeouts } from '../../lib/startup/https_server.ts';
import * as servers from '../../scripts/support/servers.ts';
import { TestBrowser } from './https_client.ts';

export { PROJECT_ROOT } from '../../scripts/support/project_root.ts';
export { makeTempDir } from '../../scripts/support/servers.ts';

/** A JWT_SECRET tests know, so they can forge tokens the way an attacker with the key could. */
export const TEST_SECRET = 'test-secret-that-is-at-least-32-bytes-long!';

/** The variables of a server an npm script starts with its files in `dir`: loopback, any free port, no attempt limits. */
export function npmServerEnv(dir: string) {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: path.join(dir, 'data'),
    TLS_CERT: path.join(dir, 'cert.pem'),
    TLS_KEY: path.join(dir, 'key.pem'),
    JWT_SECRET: TEST_SECRET,
    RATE_LIMIT: '0',
  };
}

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

export interface LaunchedServer extends TestServer, servers.LaunchedServer {}

export interface InProcessServer extends TestServer, servers.InProcessServer {}

/** A test server's environment: a known secret, no attempt limits, loopback; `overrides` win. */
function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return { HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, RATE_LIMIT: '0', ...overrides };
}

/** `server.ts` in a child process, under `RUNTIME`, with its files in `dir` (a temporary folder by default). */
export async function launchServer(env: Record<string, string> = {}, dir?: string): Promise<LaunchedServer> {
  const launched = await servers.launchServer({ env: testEnv(env), dir, runtime: RUNTIME });
  return Object.assign(launched, { browser: () => new TestBrowser(launched.origin, launched.ca) });
}

/** The options that survive JSON: numbers only. */
export interface ChildOptions {
  timeouts?: Partial<ServerTimeouts>;
  maxConnections?: number;
  unknownNamesRemembered?: number;
  /** Cheaper argon2id parameters (`FAST_ARGON2`), for tests whose subject is not the hash cost. */
  passwords?: { params: typeof FAST_ARGON2 };
}

/**
 * Like `launchServer`, with `StartOptions` made small enough to watch a limit bite, under Node or,
 * with `TEST_RUNTIME=deno`, under Deno with the permissions `npm run start:deno` grants;
 * `descriptors` lowers the process's descriptor limit.
 */
export async function launchWithOptions(options: ChildOptions, { env = {}, descriptors, dir }: { env?: Record<string, string>; descriptors?: number; dir?: string } = {}): Promise<LaunchedServer> {
  const launched = await servers.launchServer({ env: testEnv(env), runtime: RUNTIME, startOptions: { ...options }, descriptors, dir });
  return Object.assign(launched, { browser: () => new TestBrowser(launched.origin, launched.ca) });
}

/** The same server, in this process, with whatever options (clock, lifetimes) the test passes. */
export async function startInProcess(options: StartOptions & { env?: Record<string, string>; dir?: string } = {}): Promise<InProcessServer> {
  const started = await servers.startInProcess({ log: silentLogger, passwords: { params: FAST_ARGON2 }, ...options, env: testEnv(options.env) });
  return Object.assign(started, { browser: () => new TestBrowser(started.origin, started.ca) });
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

/**
 * Runs server.ts under the test runtime (with the permissions `npm run start:deno` grants) expecting it
 * to refuse to start; resolves with its exit code, everything it printed, and its stderr alone.
 * `spawnAs` runs it as another user.
 */
export async function runUntilExit(env: Record<string, string>, spawnAs: { uid?: number; gid?: number } = {}): Promise<{ code: number | null; output: string; stderr: string }> {
  const dir = await servers.makeTempDir();
  const fullEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: path.join(dir, 'data'), TLS_CERT: path.join(dir, 'c.pem'), TLS_KEY: path.join(dir, 'k.pem'), ...env };
  const [command, args] =
    RUNTIME === 'deno' ? [DENO, await denoRunArgs(fullEnv, PROJECT_ROOT)] : [process.execPath, ['--import', 'tsx', 'server.ts']];
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env: { ...fullEnv, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], ...spawnAs });
  let output = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk;
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output, stderr };
}
