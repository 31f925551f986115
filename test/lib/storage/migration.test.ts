/**
 * A data folder of an earlier release opens: `users.json` and `sessions.json` at version 1 (the fixture
 * in `fixtures/v1`, made by that version, before the journal), where a session was a "family" of
 * refresh-token hashes. Every user and live session comes over; the sessions now live in
 * `sessions-v3.json`, and the earlier file is removed. (Version 2 files, with their journals, are in
 * `session_store_bookkeeping.test.ts`.)
 *
 * The earlier refresh tokens were random, with only their hashes stored: none can become a token of
 * the current format, so they stop working (the CHANGELOG says so). A session's access tokens still
 * work until they expire; then its user signs in again.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
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
const V2_FIXTURE = fileURLToPath(new URL('fixtures/v2', import.meta.url));
const V2_EXPECTED = JSON.parse(await readFile(fileURLToPath(new URL('fixtures/v2.expected.json', import.meta.url)), 'utf8')) as Record<
  'alice' | 'bob' | 'carol' | 'dave' | 'aliceSession' | 'aliceSpent' | 'aliceToken' | 'bobEnded',
  string
>;

const SECRET = new TextEncoder().encode('test-secret-that-is-at-least-32-bytes-long!');
/** Two seconds after the fixtures were written. */
const NOW = Date.UTC(2099, 0, 1) + 2000;
const DAY = 24 * 60 * 60 * 1000;

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'migration-test-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const open = async () => ({
  users: await JsonUserStore.open(dataDir, { log: silentLogger }),
  sessions: await JsonSessionStore.open(dataDir, { secret: SECRET, clock: () => NOW, log: silentLogger }),
});

test('a version 1 data folder opens with every user and live session, and is rewritten in the current format', async () => {
  await cp(V1_FIXTURE, dataDir, { recursive: true });
  for (const round of ['as written by version 1', 'after the rewrite']) {
    const { users, sessions } = await open();
    assert.equal(users.size, 2, round);
    assert.equal((await users.findByName('alice'))?.id, V1_EXPECTED.alice, round);
    assert.equal((await users.findByName('BOB'))?.id, V1_EXPECTED.bob, round);
    assert.ok(sessions.isActive(V1_EXPECTED.aliceSession), round);
    assert.ok(sessions.isActive(V1_EXPECTED.bobSession), round);
    assert.equal(sessions.isActive(V1_EXPECTED.bobEnded), false, round);
    assert.ok(sessions.isDenied('bob-logged-out-jti'), round);
    // Alice's newest token was issued a second after the start, and expires 7 days after that.
    assert.deepEqual(sessions.sessionsOf(V1_EXPECTED.alice), [
      { id: V1_EXPECTED.aliceSession, userId: V1_EXPECTED.alice, startedAt: 4073500800000 - 30 * DAY, expiresAt: 4073500800000, generation: 0, rotatedAt: 4071513601000 - 7 * DAY },
    ]);
    await users.close();
    await sessions.close();
  }
  assert.deepEqual(withoutJournals(await readdir(dataDir)).sort(), ['sessions-v3.json', 'users.json']);
  const snapshot = JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8'));
  assert.equal(snapshot.version, 3);
});

test('the refresh tokens of a version 1 folder no longer work, and end nothing', async () => {
  await cp(V1_FIXTURE, dataDir, { recursive: true });
  const { sessions } = await open();
  for (const token of [V1_EXPECTED.aliceSpent, V1_EXPECTED.aliceToken, V1_EXPECTED.bobToken]) {
    await assert.rejects(sessions.rotate(token), { name: 'RefreshError', reason: 'unknown' });
  }
  assert.ok(sessions.isActive(V1_EXPECTED.aliceSession));
  await sessions.close();
});

/** A folder's files but the journals: beside each snapshot stands the empty journal it names. */
function withoutJournals(names: string[]): string[] {
  return names.filter((name) => !name.includes('.journal.'));
}
