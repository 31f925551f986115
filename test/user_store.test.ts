import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as realFs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { StorageError, type FileSystem } from '../lib/durable_file.ts';
import { JsonUserStore } from '../lib/user_store.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'user-store-'));
  dirs.push(dir);
  return dir;
}

async function fileUsers(dir: string): Promise<{ username: string; passwordHash: string }[]> {
  return JSON.parse(await readFile(path.join(dir, 'users.json'), 'utf8')).users;
}

test('JsonUserStore keeps users.json valid and in sign-up order across several blocks of users', async () => {
  const dir = await tempDir();
  const store = await JsonUserStore.open(dir);
  const names = Array.from({ length: 345 }, (_, i) => `user${i}`);
  await Promise.all(names.map((name) => store.add(name, `$argon2id$${name}`)));
  assert.deepEqual((await fileUsers(dir)).map((user) => user.username), names);

  const reopened = await JsonUserStore.open(dir);
  assert.equal(reopened.size, names.length);
  assert.equal(reopened.findByName('USER150')?.passwordHash, '$argon2id$user150');
});

test('JsonUserStore.setPasswordHash() rewrites the user in place, in a block that was already written', async () => {
  const dir = await tempDir();
  const store = await JsonUserStore.open(dir);
  for (let i = 0; i < 300; i++) await store.add(`user${i}`, 'old');
  const user = store.findByName('user10')!;
  await store.setPasswordHash(user.id, 'new');
  const users = await fileUsers(dir);
  assert.equal(users[10]?.username, 'user10');
  assert.equal(users[10]?.passwordHash, 'new');
  assert.equal(users.filter((entry) => entry.passwordHash === 'new').length, 1);
  assert.equal(store.findById(user.id)?.passwordHash, 'new');
});

test('JsonUserStore.add() that fails to reach the disk leaves neither the index nor the next write holding the user', async () => {
  const dir = await tempDir();
  let failNext = false;
  const fs: FileSystem = {
    ...realFs,
    open: ((...args: Parameters<typeof realFs.open>) => {
      if (failNext && String(args[0]).endsWith('.tmp')) {
        failNext = false;
        return Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
      }
      return realFs.open(...args);
    }) as typeof realFs.open,
  };
  const store = await JsonUserStore.open(dir, fs);
  await store.add('kept', 'h');
  failNext = true;
  await assert.rejects(store.add('lost', 'h'), StorageError);
  assert.equal(store.findByName('lost'), undefined);
  await store.add('later', 'h');
  assert.deepEqual((await fileUsers(dir)).map((user) => user.username), ['kept', 'later']);
});
