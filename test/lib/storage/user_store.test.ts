import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { CorruptFileError, StorageError } from '../../../lib/storage/durable_file.ts';
import { JsonUserStore, UsernameTakenError } from '../../../lib/storage/user_store.ts';
import { FaultyFileSystem } from '../../helpers/faulty_fs.ts';

/** Stands in for an argon2id PHC string; the store never looks inside it. */
const HASH = '$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';

describe('JsonUserStore', () => {
  let dataDir: string;
  let usersFile: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'user-store-test-'));
    usersFile = path.join(dataDir, 'users.json');
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('add() returns the new user, found by id and by name', async () => {
    const store = await JsonUserStore.open(dataDir);
    const alice = await store.add('alice', HASH);
    assert.equal(alice.username, 'alice');
    assert.equal(alice.passwordHash, HASH);
    assert.match(alice.id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(alice.createdAt)));
    assert.equal((await store.findById(alice.id)), alice);
    assert.equal((await store.findByName('alice')), alice);
    assert.equal(store.size, 1);
  });

  for (const name of ['Alice', 'ALICE', 'ａｌｉｃｅ', 'Ａｌｉｃｅ']) {
    test(`findByName() finds "alice" as ${JSON.stringify(name)}`, async () => {
      const store = await JsonUserStore.open(dataDir);
      const alice = await store.add('alice', HASH);
      assert.equal((await store.findByName(name)), alice);
    });
  }

  test('findByName() and findById() return undefined for strangers', async () => {
    const store = await JsonUserStore.open(dataDir);
    await store.add('alice', HASH);
    assert.equal((await store.findByName('alicia')), undefined);
    assert.equal((await store.findById('no-such-id')), undefined);
  });

  test('add() resolves only once the user is in users.json', async () => {
    const store = await JsonUserStore.open(dataDir);
    const alice = await store.add('alice', HASH);
    const onDisk = JSON.parse(await readFile(usersFile, 'utf8'));
    assert.deepEqual(onDisk, { version: 1, users: [alice] });
  });

  test('a store opened again on the same folder finds every user', async () => {
    const first = await JsonUserStore.open(dataDir);
    const alice = await first.add('alice', HASH);
    const bob = await first.add('Bob', HASH);

    const reopened = await JsonUserStore.open(dataDir);
    assert.equal(reopened.size, 2);
    assert.deepEqual((await reopened.findByName('ALICE')), alice);
    assert.deepEqual((await reopened.findById(bob.id)), bob);
  });

  test('add() refuses a name that is taken under another case or width', async () => {
    const store = await JsonUserStore.open(dataDir);
    await store.add('alice', HASH);
    await assert.rejects(store.add('ＡＬＩＣＥ', HASH), UsernameTakenError);
    assert.equal(store.size, 1);
  });

  test('two concurrent add() of one name: exactly one wins, the other gets UsernameTakenError', async () => {
    const store = await JsonUserStore.open(dataDir);
    const results = await Promise.allSettled([store.add('alice', HASH), store.add('Alice', HASH)]);

    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result) => result.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(lost[0]!.reason instanceof UsernameTakenError);
    assert.equal(lost[0]!.reason.code, 'ERR_USERNAME_TAKEN');
    const reopened = await JsonUserStore.open(dataDir);
    assert.equal(reopened.size, 1);
  });

  test('concurrent add() of different names are all stored, sharing file writes', async () => {
    const fs = new FaultyFileSystem();
    const store = await JsonUserStore.open(dataDir, { fs });
    const names = Array.from({ length: 20 }, (_, i) => `user${i}`);
    await Promise.all(names.map((name) => store.add(name, HASH)));

    assert.ok(fs.renames <= 2, `${fs.renames} file writes for 20 sign-ups`);
    const reopened = await JsonUserStore.open(dataDir);
    const missing: string[] = [];
    for (const name of names) if ((await reopened.findByName(name)) === undefined) missing.push(name);
    assert.deepEqual(missing, []);
  });

  test('a failed write rejects add() with StorageError and leaves the name free, in memory and on disk', async () => {
    const fs = new FaultyFileSystem();
    const store = await JsonUserStore.open(dataDir, { fs });
    await store.add('bob', HASH);

    fs.failNext('rename');
    await assert.rejects(store.add('alice', HASH), StorageError);

    assert.equal((await store.findByName('alice')), undefined);
    assert.equal(store.size, 1);
    assert.equal((await (await JsonUserStore.open(dataDir)).findByName('alice')), undefined);
    const alice = await store.add('alice', HASH);
    assert.deepEqual((await (await JsonUserStore.open(dataDir)).findByName('alice')), alice);
  });

  test('a sign-up that joins the write after a failed one does not store the failed user', async () => {
    const fs = new FaultyFileSystem();
    const store = await JsonUserStore.open(dataDir, { fs });
    const held = fs.holdRenames();
    fs.failNext('rename');
    const failing = store.add('alice', HASH);
    await held.reached;
    const next = store.add('bob', HASH);
    held.release();

    await assert.rejects(failing, StorageError);
    await next;
    const reopened = await JsonUserStore.open(dataDir);
    assert.equal((await reopened.findByName('alice')), undefined);
    assert.notEqual((await reopened.findByName('bob')), undefined);
  });

  test('setPasswordHash() replaces the hash on disk', async () => {
    const store = await JsonUserStore.open(dataDir);
    const alice = await store.add('alice', HASH);
    await store.setPasswordHash(alice.id, `${HASH}-new`);
    assert.equal((await store.findByName('alice'))?.passwordHash, `${HASH}-new`);
    assert.equal((await (await JsonUserStore.open(dataDir)).findById(alice.id))?.passwordHash, `${HASH}-new`);
  });

  test('setPasswordHash() keeps the old hash when the write fails', async () => {
    const fs = new FaultyFileSystem();
    const store = await JsonUserStore.open(dataDir, { fs });
    const alice = await store.add('alice', HASH);
    fs.failNext('fsync');
    await assert.rejects(store.setPasswordHash(alice.id, `${HASH}-new`), StorageError);
    assert.equal((await store.findById(alice.id))?.passwordHash, HASH);
    assert.equal((await store.findByName('alice'))?.passwordHash, HASH);
  });

  const user = (id: string, username: string) => ({ id, username, passwordHash: HASH, createdAt: '2026-01-01T00:00:00.000Z' });
  const refused: [description: string, text: string][] = [
    ['truncated JSON', '{"version":1,"users":[{"id":'],
    ['JSON null', 'null'],
    ['an array', '[]'],
    ['no "users" list', '{"version":1}'],
    ['a user without a password hash', JSON.stringify({ version: 1, users: [{ id: '1', username: 'alice', createdAt: '2026-01-01' }] })],
    ['a user that is not an object', JSON.stringify({ version: 1, users: ['alice'] })],
    ['one name twice', JSON.stringify({ version: 1, users: [user('1', 'alice'), user('2', 'alice')] })],
    ['one name twice after two names that collide', JSON.stringify({ version: 1, users: [user('1', 'strasse'), user('2', 'straße'), user('3', 'straße')] })],
    ['one id twice', JSON.stringify({ version: 1, users: [user('1', 'alice'), user('1', 'bob')] })],
  ];
  for (const [description, text] of refused) {
    test(`open() refuses a users.json holding ${description}, with CorruptFileError, and leaves it untouched`, async () => {
      await writeFile(usersFile, text);
      await assert.rejects(JsonUserStore.open(dataDir), CorruptFileError);
      assert.equal(await readFile(usersFile, 'utf8'), text);
    });
  }

  // Names stored before usernameKey() learnt to fold "ß" and "ı" can collide now: the store must still start.
  test('open() starts with two stored names that usernameKey() now makes one: the first keeps every spelling, the second its own', async () => {
    const text = JSON.stringify({ version: 1, users: [user('1', 'strasse'), user('2', 'straße'), user('3', 'istanbul'), user('4', 'ıstanbul')] });
    await writeFile(usersFile, text);
    const store = await JsonUserStore.open(dataDir);
    assert.equal(store.size, 4);
    assert.equal((await store.findByName('strasse'))?.id, '1');
    assert.equal((await store.findByName('STRASSE'))?.id, '1');
    assert.equal((await store.findByName('straße'))?.id, '2', 'found by its exact name');
    assert.equal((await store.findByName('Straße'))?.id, '1', 'any other spelling is the first one\'s');
    assert.equal((await store.findByName('ıstanbul'))?.id, '4');
    assert.equal((await store.findByName('İstanbul'))?.id, '3');
    assert.equal((await store.findById('2'))?.username, 'straße');
    await assert.rejects(store.add('STRAẞE', HASH), UsernameTakenError);
    assert.equal(await readFile(usersFile, 'utf8'), text, 'nothing was rewritten');

    await store.setPasswordHash('2', 'new-hash');
    assert.equal((await store.findByName('strasse'))?.passwordHash, HASH, 'the first keeps the name after the second changes');
    assert.equal((await store.findByName('straße'))?.passwordHash, 'new-hash');
    const reopened = await JsonUserStore.open(dataDir);
    assert.equal((await reopened.findByName('straße'))?.passwordHash, 'new-hash');
  });
});

