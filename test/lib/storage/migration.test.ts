/**
 * Data folders written by earlier versions open with everything they held, and are rewritten in the
 * current format (version 3: checksummed records, a snapshot naming its journal) as they open:
 * - version 1, before the journal: `users.json` and `sessions.json` alone (`fixtures/v1`);
 * - version 2, the first journal: snapshots plus two journal generations without checksums, as two
 *   kill -9s left them (`fixtures/v2`: a clean stop, a start that signed up carol, upgraded alice's hash,
 *   signed Bob in and refreshed alice's session, then was killed; a start that signed up dave and logged
 *   Bob out, then was killed).
 * Each fixture was made by its version.
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

/** The snapshots' headers, and every journal line, as they are on disk. */
async function format(): Promise<{ files: string[]; headers: Record<string, unknown>[]; journalLines: string[] }> {
  const files = (await readdir(dataDir)).sort();
  const headers = [];
  for (const file of ['sessions.json', 'users.json']) {
    const { version, seq, journal } = JSON.parse(await readFile(path.join(dataDir, file), 'utf8')) as Record<string, unknown>;
    headers.push({ file, version, seq, journal });
  }
  const journalLines: string[] = [];
  for (const file of files.filter((name) => name.endsWith('.jsonl'))) {
    journalLines.push(...(await readFile(path.join(dataDir, file), 'utf8')).split('\n').filter((line) => line !== ''));
  }
  return { files, headers, journalLines };
}

describe('a version 1 data folder', () => {
  beforeEach(() => cp(V1_FIXTURE, dataDir, { recursive: true }));

  test('opens with every user and session, rewritten at version 3 as it opens', async () => {
    for (const round of ['as written by version 1', 'after the rewrite']) {
      const { users, sessions } = await open();
      assert.equal(users.size, 2, round);
      assert.equal((await users.findByName('alice'))?.id, V1_EXPECTED.alice, round);
      assert.equal((await users.findByName('BOB'))?.id, V1_EXPECTED.bob, round);
      assert.ok(sessions.isActive(V1_EXPECTED.aliceSession), round);
      assert.ok(sessions.isActive(V1_EXPECTED.bobSession), round);
      assert.equal(sessions.isActive(V1_EXPECTED.bobEnded), false, round);
      assert.ok(sessions.isDenied('bob-logged-out-jti'), round);
      if (round === 'as written by version 1') {
        // Generation 1 is a folder never compacted: a rewritten snapshot names a later one.
        assert.deepEqual(await format(), {
          files: ['sessions.journal.2.jsonl', 'sessions.json', 'users.journal.2.jsonl', 'users.json'],
          headers: [
            { file: 'sessions.json', version: 3, seq: 0, journal: 2 },
            { file: 'users.json', version: 3, seq: 0, journal: 2 },
          ],
          journalLines: [],
        });
      }
      await users.close();
      await sessions.close();
    }
  });

  test('its sessions go on: tokens rotate, a spent one gets its unused successor again', async () => {
    const { sessions } = await open();
    assert.equal((await sessions.rotate(V1_EXPECTED.aliceSpent)).refreshToken, V1_EXPECTED.aliceToken);
    const next = await sessions.rotate(V1_EXPECTED.aliceToken);
    assert.equal(next.sessionId, V1_EXPECTED.aliceSession);
    assert.equal((await sessions.rotate(V1_EXPECTED.bobToken)).sessionId, V1_EXPECTED.bobSession);
    await sessions.close();
  });
});

describe('a version 2 data folder (snapshots and journals without checksums, after two kill -9s)', () => {
  beforeEach(() => cp(V2_FIXTURE, dataDir, { recursive: true }));

  test('opens with every change of both journals, rewritten at version 3 as it opens, and the next changes are checksummed', async () => {
    const { users, sessions } = await open();
    assert.equal(users.size, 4);
    for (const [name, id] of [['alice', V2_EXPECTED.alice], ['Bob', V2_EXPECTED.bob], ['carol', V2_EXPECTED.carol], ['dave', V2_EXPECTED.dave]]) {
      assert.equal((await users.findByName(name!))?.id, id, name);
    }
    assert.match((await users.findById(V2_EXPECTED.alice))!.passwordHash, /\$m=256,t=2,p=1\$/, 'the upgraded hash, from the first journal');
    assert.ok(sessions.isActive(V2_EXPECTED.aliceSession));
    assert.equal(sessions.isActive(V2_EXPECTED.bobEnded), false, 'the logout, from the second journal');
    assert.ok(sessions.isDenied('bob-logged-out-jti'));
    assert.deepEqual(await format(), {
      files: ['sessions.journal.3.jsonl', 'sessions.json', 'users.journal.3.jsonl', 'users.json'],
      headers: [
        { file: 'sessions.json', version: 3, seq: 4, journal: 3 },
        { file: 'users.json', version: 3, seq: 5, journal: 3 },
      ],
      journalLines: [],
    });

    await users.add('erin', '$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA');
    const [line] = (await format()).journalLines;
    assert.match(line!, /^\{"seq":6,"op":"add",.*,"sha256":"[0-9a-f]{16}"\}$/);
    await users.close();
    await sessions.close();
    assert.equal((await open()).users.size, 5);
  });

  test('its sessions go on: the refreshed one rotates, and its spent token gets the same successor again', async () => {
    const { sessions } = await open();
    assert.equal((await sessions.rotate(V2_EXPECTED.aliceSpent)).refreshToken, V2_EXPECTED.aliceToken);
    assert.equal((await sessions.rotate(V2_EXPECTED.aliceToken)).sessionId, V2_EXPECTED.aliceSession);
    await sessions.close();
  });
});
