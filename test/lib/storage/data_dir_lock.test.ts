/**
 * DATA_DIR's lock: one holder at a time, a second start refused with one line naming the holder and
 * nothing in the folder touched, a stale lock (its process gone) taken over, even by several starts at
 * once, and never a lock whose process cannot be checked. A real second server is refused in
 * test/https/data_dir_lock.test.ts; here the lock itself, in this process and in several racing ones.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { link, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LOCK_FILE, acquireLock, replaceStaleLock, type DataDirLock } from '../../../lib/storage/data_dir_lock.ts';
import { ConfigError } from '../../../lib/errors.ts';

/** Above Linux's largest pid (PID_MAX_LIMIT, 2^22): no process has it, so a lock naming it is stale. */
const DEAD_PID = 2 ** 22 + 1;

let dataDir: string;
let lockFile: string;
const held: DataDirLock[] = [];
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'lock-test-'));
  lockFile = path.join(dataDir, LOCK_FILE);
});
afterEach(async () => {
  for (const lock of held.splice(0)) await lock.release();
  await rm(dataDir, { recursive: true, force: true });
});

async function take(options?: Parameters<typeof acquireLock>[1]): Promise<DataDirLock> {
  const lock = await acquireLock(dataDir, options);
  held.push(lock);
  return lock;
}

const writeLock = (holder: Record<string, unknown>) => writeFile(lockFile, `${JSON.stringify(holder)}\n`);
const holderOnDisk = async () => JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number; host: string; since: string; id: string };

/** Every file in the folder with its bytes, size and times: what "touched nothing" compares. */
async function folderState(): Promise<string> {
  const names = (await readdir(dataDir)).sort();
  const entries = await Promise.all(
    names.map(async (name) => {
      const info = await stat(path.join(dataDir, name));
      return `${name} ${info.size} ${info.mtimeMs} ${info.ctimeMs} ${await readFile(path.join(dataDir, name), 'base64')}`;
    }),
  );
  return [`folder ${(await stat(dataDir)).mtimeMs}`, ...entries].join('\n');
}