describe('JsonUserStore with many users (kept in blocks of pre-encoded lines)', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'user-store-blocks-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  const fileUsers = async () => JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')).users as { username: string; passwordHash: string }[];

  test('keeps users.json valid and in sign-up order across several blocks', async () => {
    const store = await JsonUserStore.open(dataDir);
    const names = Array.from({ length: 345 }, (_, i) => `user${i}`);
    await Promise.all(names.map((name) => store.add(name, `$argon2id$${name}`)));
    assert.deepEqual((await fileUsers()).map((user) => user.username), names);

    const reopened = await JsonUserStore.open(dataDir);
    assert.equal(reopened.size, names.length);
    assert.equal((await reopened.findByName('USER150'))?.passwordHash, '$argon2id$user150');
  });

  test('setPasswordHash() rewrites the user in place, in a block that was already written', async () => {
    const store = await JsonUserStore.open(dataDir);
    for (let i = 0; i < 300; i++) await store.add(`user${i}`, 'old');
    const user = (await store.findByName('user10'))!;
    await store.setPasswordHash(user.id, 'new');
    const users = await fileUsers();
    assert.equal(users[10]?.username, 'user10');
    assert.equal(users[10]?.passwordHash, 'new');
    assert.equal(users.filter((entry) => entry.passwordHash === 'new').length, 1);
  });
});
