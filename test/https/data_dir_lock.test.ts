/**
 * Two `server.ts` processes on one DATA_DIR (the outside fault round: two accounts for one name, two
 * processes appending the same record numbers, a folder that then refused to start). The second is
 * refused with one line naming the first, before it reads, repairs or writes anything, even on the same
 * port; after a kill -9 the lock left behind is taken over by the next start; a clean stop removes it.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { launchServer, makeTempDir, type LaunchedServer } from '../helpers/server.ts';

const root = await makeTempDir();
const dataDir = path.join(root, 'data');
const running: LaunchedServer[] = [];
after(async () => {
  for (const server of running) await server.stop('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

async function launch(env: Record<string, string> = {}): Promise<LaunchedServer> {
  const server = await launchServer(env, root);
  running.push(server);
  return server;
}

/** What `launchServer` says when the server exits before listening: its output. */
async function refusal(env: Record<string, string>): Promise<string> {
  const error = await launch(env).then(
    () => assert.fail('the second server started'),
    (failure: Error) => failure,
  );
  const match = /^server\.ts exited with 1 before listening:\n([^]*)$/.exec(error.message);
  assert.ok(match, error.message);
  return match[1]!;
}

/** Every file in the folder, with its bytes and times. */
async function folderState(): Promise<string> {
  const names = (await readdir(dataDir)).sort();
  const files = await Promise.all(
    names.map(async (name) => {
      const info = await stat(path.join(dataDir, name));
      return `${name} ${info.size} ${info.mtimeMs} ${await readFile(path.join(dataDir, name), 'base64')}`;
    }),
  );
  return [`folder ${(await stat(dataDir)).mtimeMs}`, ...files].join('\n');
}

const form = (username: string) => ({ form: { username, password: 'correct horse battery' } });
const holder = async () => JSON.parse(await readFile(path.join(dataDir, 'server.lock'), 'utf8')) as { pid: number; since: string };

test('a second server on the same DATA_DIR (another port, then the same port) is refused with one line naming the first, touching no file', async () => {
  const first = await launch();
  assert.equal((await first.browser().request('POST', '/signup', form('alice'))).status, 303);
  const { pid, since } = await holder();
  assert.equal(pid, first.child.pid);
  const before = await folderState();

  for (const env of [{}, { PORT: new URL(first.origin).port }] as Record<string, string>[]) {
    const output = await refusal(env);
    assert.deepEqual(
      output.trim().split('\n'),
      [`Cannot start: DATA_DIR "${dataDir}" is in use by another server (pid ${pid} on this host, since ${since}); stop it, or give this server a DATA_DIR of its own`],
      output,
    );
  }
  assert.equal(await folderState(), before, 'the refused starts read, repaired, created and removed nothing');

  // The first goes on alone: the name is still taken there, once.
  assert.equal((await first.browser().request('POST', '/signup', form('alice'))).status, 409);
  assert.equal(await first.stop('SIGTERM'), 0);
  assert.deepEqual((await readdir(dataDir)).filter((name) => name.startsWith('server.lock')), [], 'a clean stop releases the lock');
});

test('after kill -9 the stale lock is taken over by the next start, which keeps every user; a clean stop removes it', async () => {
  const first = await launch();
  assert.equal((await first.browser().request('POST', '/signup', form('bob'))).status, 303);
  assert.equal(await first.stop('SIGKILL'), null);
  assert.equal((await holder()).pid, first.child.pid, 'the killed server\'s lock is still there');

  const next = await launch();
  assert.equal((await holder()).pid, next.child.pid);
  assert.equal((await next.browser().request('POST', '/login', form('alice'))).status, 303);
  assert.equal((await next.browser().request('POST', '/login', form('bob'))).status, 303);
  assert.equal(await next.stop('SIGTERM'), 0);
  assert.deepEqual((await readdir(dataDir)).filter((name) => name.startsWith('server.lock')), []);
});
