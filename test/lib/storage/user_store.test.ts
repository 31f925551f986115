/**
 * What `JsonUserStore` keeps on disk. The behaviour every user store shares is in the store contract
 * (`store_contract.test.ts`); the journal's durability and recovery in `journal.test.ts`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { JsonUserStore } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { CorruptFileError, StorageError, UsernameTakenError } from '../../../lib/errors.ts';

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
  const open = (fs?: StepFileSystem) => JsonUserStore.open(dataDir, { fs, log: silentLogger });
  const fileUsers = async () => JSON.parse(await readFile(usersFile, 'utf8')).users as { username: string; passwordHash: string }[];

  test('add() resolves only once the user is in the journal on disk', async () => {
    const store = await open();
    const alice = await store.add('alice', HASH);
    const journal = await readFile(path.join(dataDir, 'users.journal.1.jsonl'), 'utf8');
    const { sha256: _checksum, ...record } = JSON.parse(journal) as Record<string, unknown>;
    assert.deepEqual(record, { seq: 1, op: 'add', user: alice });
  });

  test('after a clean stop, users.json lists every user in sign-up order, a rehash in its place', async () => {
    const store = await open();
    const names = Array.from({ length: 345 }, (_, i) => `user${i}`);
    for (const name of names) await store.add(name, 'old');
    await store.setPasswordHash((await store.findByName('user10'))!.id, 'new');
    await store.close();
    const users = await fileUsers();
    assert.deepEqual(users.map((user) => user.username), names);
    assert.equal(users[10]?.passwordHash, 'new');
    assert.equal(users.filter((user) => user.passwordHash === 'new').length, 1);
    assert.equal((await open()).size, names.length);
  });

  test('a failed write rejects add() with StorageError and leaves the name free, in memory and on disk', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    await store.add('bob', HASH);
    fs.failNext(/^write users\.journal/);
    await assert.rejects(store.add('alice', HASH), StorageError);
    assert.equal(await store.findByName('alice'), undefined);
    assert.equal(store.size, 1);
    assert.equal(await (await open()).findByName('alice'), undefined);
    const alice = await store.add('alice', HASH);
    assert.deepEqual(await (await open()).findByName('alice'), alice);
  });

  test('rememberDevice() keeps the old devices when the write fails', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const alice = await store.add('alice', HASH);
    await store.rememberDevice(alice.id, 'laptop');
    fs.failNext(/^write users\.journal/);
    await assert.rejects(store.rememberDevice(alice.id, 'phone'), StorageError);
    assert.deepEqual((await store.findById(alice.id))?.deviceIds, ['laptop']);
    fs.failNext(/^write users\.journal/);
    await assert.rejects(store.forgetDevices(alice.id), StorageError);
    assert.deepEqual((await store.findById(alice.id))?.deviceIds, ['laptop']);
  });

  test('setPasswordHash() keeps the old hash when the write fails', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const alice = await store.add('alice', HASH);
    fs.failNext(/^fsync users\.journal/);
    await assert.rejects(store.setPasswordHash(alice.id, `${HASH}-new`), StorageError);
    assert.equal((await store.findById(alice.id))?.passwordHash, HASH);
    assert.equal((await store.findByName('alice'))?.passwordHash, HASH);
    assert.equal((await (await open()).findById(alice.id))?.passwordHash, HASH);
  });

  test('a closed store refuses writes with StorageError', async () => {
    const store = await open();
    await store.close();
    await assert.rejects(store.add('alice', HASH), StorageError);
    assert.equal(await store.findByName('alice'), undefined);
  });

  const user = (id: string, username: string) => ({ id, username, passwordHash: HASH, createdAt: '2026-01-01T00:00:00.000Z' });
  const refused: [description: string, text: string][] = [
    ['truncated JSON', '{"version":1,"users":[{"id":'],
    ['JSON null', 'null'],
    ['an array', '[]'],
    ['no version', '{"users":[]}'],
    ['a version 2 snapshot without its sequence number', '{"version":2,"users":[]}'],
    ['no "users" list', '{"version":1}'],
    ['a user without a password hash', JSON.stringify({ version: 1, users: [{ id: '1', username: 'alice', createdAt: '2026-01-01' }] })],
    ['a user that is not an object', JSON.stringify({ version: 2, seq: 0, users: ['alice'] })],
    ['one name twice', JSON.stringify({ version: 1, users: [user('1', 'alice'), user('2', 'alice')] })],
    ['one name twice after two names that collide', JSON.stringify({ version: 1, users: [user('1', 'strasse'), user('2', 'straße'), user('3', 'straße')] })],
    ['one id twice', JSON.stringify({ version: 1, users: [user('1', 'alice'), user('1', 'bob')] })],
    ['device ids that are not a list of strings', JSON.stringify({ version: 1, users: [{ ...user('1', 'alice'), deviceIds: 'laptop' }] })],
  ];
  for (const [description, text] of refused) {
    test(`open() refuses a users.json holding ${description}, with CorruptFileError naming it, and leaves it untouched`, async () => {
      await writeFile(usersFile, text);
      await assert.rejects(open(), (error: Error) => error instanceof CorruptFileError && error.message.includes(usersFile));
      assert.equal(await readFile(usersFile, 'utf8'), text);
    });
  }

  // Names stored before the profile refused them can collide now (round 3, findings 3 and 4): the store must
  // still start, keep each account apart by its id, and say which they are.
  test('open() starts with stored names that now look alike: the first keeps every spelling, a later one its own, and one warning names them', async () => {
    const users = [user('1', 'strasse'), user('2', 'straße'), user('3', 'istanbul'), user('4', 'ıstanbul'), user('5', 'ace'), user('6', '\u0430\u0441\u0435'), user('7', 'KIM'), user('8', '\u039a\u0399\u039c')];
    await writeFile(usersFile, JSON.stringify({ version: 1, users }));
    const warnings: string[] = [];
    const store = await JsonUserStore.open(dataDir, { log: { ...silentLogger, warn: (message) => warnings.push(message) } });
    assert.equal(store.size, 8);
    assert.equal((await store.findByName('strasse'))?.id, '1');
    assert.equal((await store.findByName('STRASSE'))?.id, '1');
    assert.equal((await store.findByName('straße'))?.id, '2', 'found by its exact name');
    assert.equal((await store.findByName('Straße'))?.id, '1', 'any other spelling is the first one\'s');
    assert.equal((await store.findByName('ıstanbul'))?.id, '4');
    assert.equal((await store.findByName('İstanbul'))?.id, '3');
    assert.equal((await store.findByName('\u0430\u0441\u0435'))?.id, '6', 'Cyrillic асе, by its exact name');
    assert.equal((await store.findByName('ace'))?.id, '5');
    assert.equal((await store.findByName('\u039a\u0399\u039c'))?.id, '8', 'alike only in upper case: found by its own key');
    assert.equal((await store.findByName('kim'))?.id, '7');
    assert.equal((await store.findById('2'))?.username, 'straße');
    await assert.rejects(store.add('STRAẞE', HASH), UsernameTakenError);
    await assert.rejects(store.add('\u039a\u0399\u039c'.toLowerCase(), HASH), UsernameTakenError, 'κιμ: the key of ΚΙΜ, held by it');

    assert.equal(warnings.length, 1, warnings.join('\n'));
    for (const pair of ['"straße" (2) looks like "strasse" (1)', '"ıstanbul" (4) looks like "istanbul" (3)', '"асе" (6) looks like "ace" (5)', '"ΚΙΜ" (8) looks like "KIM" (7)']) {
      assert.ok(warnings[0]!.includes(pair), `${pair} in: ${warnings[0]}`);
    }
    assert.match(warnings[0]!, /^Users: 4 stored names look like an earlier user's/);

    await store.setPasswordHash('2', 'new-hash');
    assert.equal((await store.findByName('strasse'))?.passwordHash, HASH, 'the first keeps the name after the second changes');
    assert.equal((await store.findByName('straße'))?.passwordHash, 'new-hash');
    await store.close();
    const reopened = await open();
    assert.equal((await reopened.findByName('straße'))?.passwordHash, 'new-hash');
    assert.equal((await reopened.findByName('strasse'))?.id, '1');
    assert.deepEqual((await reopened.findById('1'))?.deviceIds, [], 'users stored before devices were kept trust none');
  });

  test('open() says nothing when no stored names look alike', async () => {
    await writeFile(usersFile, JSON.stringify({ version: 1, users: [user('1', 'alice'), user('2', 'bob')] }));
    const warnings: string[] = [];
    await JsonUserStore.open(dataDir, { log: { ...silentLogger, warn: (message) => warnings.push(message) } });
    assert.deepEqual(warnings, []);
  });

  test('a failed sign-up leaves neither of its keys taken: the name and its look-alikes are free again', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    fs.failNext(/^write users\.journal/);
    await assert.rejects(store.add('kim', HASH), StorageError);
    await store.add('\u039a\u0399\u039c', HASH);
    assert.equal((await store.findByName('\u039a\u0399\u039c'))?.username, 'ΚΙΜ');
  });

  test('open() refuses a journal record that cannot apply (a rehash of a user nobody signed up)', async () => {
    await writeFile(path.join(dataDir, 'users.journal.1.jsonl'), '{"seq":1,"op":"setPasswordHash","id":"ghost","passwordHash":"x"}\n{"seq":2,"op":"add","user":{}}\n');
    await assert.rejects(open(), /users\.journal\.1\.jsonl has a record at byte 0 that cannot be applied \(no user ghost\)/);
  });
});
