/**
 * Like `launchServer`, but the child runs `start_with_options.ts`, which passes `StartOptions` to
 * `startServer`: a limit made small enough to watch it bite in a test, under Node or, with
 * `TEST_RUNTIME=deno`, under Deno with the permissions `npm run start:deno` grants.
 */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ServerTimeouts } from '../../lib/start_server.ts';
import { DENO, denoRunArgs } from '../../scripts/deno_permissions.ts';
import { TestBrowser } from './https_client.ts';
import { makeTempDir, PROJECT_ROOT, RUNTIME, TEST_SECRET, type LaunchedServer } from './server.ts';

/** The options that survive JSON: numbers only. */
export interface ChildOptions {
  timeouts?: Partial<ServerTimeouts>;
  maxConnections?: number;
}

const SCRIPT = path.join(PROJECT_ROOT, 'test', 'helpers', 'start_with_options.ts');

/**
 * `descriptors` runs the server under `prlimit --nofile=N` (util-linux), which sets the limit and then
 * becomes the server, so signals still reach it.
 */
export async function launchWithOptions(options: ChildOptions, { env = {}, descriptors }: { env?: Record<string, string>; descriptors?: number } = {}): Promise<LaunchedServer> {
  const root = await makeTempDir();
  const serverEnv = {
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_SECRET,
    RATE_LIMIT: '0',
    DATA_DIR: path.join(root, 'data'),
    TLS_CERT: path.join(root, 'cert.pem'),
    TLS_KEY: path.join(root, 'key.pem'),
    ...env,
  };
  const fullEnv = { ...process.env, ...serverEnv };
  const json = JSON.stringify(options);
  const [command, args] =
    RUNTIME === 'deno'
      ? [DENO, [...(await denoRunArgs(fullEnv, PROJECT_ROOT)).slice(0, -1), SCRIPT, json]]
      : [process.execPath, ['--import', 'tsx', SCRIPT, json]];
  const [program, argv] = descriptors === undefined ? [command, args] : ['prlimit', [`--nofile=${descriptors}:${descriptors}`, '--', command, ...args]];
  const child = spawn(program, argv, { cwd: PROJECT_ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
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
      await rm(root, { recursive: true, force: true });
      return code;
    },
  };
}
