/**
 * What `JsonSessionStore` keeps on disk. The session rules every session store shares are in the store
 * contract (`store_contract.test.ts`); the journal's durability and recovery in `journal.test.ts`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { CorruptFileError, StorageError } from '../../../lib/errors.ts';
import { DEFAULT_LIFETIMES } from '../../../lib/sessions/rules.ts';

const SECRET = new TextEncoder().encode('test-secret-that-is-at-least-32-bytes-long!');
const SECOND = 1000;
const START = Date.UTC(2026, 0, 1);

describe('JsonSessionStore', () => {
  let dataDir: string;
  let now: number;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'session-store-test-'));
    now = START;
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const open = (fs?: StepFileSystem) => JsonSessionStore.open(dataDir, { secret: SECRET, clock: () => now, fs, log: silentLogger });
  const onDisk = async () => {
    const names = await readdir(dataDir);
    return (await Promise.all(names.map((name) => readFile(path.join(dataDir, name), 'utf8')))).join('\n');
  };

  test('size counts the sessions held (what the start-up line reports): a login adds one, a logout takes it away, a restart keeps them', async () => {
    const store = await open();
    assert.equal(store.size, 0);
    const first = await store.start('user-1');
    await store.start('user-2');
    assert.equal(store.size, 2);
    await store.end(first.sessionId, { jti: 'jti-1', exp: Math.floor(now / 1000) + 60 });
    assert.equal(store.size, 1);
    await store.close();
    assert.equal((await open()).size, 1);
  });

  test('isActive() is false once the session\'s newest refresh token has expired: nothing can refresh it after 7 days', async () => {
    const store = await open();
    const idle = await store.start('user-1');
    now += DEFAULT_LIFETIMES.refreshMs - 1;
    assert.equal(store.isActive(idle.sessionId), true);
    now += 1;
    assert.equal(store.isActive(idle.sessionId), false);
  });

  test('the journal and the snapshot hold only hashes of refresh tokens, never the tokens', async () => {
    const store = await open();
    const started = await store.start('user-1');
    const rotated = await store.rotate(started.refreshToken);
    for (const stage of ['journal', 'snapshot']) {
      const text = await onDisk();
      for (const token of [started.refreshToken, rotated.refreshToken]) {
        assert.ok(!text.includes(token), `a raw refresh token is in the ${stage}`);
        assert.ok(text.includes(createHash('sha256').update(token).digest('hex')), `the hash of a refresh token is missing from the ${stage}`);
      }
      await store.close();
    }
    assert.deepEqual(await readdir(dataDir), ['sessions.journal.2.jsonl', 'sessions.json']);
  });

  test('a snapshot leaves out denied tokens that expired and keeps a long session to its last few spent tokens', async () => {
    const store = await open();
    const ended = await store.start('user-1');
    await store.end(ended.sessionId, { jti: 'jti-1', exp: START / 1000 + 900 });
    let token = (await store.start('user-1')).refreshToken;
    for (let i = 0; i < 30; i++) {
      now += SECOND;
      token = (await store.rotate(token)).refreshToken;
    }
    now += 901 * SECOND;
    await store.start('user-2');
    await store.close();
    const snapshot = JSON.parse(await readFile(path.join(dataDir, 'sessions.json'), 'utf8'));
    assert.deepEqual(snapshot.deniedAccessTokens, []);
    assert.ok(snapshot.refreshTokens.length <= 9 + 1, `${snapshot.refreshTokens.length} refresh tokens kept`);
  });

  test('a failed write makes start() reject with StorageError and leaves no session behind, in memory or on disk', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    fs.failNext(/^open sessions\.journal/);
    await assert.rejects(store.start('user-1'), StorageError);
    await store.start('user-2');
    await store.close();
    assert.equal(JSON.parse(await readFile(path.join(dataDir, 'sessions.json'), 'utf8')).families.length, 1);
  });

  test('a failed write makes rotate() reject and leaves the old token usable, not spent', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const started = await store.start('user-1');
    fs.failNext(/^fsync sessions\.journal/);
    await assert.rejects(store.rotate(started.refreshToken), StorageError);
    now += DEFAULT_LIFETIMES.graceMs + 1;
    const rotated = await store.rotate(started.refreshToken);
    await store.rotate(rotated.refreshToken);
    assert.ok(store.isActive(started.sessionId));
  });

  test('a failed write makes end() reject and leaves the session going and the token allowed', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const started = await store.start('user-1');
    fs.failNext(/^write sessions\.journal/);
    await assert.rejects(store.end(started.sessionId, { jti: 'jti-1', exp: START / 1000 + 900 }), StorageError);
    assert.ok(store.isActive(started.sessionId));
    assert.equal(store.isDenied('jti-1'), false);
    assert.ok((await open()).isActive(started.sessionId));
  });

  test('a failed revocation for reuse answers StorageError, not a 401 that was never stored', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const started = await store.start('user-1');
    const next = await store.rotate(started.refreshToken);
    await store.rotate(next.refreshToken);
    now += DEFAULT_LIFETIMES.graceMs + 1;
    fs.failNext(/^fsync sessions\.journal/);
    await assert.rejects(store.rotate(started.refreshToken), StorageError);
    assert.ok(store.isActive(started.sessionId));
  });

  const corrupt: [description: string, text: string][] = [
    ['truncated JSON', '{"version":1,"families":['],
    ['JSON null', 'null'],
    ['an empty object', '{}'],
    ['no deny list', '{"version":1,"families":[],"refreshTokens":[]}'],
    ['a session without a user', '{"version":2,"seq":0,"families":[{"id":"f","expiresAt":1}],"refreshTokens":[],"deniedAccessTokens":[]}'],
  ];
  for (const [description, text] of corrupt) {
    test(`open() refuses a sessions.json holding ${description}, with CorruptFileError, and leaves it untouched`, async () => {
      const file = path.join(dataDir, 'sessions.json');
      await writeFile(file, text);
      await assert.rejects(open(), CorruptFileError);
      assert.equal(await readFile(file, 'utf8'), text);
    });
  }
});

describe('JsonSessionStore: a sessions.json missing one of its lists', () => {
  for (const [missing, text] of [
    ['families', '{"version":1,"refreshTokens":[],"deniedAccessTokens":[]}'],
    ['refreshTokens', '{"version":1,"families":[],"deniedAccessTokens":[]}'],
    ['deniedAccessTokens', '{"version":2,"seq":0,"families":[],"refreshTokens":[]}'],
  ] as const) {
    test(`open() refuses a sessions.json without ${missing}, naming the file, and leaves it untouched`, async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'session-store-test-'));
      try {
        const file = path.join(dataDir, 'sessions.json');
        await writeFile(file, text);
        await assert.rejects(JsonSessionStore.open(dataDir, { secret: SECRET, clock: () => START, log: silentLogger }), {
          name: 'CorruptFileError',
          message: new RegExp(`^Cannot start: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no "${missing}" list`),
        });
        assert.equal(await readFile(file, 'utf8'), text);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});

