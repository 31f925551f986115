/**
 * `JsonSessionStore`'s bookkeeping, through what a user of the store can see: its answers and its
 * files. A write that fails leaves memory as it was on disk; a restart after a crash (no clean close,
 * so no snapshot of the last changes) replays the journal to the same sessions; what a file holds is
 * checked before it is believed; what expired is dropped from memory and from the next snapshot.
 *
 * These run once per mutant under `npm run mutate`, so they stay fast: a fake clock, no waiting, a
 * failing disk from `StepFileSystem`, and a crash that is a copy of the files, not a killed process.
 *
 * The files are written by hand where a test needs what the store would not write itself (a damaged
 * record, thousands of expired entries): `sessions.json` is `{"version":2,"seq":N,"families":[...],
 * "refreshTokens":[...],"deniedAccessTokens":[...]}`, and `sessions.journal.G.jsonl` one change per
 * line, `{"seq":N,"op":"start"|"rotate"|"end",...}`; a refresh token is stored as its SHA-256, in hex.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { StorageError, type RefreshFailure } from '../../../lib/errors.ts';
import { DEFAULT_LIFETIMES, MAX_SESSIONS_PER_USER, type IssuedRefresh } from '../../../lib/sessions/rules.ts';

const SECRET = new TextEncoder().encode('bookkeeping-secret-of-at-least-32-bytes!');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const START = Date.UTC(2026, 0, 1);
const { graceMs } = DEFAULT_LIFETIMES;

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
/** Matches a `RefreshError` with the given reason, for `assert.rejects`. */
const refused = (reason: RefreshFailure) => ({ name: 'RefreshError', reason });

let dir: string;
let now: number;
let dirs: string[] = [];
let stores: JsonSessionStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'session-bookkeeping-'));
  dirs = [dir];
  stores = [];
  now = START;
});
afterEach(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await Promise.all(dirs.map((each) => rm(each, { recursive: true, force: true })));
});

/** A store on `dir`, on a file system a test can make fail (closed after the test). */
async function open() {
  const fs = new StepFileSystem();
  const store = await JsonSessionStore.open(dir, { secret: SECRET, clock: () => now, fs, log: silentLogger });
  stores.push(store);
  return { store, fs };
}

/**
 * A restart after a crash: a new store on the files as SIGKILL would have left them once the writes
 * were acknowledged (a copy taken then, with no snapshot of the last changes), while the old store
 * closes cleanly on its own copy.
 */
async function crashAndRestart(crashed: { store: JsonSessionStore }) {
  await crashed.store.flush();
  assert.ok((await readdir(dir)).some((name) => name.startsWith('sessions.journal.')), 'nothing to replay');
  const copy = await mkdtemp(path.join(tmpdir(), 'session-bookkeeping-crashed-'));
  dirs.push(copy);
  await cp(dir, copy, { recursive: true });
  await crashed.store.close();
  dir = copy;
  return open();
}

/** Logs a session out with an access token that expires `inSeconds` from now. */
const logout = (store: JsonSessionStore, sessionId: string, jti: string, inSeconds = 15 * 60) =>
  store.end(sessionId, { jti, exp: Math.floor(now / 1000) + inSeconds });

/** Starts `MAX_SESSIONS_PER_USER` sessions for one user, a second apart, the oldest first. */
async function fillTheCap(store: JsonSessionStore, userId: string): Promise<IssuedRefresh[]> {
  const sessions: IssuedRefresh[] = [];
  for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) {
    now += SECOND;
    sessions.push(await store.start(userId));
  }
  return sessions;
}

interface Snapshot {
  families: { id: string; userId: string; expiresAt: number }[];
  refreshTokens: { hash: string; familyId: string; expiresAt: number; rotatedAt?: number }[];
  deniedAccessTokens: { jti: string; expiresAt: number }[];
}
const readSnapshot = async (): Promise<Snapshot> => JSON.parse(await readFile(path.join(dir, 'sessions.json'), 'utf8'));
const writeSnapshot = (snapshot: Record<string, unknown>) =>
  writeFile(path.join(dir, 'sessions.json'), JSON.stringify({ version: 2, seq: 0, families: [], refreshTokens: [], deniedAccessTokens: [], ...snapshot }));
