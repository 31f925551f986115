/**
 * Data folders of earlier releases open: `users.json` and `sessions.json` at version 1 (the fixture in
 * `fixtures/v1`, made by that version, before the journal), and `sessions.json` at version 2 with its
 * journal, where a session was a "family" of refresh-token hashes. Every user and live session comes
 * over; the sessions now live in `sessions-v3.json`, and the earlier files are removed.
 *
 * The earlier refresh tokens were random, with only their hashes stored: none can become a token of
 * the current format, so they stop working (the CHANGELOG says so). A session's access tokens still
 * work until they expire; then its user signs in again.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { JsonUserStore } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';

export const V1_FIXTURE = fileURLToPath(new URL('fixtures/v1', import.meta.url));
/** The ids and raw tokens the fixture was made with. */
export const V1_EXPECTED = JSON.parse(await readFile(fileURLToPath(new URL('fixtures/v1.expected.json', import.meta.url)), 'utf8')) as Record<
  'alice' | 'bob' | 'aliceSession' | 'aliceSpent' | 'aliceToken' | 'bobSession' | 'bobToken' | 'bobEnded',
  string
>;

const SECRET = new TextEncoder().encode('test-secret-that-is-at-least-32-bytes-long!');
/** Two seconds after the fixture was written. */
const NOW = Date.UTC(2099, 0, 1) + 2000;
const DAY = 24 * 60 * 60 * 1000;

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'migration-test-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const open = async (fs?: StepFileSystem) => ({
  users: await JsonUserStore.open(dataDir, { log: silentLogger }),
  sessions: await JsonSessionStore.open(dataDir, { secret: SECRET, clock: () => NOW, log: silentLogger, fs }),
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
  assert.deepEqual((await readdir(dataDir)).sort(), ['sessions-v3.json', 'users.json']);
  const snapshot = JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8'));
  assert.equal(snapshot.version, 2);
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

/** A version 2 folder, as the release before this one left it mid-run: a snapshot and a journal after it. */
async function writeVersion2(): Promise<void> {
  const family = (id: string, userId: string) => ({ id, userId, expiresAt: NOW + 20 * DAY });
  const token = (hash: string, familyId: string, expiresAt: number) => ({ hash, familyId, expiresAt });
  await writeFile(
    path.join(dataDir, 'sessions.json'),
    JSON.stringify({
      version: 2,
      seq: 2,
      families: [family('f1', 'user-1'), family('f2', 'user-2')],
      refreshTokens: [token('h1', 'f1', NOW + DAY), token('h2', 'f2', NOW + DAY)],
      deniedAccessTokens: [{ jti: 'jti-1', expiresAt: NOW + 60_000 }],
    }),
  );
  const records = [
    { seq: 3, op: 'rotate', hash: 'h1', rotatedAt: NOW - 1000, next: token('h1b', 'f1', NOW + 6 * DAY) },
    { seq: 4, op: 'start', family: family('f3', 'user-1'), token: token('h3', 'f3', NOW + 7 * DAY), ends: [] },
    { seq: 5, op: 'end', familyId: 'f2', denied: { jti: 'jti-2', expiresAt: NOW + 60_000 } },
    { seq: 6, op: 'start', family: family('f4', 'user-3'), token: token('h4', 'f4', NOW + 7 * DAY), ends: ['f3'] },
  ];
  await writeFile(path.join(dataDir, 'sessions.journal.3.jsonl'), records.map((record) => `${JSON.stringify(record)}\n`).join(''));
}

test('a version 2 folder, snapshot and journal, comes over as its journal left it, and the earlier files are removed', async () => {
  await writeVersion2();
  const { sessions } = await open();
  assert.deepEqual(
    ['f1', 'f2', 'f3', 'f4'].map((id) => sessions.isActive(id)),
    [true, false, false, true],
  );
  assert.deepEqual(sessions.sessionsOf('user-1').map(({ id, rotatedAt }) => ({ id, rotatedAt })), [{ id: 'f1', rotatedAt: NOW - DAY }], 'idle from its newest token');
  assert.ok(sessions.isDenied('jti-1'));
  assert.ok(sessions.isDenied('jti-2'));
  assert.deepEqual(await readdir(dataDir), ['sessions-v3.json'], 'carried over into a snapshot before the earlier files went');
  await sessions.close();
});

test('earlier files left by a crash after the carry-over are removed, and bring back nothing the store has since ended', async () => {
  await writeVersion2();
  const first = await open();
  await first.sessions.end(['f1']);
  await first.sessions.close();
  await writeVersion2(); // as if the removal had not happened
  const { sessions } = await open();
  assert.equal(sessions.isActive('f1'), false, 'ended since, and not carried over again');
  assert.deepEqual(await readdir(dataDir), ['sessions-v3.json']);
  await sessions.close();
});

test('a damaged earlier file stops the start, naming it, and is left as it is', async () => {
  await writeVersion2();
  const file = path.join(dataDir, 'sessions.journal.3.jsonl');
  await writeFile(file, `${JSON.stringify({ seq: 3, op: 'start', family: { id: 'f5' }, token: {}, ends: [] })}\n`);
  await assert.rejects(open(), (error: Error) => {
    assert.equal(error.name, 'CorruptFileError');
    assert.match(error.message, /sessions\.journal\.3\.jsonl has a record at byte 0 that cannot be applied \(expected "userId", a string\)/);
    return true;
  });
  assert.ok((await readdir(dataDir)).includes('sessions.journal.3.jsonl'));
});

test('a carry-over whose snapshot cannot be written keeps the earlier files, and is made again at the next start', async () => {
  await writeVersion2();
  const fs = new StepFileSystem();
  fs.failNext(/^rename sessions-v3\.json/);
  await assert.rejects(open(fs));
  assert.ok((await readdir(dataDir)).includes('sessions.json'));
  const { sessions } = await open();
  assert.ok(sessions.isActive('f1'));
  await sessions.close();
});
