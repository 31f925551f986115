/**
 * `npm start`, `npm run start:deno` and `npm run dev` as an operator runs them: a signal to npm's own PID (what a
 * process manager or `kill` sends), a Ctrl+C (the terminal signals every process in the foreground
 * group), and a SIGKILL to the process npm started. Each must leave nothing listening.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { holdSignup } from '../helpers/in_flight.ts';
import { PROJECT_ROOT, makeTempDir, npmServerEnv } from '../helpers/server.ts';

let root: string;
before(async () => {
  root = await makeTempDir();
});
after(() => rm(root, { recursive: true, force: true }));

interface NpmRun {
  readonly pid: number;
  readonly origin: string;
  readonly ca: string;
  readonly exited: Promise<number | null>;
  output(): string;
}

let runs = 0;

/** Long enough for Deno's first start; a stop that hangs fails the test instead of the whole run. */
const LIMIT = { timeout: 60_000 };

/**
 * Runs `npm run <script>` in a process group of its own (as a shell runs a foreground job) and waits
 * for its "Listening on" line. Whatever is left of the group when the test ends is killed.
 */
async function npmRun(script: string, t: { after(fn: () => void): void }): Promise<NpmRun> {
  const dir = path.join(root, `run-${++runs}`);
  const env = { ...process.env, ...npmServerEnv(dir) };
  const child = spawn('npm', ['run', script], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  t.after(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone: nothing was left behind
    }
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const origin = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const match = /Listening on (https:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`npm run ${script} exited with ${code} before listening:\n${output}`)));
  });
  return { pid, origin, ca: await readFile(env.TLS_CERT, 'utf8'), exited, output: () => output };
}

/** Nothing listens on the origin's port any more: a new connection is refused. */
async function assertPortClosed(origin: string): Promise<void> {
  await assert.rejects(send(`${origin}/`, '', 'GET'), { code: 'ECONNREFUSED' }, `something still listens on ${origin}`);
}

/** The PIDs of the processes `pid` started (Linux). */
async function childrenOf(pid: number): Promise<number[]> {
  const list = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return list.split(' ').filter(Boolean).map(Number);
}

for (const script of ['start', 'start:deno', 'dev']) {
  describe(`npm run ${script}`, () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      test(`${signal} to npm's own PID stops the server gracefully: exit code 0, nothing left listening, a last line saying so`, LIMIT, async (t) => {
        const run = await npmRun(script, t);
        process.kill(run.pid, signal);
        assert.equal(await run.exited, 0, run.output());
        await assertPortClosed(run.origin);
        assert.match(run.output().trimEnd().split('\n').at(-1) ?? '', /^Stopped: /);
      });
    }
    // `npm run dev` runs tsx's watcher, which restarts the server on a change: the two tests below are
    // about npm running the server itself.
    if (script === 'dev') return;

    test('a Ctrl+C, which reaches the server twice (from the terminal and from npm), still lets a request in flight finish', LIMIT, async (t) => {
      const run = await npmRun(script, t);
      const signup = await holdSignup(run.origin, run.ca, 'ctrl-c');
      process.kill(-run.pid, 'SIGINT'); // the whole foreground group, as a terminal does
      assert.deepEqual(await signup.finish(), { status: 303, location: '/order' });
      assert.equal(await run.exited, 0, run.output());
      await assertPortClosed(run.origin);
    });

    test('SIGKILL to the process npm started leaves nothing listening: npm runs the server itself, not a launcher', LIMIT, async (t) => {
      const run = await npmRun(script, t);
      const [server, ...others] = await childrenOf(run.pid);
      assert.deepEqual(others, []);
      process.kill(server!, 'SIGKILL');
      await run.exited;
      await assertPortClosed(run.origin);
    });
  });
}