describe('the lock on DATA_DIR', () => {
  test('is a file naming this process, its host and since when; released at a clean stop, it is gone', async () => {
    const lock = await take();
    assert.deepEqual(await holderOnDisk(), { ...lock.holder });
    assert.equal(lock.holder.pid, process.pid);
    assert.equal(lock.holder.host, hostname());
    assert.equal((await stat(lockFile)).mode & 0o777, 0o600);
    await lock.release();
    assert.deepEqual(await readdir(dataDir), []);
    await take(); // the folder is free again
  });

  test('a second taker is refused with one line naming the holder (pid, since when), and the folder is left exactly as it was', async () => {
    const first = await take();
    await writeFile(path.join(dataDir, 'users.journal.1.jsonl'), '{"seq":1,"op":"add","user":{"id":"x","userna'); // a torn record to leave alone
    const before = await folderState();
    await new Promise((resolve) => setTimeout(resolve, 20)); // so that a touch would show in the times
    await assert.rejects(take(), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message.split('\n').length, 1);
      assert.ok(error.message.includes(`is in use by another server (pid ${process.pid} on this host, since ${first.holder.since})`), error.message);
      return true;
    });
    assert.equal(await folderState(), before);
  });

  test('a stale lock, whose pid runs no more on this host (a kill -9), is taken over', async () => {
    await writeLock({ pid: DEAD_PID, host: hostname(), since: '2020-01-01T00:00:00.000Z', id: 'killed' });
    const lock = await take();
    assert.equal((await holderOnDisk()).id, lock.holder.id);
    assert.deepEqual(await readdir(dataDir), [LOCK_FILE], 'no takeover file left behind');
  });

  test('a lock naming this process\'s pid but not held by it is stale: a container\'s server has the same pid at every start', async () => {
    await writeLock({ pid: process.pid, host: hostname(), since: '2020-01-01T00:00:00.000Z', id: 'an-earlier-process' });
    const lock = await take();
    assert.equal((await holderOnDisk()).id, lock.holder.id);
  });

  test('a lock held by a live process of another user is not stale (getpriority answers for any process)', async () => {
    // pid 1 (init) runs as root: kill(1, 0) would say EPERM to anyone else, getpriority answers.
    await writeLock({ pid: 1, host: hostname(), since: '2020-01-01T00:00:00.000Z', id: 'init' });
    await assert.rejects(take(), /is in use by another server \(pid 1 on this host, since 2020-01-01T00:00:00\.000Z\)/);
  });

  test('a lock from another host is never taken over: its pid cannot be checked from here', async () => {
    await writeLock({ pid: DEAD_PID, host: 'elsewhere.example', since: '2020-01-01T00:00:00.000Z', id: 'remote' });
    const before = await folderState();
    await assert.rejects(take(), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /locked by a server on another host \(pid 4194305 on host "elsewhere\.example", since 2020-01-01T00:00:00\.000Z\)/);
      assert.ok(error.message.endsWith(`remove ${lockFile}`), error.message);
      return true;
    });
    assert.equal(await folderState(), before);
  });

  for (const [what, text] of [
    ['an empty file', ''],
    ['a pid of 0 (which would ask about the asking process itself)', JSON.stringify({ pid: 0, host: hostname(), since: 'x', id: 'y' })],
    ['JSON without a host', JSON.stringify({ pid: DEAD_PID, since: 'x', id: 'y' })],
  ]) {
    test(`a lock file that is ${what} is refused, never taken over`, async () => {
      await writeFile(lockFile, text!);
      await assert.rejects(take(), new RegExp(`${lockFile.replace(/[.]/g, '\\.')} is not a lock this server wrote; if no server runs on this folder, remove it`));
      assert.equal(await readFile(lockFile, 'utf8'), text);
    });
  }

  test('eight takers finding one stale lock at once: exactly one gets it', async () => {
    await writeLock({ pid: DEAD_PID, host: hostname(), since: '2020-01-01T00:00:00.000Z', id: 'killed' });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => take()));
    const taken = results.filter((result) => result.status === 'fulfilled');
    assert.equal(taken.length, 1, results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'taken')).join('\n'));
    assert.equal((await holderOnDisk()).id, taken[0]!.value.holder.id);
  });

  test('a taker acting late on a lock it found stale leaves alone the lock that replaced it', async () => {
    // Two starts read the stale lock; the first replaces it; only then does the second act on what it read.
    const stale = { pid: DEAD_PID, host: hostname(), since: '2020-01-01T00:00:00.000Z', id: 'killed' };
    await writeLock(stale);
    const first = await take();
    assert.equal(await replaceStaleLock(lockFile, stale, '{"pid":1,"host":"x","since":"x","id":"late"}\n'), 'gone');
    assert.equal((await holderOnDisk()).id, first.holder.id);
    assert.deepEqual(await readdir(dataDir), [LOCK_FILE]);
  });

  test('a takeover cut short (its takeover file left, the stale lock still there) refuses after a wait, naming both files', async () => {
    await writeLock({ pid: DEAD_PID, host: hostname(), since: '2020-01-01T00:00:00.000Z', id: 'killed' });
    await link(lockFile, `${lockFile}.takeover-killed`);
    await assert.rejects(take({ takeoverWaitMs: 100 }), (error: Error) => {
      assert.match(error.message, /another start was taking over the stale lock/);
      assert.ok(error.message.includes(`remove ${lockFile}.takeover-killed and ${lockFile}`), error.message);
      return true;
    });
  });
});

const LOCK_TAKER = fileURLToPath(new URL('../../helpers/lock_taker.ts', import.meta.url));

/** `test/helpers/lock_taker.ts` in a process of its own, under the runtime running this test. */
function runLockTaker() {
  const args = process.versions.deno === undefined ? ['--import', 'tsx', LOCK_TAKER, dataDir] : ['run', '-A', '--no-check', LOCK_TAKER, dataDir];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const line = (index: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const lines = output.split('\n');
        if (lines.length > index + 1) resolve(lines[index]!);
      };
      child.stdout.on('data', (chunk: Buffer) => ((output += chunk), check()));
      check();
      child.once('exit', (code) => reject(new Error(`the lock taker exited with ${code}, printing "${output}"`)));
    });
  return {
    ready: line(0),
    /** Tells it to take the lock; resolves with what it printed. */
    go: () => (child.stdin.write('go\n'), line(1)),
    done: () => (child.stdin.end(), exited),
  };
}

describe('processes racing for one stale lock', () => {
  test('four processes told at once to take a lock a kill -9 left: exactly one holds it, the others name it', async () => {
    await writeLock({ pid: DEAD_PID, host: hostname(), since: '2020-01-01T00:00:00.000Z', id: 'killed' });
    const takers = Array.from({ length: 4 }, () => runLockTaker());
    try {
      await Promise.all(takers.map((taker) => taker.ready));
      const lines = await Promise.all(takers.map((taker) => taker.go()));
      assert.equal(lines.filter((line) => line === 'taken').length, 1, lines.join('\n'));
      const holder = await holderOnDisk();
      for (const line of lines.filter((each) => each !== 'taken')) {
        assert.match(line, new RegExp(`^Cannot start: DATA_DIR ".*" is in use by another server \\(pid ${holder.pid} on this host`));
      }
    } finally {
      await Promise.all(takers.map((taker) => taker.done()));
    }
    assert.deepEqual(await readdir(dataDir), [], 'released when its holder stopped');
  });
});