/** Every journal record on disk, oldest first, without its checksum (read synchronously: nothing can happen in between). */
function journalRecords(): Record<string, unknown>[] {
  return readFileSync(path.join(dir, 'sessions.journal.1.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const { sha256: _checksum, ...record } = JSON.parse(line) as Record<string, unknown>;
      return record;
    });
}
const writeJournal = (records: object[]) =>
  writeFile(path.join(dir, 'sessions.journal.1.jsonl'), records.map((record, i) => `${JSON.stringify({ seq: i + 1, ...record })}\n`).join(''));

describe('a failed write leaves the sessions as they are on disk', () => {
  test('a failed login past the cap leaves the oldest session going, and the cap still counts it', async () => {
    const { store, fs } = await open();
    const [oldest, second] = await fillTheCap(store, 'user-1');
    fs.failNext(/^fsync sessions\.journal/);
    await assert.rejects(store.start('user-1'), StorageError);
    assert.equal(store.isActive(oldest!.sessionId), true, 'the login that would have ended it was never stored');
    assert.equal((await store.rotate(oldest!.refreshToken)).sessionId, oldest!.sessionId);

    await store.start('user-1');
    assert.equal(store.isActive(oldest!.sessionId), false, 'the next login ends the oldest');
    assert.equal(store.isActive(second!.sessionId), true);
  });

  test('a failed refresh leaves no trace of the successor: the session goes on, and the snapshot holds the token unspent', async () => {
    const { store, fs } = await open();
    const started = await store.start('user-1');
    now += SECOND;
    const first = await store.rotate(started.refreshToken);
    now += SECOND;
    const second = await store.rotate(first.refreshToken);
    now += SECOND;
    fs.failNext(/^fsync sessions\.journal/);
    await assert.rejects(store.rotate(second.refreshToken), StorageError);
    assert.equal(store.isActive(started.sessionId), true);
    await store.close();

    const { refreshTokens } = await readSnapshot();
    assert.deepEqual(
      refreshTokens.map((record) => [record.hash, record.rotatedAt]),
      [
        [hash(started.refreshToken), START + SECOND],
        [hash(first.refreshToken), START + 2 * SECOND],
        [hash(second.refreshToken), undefined],
      ],
    );
  });

  test('a failed logout leaves the session going and its access token allowed; the logout that follows is stored as usual', async () => {
    const { store, fs } = await open();
    const started = await store.start('user-1');
    fs.failNext(/^fsync sessions\.journal/);
    await assert.rejects(logout(store, started.sessionId, 'jti-1'), StorageError);
    assert.equal(store.isDenied('jti-1'), false);
    assert.equal(store.isActive(started.sessionId), true);

    await logout(store, started.sessionId, 'jti-2');
    await store.close();
    assert.deepEqual((await readSnapshot()).deniedAccessTokens.map((denied) => denied.jti), ['jti-2']);
    const { store: restarted } = await open();
    assert.equal(restarted.isDenied('jti-1'), false);
    assert.equal(restarted.isDenied('jti-2'), true);
    assert.equal(restarted.isActive(started.sessionId), false);
  });

  test('a refresh in the last millisecond of a session, its write failing after the prune has ended the session, leaves nothing behind', async () => {
    const { store, fs } = await open();
    const started = await store.start('user-1');
    let last = started;
    for (const day of [6, 12, 18, 24]) {
      now = START + day * DAY;
      last = await store.rotate(last.refreshToken); // prunes; the last one lasts to the session's end, at 30 days
    }
    now = START + 30 * DAY - 30 * SECOND;
    await store.start('user-2'); // prunes
    now = START + 30 * DAY - 1;
    fs.failNext(/^fsync sessions\.journal/);
    const refresh = store.rotate(last.refreshToken);
    now = START + 30 * DAY + 30 * SECOND;
    // Prunes while the refresh is on its way to the disk (and, waiting for that write, fails with it).
    const pruning = logout(store, 'no-such-session', 'jti-0', 0);
    const [refreshed] = await Promise.allSettled([refresh, pruning]);
    assert.ok(refreshed.status === 'rejected' && refreshed.reason instanceof StorageError);
    assert.equal(store.isActive(started.sessionId), false);
    assert.equal(store.sessionOf(last.refreshToken), undefined);
    await store.close();
    const { families, refreshTokens } = await readSnapshot();
    assert.deepEqual(families.map((family) => family.userId), ['user-2'], 'only the other session');
    assert.deepEqual(refreshTokens.map((record) => record.familyId), [families[0]!.id]);
  });

  test('a failed second logout with the same access token leaves it denied until its first expiry', async () => {
    const { store, fs } = await open();
    const first = await store.start('user-1');
    const second = await store.start('user-1');
    await logout(store, first.sessionId, 'jti-1', 900);
    fs.failNext(/^fsync sessions\.journal/);
    await assert.rejects(logout(store, second.sessionId, 'jti-1', 600), StorageError);
    assert.equal(store.isActive(second.sessionId), true);
    now += 600 * SECOND;
    assert.equal(store.isDenied('jti-1'), true, 'still denied as the first logout said');
    now += 300 * SECOND;
    assert.equal(store.isDenied('jti-1'), false);
  });
});

