/**
 * A data folder written before the journal (`users.json` and `sessions.json` at version 1, the
 * fixture in `fixtures/v1`, made by that version) opens with every user and session, and is rewritten
 * in the new format at the first clean stop.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { JsonUserStore } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';

export const V1_FIXTURE = fileURLToPath(new URL('fixtures/v1', import.meta.url));
/** The ids and raw tokens the fixture was made with. */
export const V1_EXPECTED = JSON.parse(await readFile(fileURLToPath(new URL('fixtures/v1.expected.json', import.meta.url)), 'utf8')) as Record<
  'alice' | 'bob' | 'aliceSession' | 'aliceSpent' | 'aliceToken' | 'bobSession' | 'bobToken' | 'bobEnded',
  string
>;

const SECRET = new TextEncoder().encode('test-secret-that-is-at-least-32-bytes-long!');
/** Two seconds after the fixture was written. */
const NOW = Date.UTC(2099, 0, 1) + 2000;

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'migration-test-'));
  await cp(V1_FIXTURE, dataDir, { recursive: true });
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const open = async () => ({
  users: await JsonUserStore.open(dataDir, { log: silentLogger }),
  sessions: await JsonSessionStore.open(dataDir, { secret: SECRET, clock: () => NOW, log: silentLogger }),
});

test('a version 1 data folder opens with every user and session, and is rewritten at version 2 at a clean stop', async () => {
  for (const round of ['as written by version 1', 'after the rewrite']) {
    const { users, sessions } = await open();
    assert.equal(users.size, 2, round);
    assert.equal((await users.findByName('alice'))?.id, V1_EXPECTED.alice, round);
    assert.equal((await users.findByName('BOB'))?.id, V1_EXPECTED.bob, round);
    assert.ok(sessions.isActive(V1_EXPECTED.aliceSession), round);
    assert.ok(sessions.isActive(V1_EXPECTED.bobSession), round);
    assert.equal(sessions.isActive(V1_EXPECTED.bobEnded), false, round);
    assert.ok(sessions.isDenied('bob-logged-out-jti'), round);
    await users.close();
    await sessions.close();
  }
  assert.deepEqual((await readdir(dataDir)).sort(), ['sessions.json', 'users.json']);
  for (const file of ['users.json', 'sessions.json']) {
    const snapshot = JSON.parse(await readFile(path.join(dataDir, file), 'utf8'));
    assert.equal(snapshot.version, 2, file);
    assert.equal(snapshot.seq, 0, file);
  }
});

test('the sessions of a version 1 folder go on: tokens rotate, a spent one gets its unused successor again', async () => {
  const { sessions } = await open();
  assert.equal((await sessions.rotate(V1_EXPECTED.aliceSpent)).refreshToken, V1_EXPECTED.aliceToken);
  const next = await sessions.rotate(V1_EXPECTED.aliceToken);
  assert.equal(next.sessionId, V1_EXPECTED.aliceSession);
  assert.equal((await sessions.rotate(V1_EXPECTED.bobToken)).sessionId, V1_EXPECTED.bobSession);
  await sessions.close();
});
