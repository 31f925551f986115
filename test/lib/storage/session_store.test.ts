/**
 * What `JsonSessionStore` keeps on disk. The session rules every session store shares are in the store
 * contract (`store_contract.test.ts`); the journal's durability and recovery in `journal.test.ts`.
 */
import assert from 'node:assert/strict';
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
const DAY = 24 * 60 * 60 * SECOND;
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
    await store.end([first.sessionId], { jti: 'jti-1', exp: Math.floor(now / 1000) + 60 });
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

  test('the journal and the snapshot hold each session\'s generation, never a refresh token or its HMAC', async () => {
    const store = await open();
    const started = await store.start('user-1');
    const rotated = await store.rotate(started.refreshToken);
    for (const stage of ['journal', 'snapshot']) {
      const text = await onDisk();
      for (const token of [started.refreshToken, rotated.refreshToken]) {
        assert.ok(!text.includes(token.split('.')[2]!), `a refresh token's HMAC is in the ${stage}`);
      }
      assert.match(text, /"generation":1/, stage);
      await store.close();
    }
    assert.deepEqual(withoutJournals(await readdir(dataDir)), ['sessions-v3.json']);
  });

  test('a snapshot leaves out denied tokens that expired, and a session is one record however often it was refreshed', async () => {
    const store = await open();
    const ended = await store.start('user-1');
    await store.end([ended.sessionId], { jti: 'jti-1', exp: START / 1000 + 900 });
    let token = (await store.start('user-1')).refreshToken;
    for (let i = 0; i < 30; i++) {
      now += SECOND;
      token = (await store.rotate(token)).refreshToken;
    }
    now += 901 * SECOND;
    await store.start('user-2');
    await store.close();
    const snapshot = JSON.parse(await readFile(path.join(dataDir, 'sessions-v3.json'), 'utf8'));
    assert.deepEqual(snapshot.deniedAccessTokens, []);
    assert.deepEqual(snapshot.sessions.map((session: { generation: number }) => session.generation), [30, 0]);
  });

  test('the clock never runs below the last time the store wrote: a clock stepped back cannot reopen the retry window, across a restart too', async () => {
    const store = await open();
    const started = await store.start('user-1');
    now += 5 * SECOND;
    await store.rotate(started.refreshToken);
    now += DEFAULT_LIFETIMES.retryMs + SECOND;
    await store.start('user-2'); // a write past the window
    await store.close();
    now -= DEFAULT_LIFETIMES.retryMs; // the system clock steps back, into the window
    const restarted = await open();
    await assert.rejects(restarted.rotate(started.refreshToken), { name: 'RefreshError', reason: 'reused' });
  });

  test('the clock never runs below the last time the store decided at: a clock stepped back after a refusal keeps it refused', async () => {
    const store = await open();
    const started = await store.start('user-1');
    now += DEFAULT_LIFETIMES.refreshMs;
    assert.equal(store.isActive(started.sessionId), false, 'idle for 7 days');
    now -= DAY;
    assert.equal(store.isActive(started.sessionId), false, 'still over, with the clock a day back');
    await assert.rejects(store.rotate(started.refreshToken), { name: 'RefreshError' });
  });

  test('a failed write makes start() reject with StorageError and leaves no session behind, in memory or on disk', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    fs.failNext(/^open sessions-v3\.journal/);
    await assert.rejects(store.start('user-1'), StorageError);
    await store.start('user-2');
    await store.close();
    assert.equal(JSON.parse(await readFile(path.join(dataDir, 'sessions-v3.json'), 'utf8')).sessions.length, 1);
  });

  test('a failed write makes rotate() reject and leaves the old token current, not replaced', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const started = await store.start('user-1');
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(store.rotate(started.refreshToken), StorageError);
    now += DEFAULT_LIFETIMES.retryMs + 1;
    const rotated = await store.rotate(started.refreshToken);
    await store.rotate(rotated.refreshToken);
    assert.ok(store.isActive(started.sessionId));
  });

  test('a failed write makes end() reject and leaves the session going and the token allowed', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const started = await store.start('user-1');
    fs.failNext(/^write sessions-v3\.journal/);
    await assert.rejects(store.end([started.sessionId], { jti: 'jti-1', exp: START / 1000 + 900 }), StorageError);
    assert.ok(store.isActive(started.sessionId));
    assert.equal(store.isDenied('jti-1'), false);
    assert.ok((await open()).isActive(started.sessionId));
  });

  test('a failed end for reuse answers StorageError, not a 401 that was never stored', async () => {
    const fs = new StepFileSystem();
    const store = await open(fs);
    const started = await store.start('user-1');
    await store.rotate(started.refreshToken);
    now += DEFAULT_LIFETIMES.retryMs + 1;
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(store.rotate(started.refreshToken), StorageError);
    assert.ok(store.isActive(started.sessionId));
  });

  const corrupt: [description: string, text: string][] = [
    ['truncated JSON', '{"version":2,"seq":0,"sessions":['],
    ['JSON null', 'null'],
    ['an empty object', '{}'],
    ['no clock', '{"version":2,"seq":0,"sessions":[],"deniedAccessTokens":[]}'],
    ['a session without a user', '{"version":2,"seq":0,"sessions":[{"id":"s","startedAt":1,"expiresAt":2,"generation":0,"rotatedAt":1}],"deniedAccessTokens":[],"clock":[{"latest":1}]}'],
  ];
  for (const [description, text] of corrupt) {
    test(`open() refuses a sessions-v3.json holding ${description}, with CorruptFileError, and leaves it untouched`, async () => {
      const file = path.join(dataDir, 'sessions-v3.json');
      await writeFile(file, text);
      await assert.rejects(open(), CorruptFileError);
      assert.equal(await readFile(file, 'utf8'), text);
    });
  }
});

/** A folder's files but the journals: beside each snapshot stands the empty journal it names. */
function withoutJournals(names: string[]): string[] {
  return names.filter((name) => !name.includes('.journal.'));
}