describe('a restart after a crash replays the journal', () => {
  test('a restart replays a login past the cap: the oldest session stays ended, and the next login ends the next oldest', async () => {
    const crashed = await open();
    const other = await crashed.store.start('user-2');
    const sessions = await fillTheCap(crashed.store, 'user-1');
    now += SECOND;
    const newest = await crashed.store.start('user-1');
    assert.deepEqual(
      journalRecords().map((record) => record.ends),
      [...Array.from({ length: 1 + MAX_SESSIONS_PER_USER }, () => []), [sessions[0]!.sessionId]],
      'only the login past the cap ends a session',
    );
    const { store } = await crashAndRestart(crashed);

    assert.equal(store.isActive(sessions[0]!.sessionId), false);
    await assert.rejects(store.rotate(sessions[0]!.refreshToken), refused('unknown'));
    for (const session of [...sessions.slice(1), newest, other]) assert.equal(store.isActive(session.sessionId), true);
    now += SECOND;
    await store.start('user-1');
    assert.equal(store.isActive(sessions[1]!.sessionId), false);
    assert.equal(store.isActive(sessions[2]!.sessionId), true);
  });

  test('a restart replays refreshes: when each token was spent, and which spent tokens are old enough to forget', async () => {
    const crashed = await open();
    const tokens = [(await crashed.store.start('user-1')).refreshToken];
    for (let i = 0; i < 12; i++) {
      now += SECOND;
      tokens.push((await crashed.store.rotate(tokens.at(-1)!)).refreshToken);
    }
    const { store } = await crashAndRestart(crashed);

    // tokens[11] was spent a second ago and its successor not yet used: presenting it again is an aborted exchange.
    assert.equal((await store.rotate(tokens[11]!)).refreshToken, tokens[12]);
    // tokens[10] was spent two seconds ago and its successor used since, but within the grace window: two tabs.
    assert.equal((await store.rotate(tokens[10]!)).refreshToken, tokens[11]);
    now += graceMs;
    // The 8 most recently spent tokens are remembered (tokens[4] to tokens[11]); the older ones are forgotten.
    await assert.rejects(store.rotate(tokens[3]!), refused('unknown'));
    assert.equal(store.sessionOf(tokens[3]!), undefined);
    await assert.rejects(store.rotate(tokens[4]!), refused('reused'));
    await assert.rejects(store.rotate(tokens[12]!), refused('unknown'));
  });

  test('a restart replays a logout: the session stays ended and the access token denied', async () => {
    const crashed = await open();
    const started = await crashed.store.start('user-1');
    const other = await crashed.store.start('user-1');
    await logout(crashed.store, started.sessionId, 'jti-1');
    const { store } = await crashAndRestart(crashed);

    assert.equal(store.isDenied('jti-1'), true);
    assert.equal(store.isActive(started.sessionId), false);
    assert.equal(store.sessionOf(started.refreshToken), undefined);
    await assert.rejects(store.rotate(started.refreshToken), refused('unknown'));
    assert.equal(store.isActive(other.sessionId), true);
  });

  test('a restart replays a logout with an access token already expired: the session stays ended, nothing is denied', async () => {
    const crashed = await open();
    const started = await crashed.store.start('user-1');
    await logout(crashed.store, started.sessionId, 'jti-1', 0);
    const { store } = await crashAndRestart(crashed);

    assert.equal(store.isActive(started.sessionId), false);
    assert.equal(store.isDenied('jti-1'), false);
  });

  test('a restart replays a revocation for reuse: the session stays revoked', async () => {
    const crashed = await open();
    const started = await crashed.store.start('user-1');
    const successor = await crashed.store.rotate(started.refreshToken);
    const latest = await crashed.store.rotate(successor.refreshToken);
    now += graceMs + 1;
    await assert.rejects(crashed.store.rotate(started.refreshToken), refused('reused'));
    const { store } = await crashAndRestart(crashed);

    assert.equal(store.isActive(started.sessionId), false);
    await assert.rejects(store.rotate(latest.refreshToken), refused('unknown'));
  });

  test('a restart replays the journal on top of the snapshot', async () => {
    const crashed = await open();
    const before = await crashed.store.start('user-1');
    await crashed.store.compact();
    const after = await crashed.store.rotate(before.refreshToken);
    const { store } = await crashAndRestart(crashed);

    assert.equal(store.sessionOf(before.refreshToken), before.sessionId);
    assert.equal((await store.rotate(after.refreshToken)).sessionId, before.sessionId);
  });
});

describe('a file is checked before it is believed', () => {
  const family = { id: 'family-1', userId: 'user-1', expiresAt: START + 30 * DAY };
  const token = { hash: hash('token-1'), familyId: 'family-1', expiresAt: START + 7 * DAY };
  const login = { op: 'start', family, token, ends: [] };
  const NOT_A_SESSION = /a session needs "id", "userId" and "expiresAt"/;
  const NOT_A_TOKEN = /a refresh token needs "hash", "familyId" and "expiresAt"/;
  const NOT_A_DENIAL = /a denied token needs "jti" and "expiresAt"/;
  const without = <T extends object>(value: T, key: keyof T) => Object.fromEntries(Object.entries(value).filter(([k]) => k !== key));

  test('a hand-written snapshot and journal are loaded as the store would have left them', async () => {
    await writeSnapshot({ families: [family], refreshTokens: [token], deniedAccessTokens: [{ jti: 'jti-0', expiresAt: START + 60 * SECOND }] });
    await writeJournal([
      { seq: 1, op: 'start', family: { ...family, id: 'family-2' }, token: { ...token, hash: hash('token-2'), familyId: 'family-2' }, ends: ['family-1'] },
      { seq: 2, op: 'rotate', hash: hash('token-2'), rotatedAt: START, next: { ...token, hash: hash('token-3'), familyId: 'family-2' } },
      { seq: 3, op: 'end', familyId: 'no-such-family', denied: { jti: 'jti-1', expiresAt: START + 60 * SECOND } },
    ]);
    const { store } = await open();
    assert.equal(store.isActive('family-1'), false, 'ended by the second login');
    assert.equal(store.sessionOf('token-1'), undefined);
    assert.equal(store.isActive('family-2'), true);
    assert.equal(store.sessionOf('token-2'), 'family-2');
    assert.equal(store.sessionOf('token-3'), 'family-2');
    assert.equal(store.isDenied('jti-0'), true);
    assert.equal(store.isDenied('jti-1'), true);
  });

  const records: [description: string, record: object, message: RegExp][] = [
    ['a login without its list of ended sessions', without(login, 'ends'), /not a session change: op "start"/],
    ['a login whose session is null', { ...login, family: null }, NOT_A_SESSION],
    ['a login whose session has no id', { ...login, family: without(family, 'id') }, NOT_A_SESSION],
    ['a login whose session has no user', { ...login, family: without(family, 'userId') }, NOT_A_SESSION],
    ['a login whose session\'s end is text', { ...login, family: { ...family, expiresAt: String(family.expiresAt) } }, NOT_A_SESSION],
    ['a login whose token is null', { ...login, token: null }, NOT_A_TOKEN],
    ['a login whose token has no hash', { ...login, token: without(token, 'hash') }, NOT_A_TOKEN],
    ['a login whose token has no session', { ...login, token: without(token, 'familyId') }, NOT_A_TOKEN],
    ['a login whose token\'s expiry is text', { ...login, token: { ...token, expiresAt: String(token.expiresAt) } }, NOT_A_TOKEN],
    ['a refresh without the token it spent', { op: 'rotate', rotatedAt: START, next: token }, /not a session change: op "rotate"/],
    ['a refresh whose time is text', { op: 'rotate', hash: token.hash, rotatedAt: String(START), next: token }, /not a session change: op "rotate"/],
    ['a refresh whose successor has no expiry', { op: 'rotate', hash: token.hash, rotatedAt: START, next: without(token, 'expiresAt') }, NOT_A_TOKEN],
    ['a logout without its session', { op: 'end', denied: { jti: 'jti-1', expiresAt: START } }, /not a session change: op "end"/],
    ['a logout whose denied token is null', { op: 'end', familyId: 'family-1', denied: null }, NOT_A_DENIAL],
    ['a logout whose denied token has no id', { op: 'end', familyId: 'family-1', denied: { expiresAt: START } }, NOT_A_DENIAL],
    ['a logout whose denied token\'s expiry is text', { op: 'end', familyId: 'family-1', denied: { jti: 'jti-1', expiresAt: String(START) } }, NOT_A_DENIAL],
    ['a change the store does not know', { op: 'rename', familyId: 'family-1' }, /not a session change: op "rename"/],
  ];
  for (const [description, record, message] of records) {
    test(`open() refuses a journal holding ${description}, saying what is wrong`, async () => {
      await writeJournal([login, record]);
      await assert.rejects(open(), (error: Error) => {
        assert.equal(error.name, 'CorruptFileError');
        assert.match(error.message, /sessions\.journal\.1\.jsonl has a record at byte \d+ that cannot be applied/);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  const snapshots: [description: string, snapshot: Record<string, unknown>, message: RegExp][] = [
    ['a session that is null', { families: [null] }, NOT_A_SESSION],
    ['a session without an id', { families: [without(family, 'id')] }, NOT_A_SESSION],
    ['a session without an end', { families: [without(family, 'expiresAt')] }, NOT_A_SESSION],
    ['a token that is null', { refreshTokens: [null] }, NOT_A_TOKEN],
    ['a token without a hash', { refreshTokens: [without(token, 'hash')] }, NOT_A_TOKEN],
    ['a token without a session', { refreshTokens: [without(token, 'familyId')] }, NOT_A_TOKEN],
    ['a token without an expiry', { refreshTokens: [without(token, 'expiresAt')] }, NOT_A_TOKEN],
    ['a denied token that is null', { deniedAccessTokens: [null] }, NOT_A_DENIAL],
    ['a denied token without an id', { deniedAccessTokens: [{ expiresAt: START }] }, NOT_A_DENIAL],
    ['a denied token without an expiry', { deniedAccessTokens: [{ jti: 'jti-1' }] }, NOT_A_DENIAL],
  ];
  for (const [description, snapshot, message] of snapshots) {
    test(`open() refuses a snapshot holding ${description}, saying what is wrong`, async () => {
      await writeSnapshot({ families: [family], refreshTokens: [token], ...snapshot });
      await assert.rejects(open(), (error: Error) => {
        assert.equal(error.name, 'CorruptFileError');
        assert.match(error.message, /sessions\.json holds an invalid entry/);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test('a snapshot session with no refresh token left is not active, and can be logged out', async () => {
    await writeSnapshot({ families: [family] });
    const { store } = await open();
    assert.equal(store.isActive(family.id), false);
    await logout(store, family.id, 'jti-1');
    assert.equal(store.isDenied('jti-1'), true);
    await store.close();
    assert.deepEqual((await readSnapshot()).families, []);
  });

  test('a snapshot token whose session is not in the file is refused as unknown', async () => {
    await writeSnapshot({ refreshTokens: [token] });
    const { store } = await open();
    await assert.rejects(store.rotate('token-1'), refused('unknown'));
  });
});

describe('end()', () => {
  test('a logout whose access token expires this very millisecond denies nothing, on disk either', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now = START + 5 * SECOND; // a whole second, as a JWT's exp is
    await logout(store, started.sessionId, 'jti-1', 0);
    assert.equal(store.isActive(started.sessionId), false);
    assert.deepEqual(journalRecords().at(-1), { seq: 2, op: 'end', familyId: started.sessionId });
  });

  test('a logout of an unknown session with an expired access token writes nothing', async () => {
    const { store } = await open();
    await store.start('user-1');
    await logout(store, 'no-such-session', 'jti-1', 0);
    assert.equal(journalRecords().length, 1);
  });

  test('a logout of an unknown session waits for the writes before it, and fails with them', async () => {
    const { store, fs } = await open();
    fs.failNext(/^fsync sessions\.journal/);
    const [login, loggedOut] = await Promise.allSettled([store.start('user-1'), logout(store, 'no-such-session', 'jti-1', 0)]);
    assert.ok(login.status === 'rejected' && login.reason instanceof StorageError);
    assert.ok(loggedOut.status === 'rejected' && loggedOut.reason instanceof StorageError);
  });

  test('after a logout, the cap still counts the user\'s other sessions', async () => {
    const { store } = await open();
    const sessions = await fillTheCap(store, 'user-1');
    await logout(store, sessions[5]!.sessionId, 'jti-1');
    await store.start('user-1');
    assert.equal(store.isActive(sessions[0]!.sessionId), true, 'ten sessions again, none ended');
    await store.start('user-1');
    assert.equal(store.isActive(sessions[0]!.sessionId), false, 'the eleventh ends the oldest');
    assert.equal(store.isActive(sessions[1]!.sessionId), true);
  });
});

describe('rotate()', () => {
  test('a refresh repeated while a logout is on its way to the disk is refused as unknown', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    const [first, again, ended] = await Promise.allSettled([
      store.rotate(started.refreshToken),
      store.rotate(started.refreshToken), // a second tab, with the same token: waits for the first rotation to be stored
      logout(store, started.sessionId, 'jti-1'),
    ]);
    assert.equal(first.status, 'fulfilled');
    assert.equal(ended.status, 'fulfilled');
    assert.ok(again.status === 'rejected');
    assert.deepEqual({ name: again.reason.name, reason: again.reason.reason }, refused('unknown'));
  });
});

describe('start()', () => {
  test('an idle session (its newest token expired) does not count against the cap, even before a prune drops it', async () => {
    const { store } = await open();
    const refreshed = await store.start('user-1');
    now += SECOND;
    const idle = await store.start('user-1');
    now = START + DEFAULT_LIFETIMES.refreshMs - 20 * SECOND;
    await store.rotate(refreshed.refreshToken); // prunes: nothing has expired yet
    now = START + DEFAULT_LIFETIMES.refreshMs + 2 * SECOND; // 22 s later, no prune due: the idle session's token has expired
    assert.equal(store.isActive(idle.sessionId), false);
    for (let i = 0; i < MAX_SESSIONS_PER_USER - 1; i++) await store.start('user-1');
    assert.equal(store.isActive(refreshed.sessionId), true, 'nine new sessions and the refreshed one: ten, none ended');
  });
});

describe('the journal', () => {
  test('holds one line per change: a login, a refresh and a logout, as the store made them', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now += SECOND;
    const rotated = await store.rotate(started.refreshToken);
    await logout(store, started.sessionId, 'jti-1', 900);
    const id = started.sessionId;
    assert.deepEqual(journalRecords(), [
      {
        seq: 1,
        op: 'start',
        family: { id, userId: 'user-1', expiresAt: START + 30 * DAY },
        token: { hash: hash(started.refreshToken), familyId: id, expiresAt: START + 7 * DAY },
        ends: [],
      },
      {
        seq: 2,
        op: 'rotate',
        hash: hash(started.refreshToken),
        rotatedAt: START + SECOND,
        next: { hash: hash(rotated.refreshToken), familyId: id, expiresAt: START + SECOND + 7 * DAY },
      },
      { seq: 3, op: 'end', familyId: id, denied: { jti: 'jti-1', expiresAt: START + SECOND + 900 * SECOND } },
    ]);
  });
});

describe('sessionOf()', () => {
  test('names the session of a refresh token, spent or current, and of no token it never issued', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    const rotated = await store.rotate(started.refreshToken);
    assert.equal(store.sessionOf(started.refreshToken), started.sessionId);
    assert.equal(store.sessionOf(rotated.refreshToken), started.sessionId);
    assert.equal(store.sessionOf('made-up-token'), undefined);
  });
});

describe('the minute\'s prune', () => {
  test('a logged-out access token stays denied through a prune, and the prune a minute later, as it expires, drops it', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    await logout(store, started.sessionId, 'jti-1', 15 * 60);
    now += 14 * MINUTE;
    await store.start('user-2'); // prunes
    assert.equal(store.isDenied('jti-1'), true);
    await store.compact();
    assert.deepEqual((await readSnapshot()).deniedAccessTokens.map((denied) => denied.jti), ['jti-1']);

    now += MINUTE; // the access token expires this very millisecond
    await store.start('user-3'); // prunes again
    await store.close();
    assert.deepEqual((await readSnapshot()).deniedAccessTokens, []);
  });

  test('a spent refresh token is left out of the snapshot once expired, while its session goes on', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now += 6 * DAY;
    const rotated = await store.rotate(started.refreshToken);
    now += DAY; // the first token expires this very millisecond
    await logout(store, 'no-such-session', 'jti-1', 0); // prunes, writes nothing
    await store.close(); // once the prune is over
    assert.equal(store.sessionOf(started.refreshToken), undefined);
    assert.equal(store.isActive(started.sessionId), true);
    const snapshot = await readSnapshot();
    assert.deepEqual(snapshot.refreshTokens.map((record) => record.hash), [hash(rotated.refreshToken)]);
    assert.deepEqual(snapshot.families.map((family) => family.id), [started.sessionId]);
  });

  test('a refresh token expired a second ago is refused as expired, before the minute\'s prune forgets it', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now = START + 6 * DAY;
    await store.rotate(started.refreshToken);
    now = START + 7 * DAY - 30 * SECOND;
    await store.start('user-2'); // prunes: the first token has 30 s left
    now += 31 * SECOND;
    await store.start('user-3'); // no prune: the last was 31 s ago
    await assert.rejects(store.rotate(started.refreshToken), refused('expired'));
    assert.equal(store.sessionOf(started.refreshToken), started.sessionId, 'not yet forgotten');
    now += 29 * SECOND;
    await store.start('user-4'); // a minute after the last prune: prunes
    await assert.rejects(store.rotate(started.refreshToken), refused('unknown'));
    assert.equal(store.sessionOf(started.refreshToken), undefined);
  });

  /** A snapshot of `count` sessions, each with one refresh token `token-<i>`, all expired by `START + DAY`. */
  async function manyExpiredSessions(count: number): Promise<string[]> {
    const tokens = Array.from({ length: count }, (_, i) => `token-${i}`);
    await writeSnapshot({
      families: tokens.map((_, i) => ({ id: `family-${i}`, userId: `user-${i % 50}`, expiresAt: START + DAY })),
      refreshTokens: tokens.map((token, i) => ({ hash: hash(token), familyId: `family-${i}`, expiresAt: START + DAY })),
      deniedAccessTokens: [],
    });
    return tokens;
  }

  test('close() waits for a prune under way: the last snapshot leaves out all that expired', async () => {
    const tokens = await manyExpiredSessions(300);
    const { store } = await open();
    assert.equal(store.sessionOf(tokens[0]!), 'family-0');
    const live = await store.start('user-1'); // something for close() to write
    now += 2 * DAY;
    void logout(store, 'no-such-session', 'jti-1', 0); // starts the prune, writes nothing
    await store.close();
    const snapshot = await readSnapshot();
    assert.deepEqual(snapshot.families.map((family) => family.id), [live.sessionId]);
    assert.deepEqual(snapshot.refreshTokens.map((record) => record.hash), [hash(live.refreshToken)]);
  });

  test('a prune of thousands of sessions gives the event loop back: other work runs before it ends', async () => {
    const tokens = await manyExpiredSessions(5_000);
    const { store } = await open();
    now += 2 * DAY;
    const ended = logout(store, 'no-such-session', 'jti-1', 0); // starts the prune
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(tokens.some((token) => store.sessionOf(token) !== undefined), 'the prune ran to its end without a pause');
    await ended;
    await store.close();
    assert.ok(tokens.every((token) => store.sessionOf(token) === undefined));
  });

  test('a logout of an idle session that fails while a long prune is under way leaves a snapshot that loads', async () => {
    // One idle session (its token expired a day ago) among thousands of live ones: the prune pauses
    // part-way through them, after it has dropped the idle session's token but before the session.
    const live = Array.from({ length: 3_000 }, (_, i) => `token-${i + 1}`);
    await writeSnapshot({
      families: ['token-0', ...live].map((_, i) => ({ id: `family-${i}`, userId: `user-${i}`, expiresAt: START + 30 * DAY })),
      refreshTokens: ['token-0', ...live].map((token, i) => ({ hash: hash(token), familyId: `family-${i}`, expiresAt: START + (i === 0 ? 1 : 7) * DAY })),
    });
    now += 2 * DAY;
    const { store, fs } = await open();
    await store.start('user-1'); // something for close() to write
    now += MINUTE;
    const pruning = logout(store, 'no-such-session', 'jti-0', 0); // starts the prune
    await new Promise((resolve) => setImmediate(resolve)); // the prune has paused part-way
    fs.failNext(/^fsync sessions\.journal/);
    await assert.rejects(logout(store, 'family-0', 'jti-1'), StorageError);
    await pruning;
    await store.close();

    const { store: restarted } = await open();
    assert.equal(restarted.isActive('family-0'), false);
    assert.equal(restarted.isDenied('jti-1'), false);
    assert.equal(restarted.sessionOf('token-1'), 'family-1');
    assert.equal(restarted.isActive('family-1'), true);
  });
});

describe('flush() and compact()', () => {
  test('flush() resolves once a login started before it is on disk', async () => {
    const { store } = await open();
    const login = store.start('user-1');
    await store.flush();
    const [record] = journalRecords();
    assert.equal(record?.op, 'start');
    assert.equal((record?.family as { id: string }).id, (await login).sessionId);
  });

  test('compact() folds the journal into sessions.json', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    await store.compact();
    assert.deepEqual(await readdir(dir), ['sessions.journal.2.jsonl', 'sessions.json']);
    assert.deepEqual((await readSnapshot()).families.map((family) => family.id), [started.sessionId]);
  });
});
