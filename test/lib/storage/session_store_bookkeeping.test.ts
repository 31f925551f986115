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
 * record, thousands of expired sessions): `sessions-v3.json` is `{"version":2,"seq":N,"sessions":[...],
 * "deniedAccessTokens":[...],"clock":[{"latest":ms}]}`, and `sessions-v3.journal.G.jsonl` one change per
 * line, `{"seq":N,"op":"start"|"rotate"|"end","at":ms,...}`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { RefreshTokens } from '../../../lib/sessions/refresh_tokens.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { StorageError, type RefreshFailure } from '../../../lib/errors.ts';
import { DEFAULT_LIFETIMES, MAX_SESSIONS_PER_USER, type IssuedRefresh, type Session } from '../../../lib/sessions/rules.ts';

const SECRET = new TextEncoder().encode('bookkeeping-secret-of-at-least-32-bytes!');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const START = Date.UTC(2026, 0, 1);
const { retryMs } = DEFAULT_LIFETIMES;
const tokens = new RefreshTokens(SECRET);

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
  assert.ok((await readdir(dir)).some((name) => name.startsWith('sessions-v3.journal.')), 'nothing to replay');
  const copy = await mkdtemp(path.join(tmpdir(), 'session-bookkeeping-crashed-'));
  dirs.push(copy);
  await cp(dir, copy, { recursive: true });
  await crashed.store.close();
  dir = copy;
  return open();
}

/** Logs a session out with an access token that expires `inSeconds` from now. */
const logout = (store: JsonSessionStore, sessionId: string, jti: string, inSeconds = 15 * 60) =>
  store.end([sessionId], { jti, exp: Math.floor(now / 1000) + inSeconds });

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
  sessions: Session[];
  deniedAccessTokens: { jti: string; expiresAt: number }[];
  clock: { latest: number }[];
}
const readSnapshot = async (): Promise<Snapshot> => JSON.parse(await readFile(path.join(dir, 'sessions-v3.json'), 'utf8'));
const writeSnapshot = (snapshot: Record<string, unknown>) =>
  writeFile(path.join(dir, 'sessions-v3.json'), JSON.stringify({ version: 2, seq: 0, sessions: [], deniedAccessTokens: [], clock: [{ latest: START }], ...snapshot }));
/** Every journal record on disk, oldest first (read synchronously: nothing can happen in between). */
function journalRecords(): Record<string, unknown>[] {
  return readFileSync(path.join(dir, 'sessions-v3.journal.1.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const { sha256: _checksum, ...record } = JSON.parse(line) as Record<string, unknown>;
      return record;
    });
}
const writeJournal = (records: object[]) =>
  writeFile(path.join(dir, 'sessions-v3.journal.1.jsonl'), records.map((record, i) => `${JSON.stringify({ seq: i + 1, ...record })}\n`).join(''));

/** A session as a file would hold it, ids made up: `session(1)` has the UUID ending in 1. */
const sessionId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const session = (n: number, fields: Partial<Session> = {}): Session => ({
  id: sessionId(n),
  userId: `user-${n}`,
  startedAt: START,
  expiresAt: START + 30 * DAY,
  generation: 0,
  rotatedAt: START,
  ...fields,
});

describe('a failed write leaves the sessions as they are on disk', () => {
  test('a failed login past the cap leaves the oldest session going, and the cap still counts it', async () => {
    const { store, fs } = await open();
    const [oldest, second] = await fillTheCap(store, 'user-1');
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(store.start('user-1'), StorageError);
    assert.equal(store.isActive(oldest!.sessionId), true, 'the login that would have ended it was never stored');
    assert.equal(store.sessionsOf('user-1')[0]?.id, oldest!.sessionId, 'put back, and still listed first');
    assert.equal((await store.rotate(oldest!.refreshToken)).sessionId, oldest!.sessionId);

    await store.start('user-1');
    assert.equal(store.isActive(oldest!.sessionId), false, 'the next login ends the oldest');
    assert.equal(store.isActive(second!.sessionId), true);
  });

  test('a failed refresh leaves the session at its generation, in memory and in the snapshot', async () => {
    const { store, fs } = await open();
    const started = await store.start('user-1');
    now += SECOND;
    const first = await store.rotate(started.refreshToken);
    now += SECOND;
    const second = await store.rotate(first.refreshToken);
    now += SECOND;
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(store.rotate(second.refreshToken), StorageError);
    assert.equal(store.isActive(started.sessionId), true);
    assert.deepEqual(
      store.sessionsOf('user-1').map(({ generation, rotatedAt }) => ({ generation, rotatedAt })),
      [{ generation: 2, rotatedAt: START + 2 * SECOND }],
    );
    await store.close();

    const { sessions } = await readSnapshot();
    assert.deepEqual(sessions, [{ id: started.sessionId, userId: 'user-1', startedAt: START, expiresAt: START + 30 * DAY, generation: 2, rotatedAt: START + 2 * SECOND }]);
    const { store: restarted } = await open();
    assert.equal((await restarted.rotate(second.refreshToken)).refreshToken, tokens.issue(started.sessionId, 3), 'the token it failed to replace is still current');
  });

  test('a failed logout leaves the session going and its access token allowed; the logout that follows is stored as usual', async () => {
    const { store, fs } = await open();
    const started = await store.start('user-1');
    fs.failNext(/^fsync sessions-v3\.journal/);
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

  test('a failed sign-out everywhere leaves every session going, in its user\'s list too', async () => {
    const { store, fs } = await open();
    const sessions: IssuedRefresh[] = [];
    for (let i = 0; i < 3; i++) {
      now += SECOND;
      sessions.push(await store.start('user-1'));
    }
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(store.endAll('user-1', { jti: 'jti-1', exp: Math.floor(now / 1000) + 60 }), StorageError);
    assert.deepEqual(store.sessionsOf('user-1').map((each) => each.id), sessions.map((each) => each.sessionId));
    assert.equal(store.isDenied('jti-1'), false);
    await store.endAll('user-1');
    assert.deepEqual(store.sessionsOf('user-1'), []);
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
    fs.failNext(/^fsync sessions-v3\.journal/);
    const refresh = store.rotate(last.refreshToken);
    now = START + 30 * DAY + 30 * SECOND;
    // Prunes while the refresh is on its way to the disk (and, waiting for that write, fails with it).
    const pruning = logout(store, 'no-such-session', 'jti-0', 0);
    const [refreshed] = await Promise.allSettled([refresh, pruning]);
    assert.ok(refreshed.status === 'rejected' && refreshed.reason instanceof StorageError);
    assert.equal(store.isActive(started.sessionId), false);
    assert.deepEqual(store.sessionsOf('user-1'), []);
    await store.close();
    assert.deepEqual((await readSnapshot()).sessions.map((each) => each.userId), ['user-2'], 'only the other session');
  });

  test('a failed second logout with the same access token leaves it denied until its first expiry', async () => {
    const { store, fs } = await open();
    const first = await store.start('user-1');
    const second = await store.start('user-1');
    await logout(store, first.sessionId, 'jti-1', 900);
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(logout(store, second.sessionId, 'jti-1', 600), StorageError);
    assert.equal(store.isActive(second.sessionId), true);
    now += 600 * SECOND;
    assert.equal(store.isDenied('jti-1'), true, 'still denied as the first logout said');
    now += 300 * SECOND;
    assert.equal(store.isDenied('jti-1'), false);
  });

  test('a failed login that ended no session leaves its user without sessions, and the user\'s list empty', async () => {
    const { store, fs } = await open();
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(store.start('user-1'), StorageError);
    assert.deepEqual(store.sessionsOf('user-1'), []);
    assert.equal(store.size, 0);
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

  test('a restart replays refreshes: the generation and when it was issued', async () => {
    const crashed = await open();
    const issued = [await crashed.store.start('user-1')];
    for (let i = 0; i < 12; i++) {
      now += 20 * SECOND;
      issued.push(await crashed.store.rotate(issued.at(-1)!.refreshToken));
    }
    const { store } = await crashAndRestart(crashed);

    assert.deepEqual(store.sessionsOf('user-1').map(({ generation, rotatedAt }) => ({ generation, rotatedAt })), [{ generation: 12, rotatedAt: now }]);
    // issued[11] was replaced just now: within the retry window, the current token again.
    assert.equal((await store.rotate(issued[11]!.refreshToken)).refreshToken, issued[12]!.refreshToken);
    now += retryMs + 1;
    await assert.rejects(store.rotate(issued[11]!.refreshToken), refused('reused'));
  });

  test('a restart replays the time of the last write: a clock stepped back cannot reopen the retry window', async () => {
    const crashed = await open();
    const started = await crashed.store.start('user-1');
    await crashed.store.rotate(started.refreshToken);
    now += retryMs + 1;
    await crashed.store.start('user-2');
    now = START; // the clock steps back to the rotation
    const { store } = await crashAndRestart(crashed);
    await assert.rejects(store.rotate(started.refreshToken), refused('reused'));
  });

  test('a restart replays a logout: the session stays ended and the access token denied', async () => {
    const crashed = await open();
    const started = await crashed.store.start('user-1');
    const other = await crashed.store.start('user-1');
    await logout(crashed.store, started.sessionId, 'jti-1');
    const { store } = await crashAndRestart(crashed);

    assert.equal(store.isDenied('jti-1'), true);
    assert.equal(store.isActive(started.sessionId), false);
    await assert.rejects(store.rotate(started.refreshToken), refused('unknown'));
    assert.equal(store.isActive(other.sessionId), true);
    assert.deepEqual(store.sessionsOf('user-1').map((each) => each.id), [other.sessionId]);
  });

  test('a restart replays a logout with an access token already expired: the session stays ended, nothing is denied', async () => {
    const crashed = await open();
    const started = await crashed.store.start('user-1');
    const other = await crashed.store.start('user-2');
    await logout(crashed.store, started.sessionId, 'jti-1', 0);
    const { store } = await crashAndRestart(crashed);

    assert.equal(store.isActive(started.sessionId), false);
    assert.equal(store.isDenied('jti-1'), false);
    assert.equal(store.isActive(other.sessionId), true);
  });

  test('a restart replays a sign-out everywhere: every session of the user stays ended, the others go on', async () => {
    const crashed = await open();
    const mine = [await crashed.store.start('user-1'), await crashed.store.start('user-1')];
    const theirs = await crashed.store.start('user-2');
    await crashed.store.endAll('user-1', { jti: 'jti-1', exp: Math.floor(now / 1000) + 60 });
    const { store } = await crashAndRestart(crashed);

    for (const each of mine) assert.equal(store.isActive(each.sessionId), false);
    assert.equal(store.isActive(theirs.sessionId), true);
    assert.equal(store.isDenied('jti-1'), true);
  });

  test('a restart replays a session ended for reuse: it stays ended', async () => {
    const crashed = await open();
    const started = await crashed.store.start('user-1');
    const latest = await crashed.store.rotate(started.refreshToken);
    now += retryMs + 1;
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

    assert.equal((await store.rotate(after.refreshToken)).sessionId, before.sessionId);
  });
});

describe('a file is checked before it is believed', () => {
  const login = { op: 'start', at: START, session: session(1), ends: [] };
  const NOT_A_SESSION = /a session needs "\w+", a (string|number)/;
  const NOT_A_DENIAL = /a denied token needs "jti" and "expiresAt"/;
  const without = <T extends object>(value: T, key: keyof T) => Object.fromEntries(Object.entries(value).filter(([k]) => k !== key));

  test('a hand-written snapshot and journal are loaded as the store would have left them', async () => {
    await writeSnapshot({ sessions: [session(1)], deniedAccessTokens: [{ jti: 'jti-0', expiresAt: START + 60 * SECOND }] });
    await writeJournal([
      { op: 'start', at: START, session: session(2, { userId: 'user-1' }), ends: [sessionId(1)] },
      { op: 'rotate', at: START + SECOND, sessionId: sessionId(2), generation: 1 },
      { op: 'end', at: START + SECOND, sessionIds: ['no-such-session'], denied: { jti: 'jti-1', expiresAt: START + 60 * SECOND } },
    ]);
    const { store } = await open();
    assert.equal(store.isActive(sessionId(1)), false, 'ended by the second login');
    assert.equal(store.isActive(sessionId(2)), true);
    assert.equal((await store.rotate(tokens.issue(sessionId(2), 1))).refreshToken, tokens.issue(sessionId(2), 2));
    assert.equal(store.isDenied('jti-0'), true);
    assert.equal(store.isDenied('jti-1'), true);
  });

  const records: [description: string, record: object, message: RegExp][] = [
    ['a change without its time', without(login, 'at'), /a session change needs "at"/],
    ['a change whose time is text', { ...login, at: String(START) }, /a session change needs "at"/],
    ['a login without its list of ended sessions', without(login, 'ends'), /not a session change: op "start"/],
    ['a login whose session is null', { ...login, session: null }, NOT_A_SESSION],
    ['a login whose session has no id', { ...login, session: without(session(1), 'id') }, NOT_A_SESSION],
    ['a login whose session has no user', { ...login, session: without(session(1), 'userId') }, NOT_A_SESSION],
    ['a login whose session has no start', { ...login, session: without(session(1), 'startedAt') }, NOT_A_SESSION],
    ['a login whose session\'s end is text', { ...login, session: { ...session(1), expiresAt: String(START) } }, NOT_A_SESSION],
    ['a login whose session has no generation', { ...login, session: without(session(1), 'generation') }, NOT_A_SESSION],
    ['a login whose session has no rotation time', { ...login, session: without(session(1), 'rotatedAt') }, NOT_A_SESSION],
    ['a refresh without its session', { op: 'rotate', at: START, generation: 1 }, /not a session change: op "rotate"/],
    ['a refresh whose generation is text', { op: 'rotate', at: START, sessionId: sessionId(1), generation: '1' }, /not a session change: op "rotate"/],
    ['a logout without its sessions', { op: 'end', at: START, denied: { jti: 'jti-1', expiresAt: START } }, /not a session change: op "end"/],
    ['a logout whose sessions are one id, not a list', { op: 'end', at: START, sessionIds: sessionId(1) }, /not a session change: op "end"/],
    ['a logout whose denied token is null', { op: 'end', at: START, sessionIds: [], denied: null }, NOT_A_DENIAL],
    ['a logout whose denied token has no id', { op: 'end', at: START, sessionIds: [], denied: { expiresAt: START } }, NOT_A_DENIAL],
    ['a logout whose denied token\'s expiry is text', { op: 'end', at: START, sessionIds: [], denied: { jti: 'jti-1', expiresAt: String(START) } }, NOT_A_DENIAL],
    ['a change the store does not know', { op: 'rename', at: START, sessionId: sessionId(1) }, /not a session change: op "rename"/],
  ];
  for (const [description, record, message] of records) {
    test(`open() refuses a journal holding ${description}, saying what is wrong`, async () => {
      await writeJournal([login, record]);
      await assert.rejects(open(), (error: Error) => {
        assert.equal(error.name, 'CorruptFileError');
        assert.match(error.message, /sessions-v3\.journal\.1\.jsonl has a record at byte \d+ that cannot be applied/);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  const snapshots: [description: string, snapshot: Record<string, unknown>, message: RegExp][] = [
    ['a session that is null', { sessions: [null] }, NOT_A_SESSION],
    ['a session without an id', { sessions: [without(session(1), 'id')] }, NOT_A_SESSION],
    ['a session without an end', { sessions: [without(session(1), 'expiresAt')] }, NOT_A_SESSION],
    ['a session whose generation is text', { sessions: [{ ...session(1), generation: '0' }] }, NOT_A_SESSION],
    ['a denied token that is null', { deniedAccessTokens: [null] }, NOT_A_DENIAL],
    ['a denied token without an id', { deniedAccessTokens: [{ expiresAt: START }] }, NOT_A_DENIAL],
    ['a denied token without an expiry', { deniedAccessTokens: [{ jti: 'jti-1' }] }, NOT_A_DENIAL],
    ['a clock that is null', { clock: [null] }, /the clock needs "latest"/],
    ['a clock whose time is text', { clock: [{ latest: String(START) }] }, /the clock needs "latest"/],
  ];
  for (const [description, snapshot, message] of snapshots) {
    test(`open() refuses a snapshot holding ${description}, saying what is wrong`, async () => {
      await writeSnapshot({ sessions: [session(1)], ...snapshot });
      await assert.rejects(open(), (error: Error) => {
        assert.equal(error.name, 'CorruptFileError');
        assert.match(error.message, /sessions-v3\.json holds an invalid entry/);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test('a snapshot\'s clock is a floor: with the system clock behind it, the store decides at the snapshot\'s time', async () => {
    const idleSince = START - DEFAULT_LIFETIMES.refreshMs;
    await writeSnapshot({ sessions: [session(1, { startedAt: idleSince, rotatedAt: idleSince })], clock: [{ latest: START }] });
    now = START - DAY; // a day behind the last write
    const { store } = await open();
    assert.equal(store.isActive(sessionId(1)), false, 'idle for 7 days by the snapshot\'s clock');
    await assert.rejects(store.rotate(tokens.issue(sessionId(1), 0)), { name: 'RefreshError' });
  });
});

describe('end()', () => {
  test('a logout whose access token expires this very millisecond denies nothing, on disk either', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now = START + 5 * SECOND; // a whole second, as a JWT's exp is
    await logout(store, started.sessionId, 'jti-1', 0);
    assert.equal(store.isActive(started.sessionId), false);
    assert.deepEqual(journalRecords().at(-1), { seq: 2, op: 'end', at: now, sessionIds: [started.sessionId] });
  });

  test('a logout of an unknown session with an expired access token writes nothing, nor does one replayed', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    await logout(store, 'no-such-session', 'jti-0', 0);
    await store.end(['no-such-session']);
    await store.endAll('user-without-sessions');
    assert.equal(journalRecords().length, 1);
    await logout(store, started.sessionId, 'jti-1');
    await logout(store, started.sessionId, 'jti-1'); // the same request again: the token is denied already
    assert.equal(journalRecords().length, 2);
  });

  test('a logout of an unknown session waits for the writes before it, and fails with them', async () => {
    const { store, fs } = await open();
    fs.failNext(/^fsync sessions-v3\.journal/);
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

  test('a sign-out everywhere is one change: every session of the user, with the access token denied', async () => {
    const { store } = await open();
    const mine = [await store.start('user-1'), await store.start('user-1')];
    await store.start('user-2');
    await store.endAll('user-1', { jti: 'jti-1', exp: Math.floor(now / 1000) + 60 });
    assert.deepEqual(journalRecords().at(-1), {
      seq: 4,
      op: 'end',
      at: now,
      sessionIds: mine.map((each) => each.sessionId),
      denied: { jti: 'jti-1', expiresAt: now + 60 * SECOND },
    });
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

  test('a repeat waits for the rotation it repeats to be stored, and fails with it', async () => {
    const { store, fs } = await open();
    const started = await store.start('user-1');
    fs.failNext(/^fsync sessions-v3\.journal/);
    const results = await Promise.allSettled([store.rotate(started.refreshToken), store.rotate(started.refreshToken)]);
    assert.ok(results.every((result) => result.status === 'rejected' && result.reason instanceof StorageError));
    assert.deepEqual(store.sessionsOf('user-1').map((each) => each.generation), [0]);
  });

  test('a repeat answers with the current token whatever the token presented, never one a generation ahead of it', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    const [first, second] = await Promise.all([store.rotate(started.refreshToken), store.rotate(started.refreshToken)]);
    assert.equal(first.refreshToken, tokens.issue(started.sessionId, 1));
    assert.deepEqual(second, first);
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
  test('holds one line per change, with its time: a login, a refresh and a logout, as the store made them', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now += SECOND;
    await store.rotate(started.refreshToken);
    await logout(store, started.sessionId, 'jti-1', 900);
    const id = started.sessionId;
    assert.deepEqual(journalRecords(), [
      { seq: 1, op: 'start', at: START, session: { id, userId: 'user-1', startedAt: START, expiresAt: START + 30 * DAY, generation: 0, rotatedAt: START }, ends: [] },
      { seq: 2, op: 'rotate', at: START + SECOND, sessionId: id, generation: 1 },
      { seq: 3, op: 'end', at: START + SECOND, sessionIds: [id], denied: { jti: 'jti-1', expiresAt: START + SECOND + 900 * SECOND } },
    ]);
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

  test('an idle session is left out of the snapshot, while the user\'s refreshed one goes on', async () => {
    const { store } = await open();
    const refreshed = await store.start('user-1');
    const idle = await store.start('user-1');
    now += 6 * DAY;
    await store.rotate(refreshed.refreshToken);
    now += DAY; // the idle session's token expires this very millisecond
    await logout(store, 'no-such-session', 'jti-1', 0); // prunes, writes nothing
    await store.close(); // once the prune is over
    assert.equal(store.isActive(idle.sessionId), false);
    assert.deepEqual((await readSnapshot()).sessions.map((each) => each.id), [refreshed.sessionId]);
    assert.equal(store.size, 1);
  });

  test('a session idle a second ago is refused as expired, before the minute\'s prune forgets it', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now = START + 7 * DAY - 30 * SECOND;
    await store.start('user-2'); // prunes: the session has 30 s left
    now += 31 * SECOND;
    await store.start('user-3'); // no prune: the last was 31 s ago
    await assert.rejects(store.rotate(started.refreshToken), refused('expired'));
    assert.equal(store.size, 3, 'not yet forgotten');
    now += 29 * SECOND;
    await store.start('user-4'); // a minute after the last prune: prunes
    await assert.rejects(store.rotate(started.refreshToken), refused('unknown'));
  });

  /** A snapshot of `count` sessions, all idle by `START + 7 days`. */
  async function manyExpiredSessions(count: number): Promise<void> {
    await writeSnapshot({ sessions: Array.from({ length: count }, (_, i) => session(i + 1, { userId: `user-${i % 50}` })) });
  }

  test('close() waits for a prune under way: the last snapshot leaves out all that expired', async () => {
    await manyExpiredSessions(300);
    const { store } = await open();
    assert.equal(store.size, 300);
    const live = await store.start('user-1'); // something for close() to write
    now += 8 * DAY;
    const later = await store.start('user-1'); // starts the prune
    await store.close();
    assert.deepEqual((await readSnapshot()).sessions.map((each) => each.id), [later.sessionId]);
    assert.equal(store.isActive(live.sessionId), false);
  });

  test('a prune of thousands of sessions gives the event loop back: other work runs before it ends', async () => {
    await manyExpiredSessions(5_000);
    const { store } = await open();
    now += 8 * DAY;
    const ended = logout(store, 'no-such-session', 'jti-1', 0); // starts the prune
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(store.size > 0, 'the prune ran to its end without a pause');
    await ended;
    await store.close();
    assert.equal(store.size, 0);
  });

  test('a logout of an idle session that fails while a long prune is under way leaves a snapshot that loads', async () => {
    // One idle session (its token expired a day ago) among thousands of live ones: the prune pauses
    // part-way through them, after it has dropped the idle session but before the others are seen.
    const idleSince = START - 8 * DAY;
    await writeSnapshot({
      sessions: [session(1, { startedAt: idleSince, rotatedAt: idleSince }), ...Array.from({ length: 3_000 }, (_, i) => session(i + 2))],
    });
    const { store, fs } = await open();
    await store.start('user-1'); // something for close() to write
    now += MINUTE;
    const pruning = logout(store, 'no-such-session', 'jti-0', 0); // starts the prune
    await new Promise((resolve) => setImmediate(resolve)); // the prune has paused part-way
    fs.failNext(/^fsync sessions-v3\.journal/);
    await assert.rejects(logout(store, sessionId(1), 'jti-1'), StorageError);
    await pruning;
    await store.close();

    const { store: restarted } = await open();
    assert.equal(restarted.isActive(sessionId(1)), false);
    assert.equal(restarted.isDenied('jti-1'), false);
    assert.equal(restarted.isActive(sessionId(2)), true);
  });
});

describe('flush() and compact()', () => {
  test('flush() resolves once a login started before it is on disk', async () => {
    const { store } = await open();
    const login = store.start('user-1');
    await store.flush();
    const [record] = journalRecords();
    assert.equal(record?.op, 'start');
    assert.equal((record?.session as { id: string }).id, (await login).sessionId);
  });

  test('compact() folds the journal into sessions-v3.json, with the time of the last write', async () => {
    const { store } = await open();
    const started = await store.start('user-1');
    now += SECOND;
    await store.rotate(started.refreshToken);
    await store.compact();
    assert.deepEqual(withoutJournals(await readdir(dir)), ['sessions-v3.json']);
    const snapshot = await readSnapshot();
    assert.deepEqual(snapshot.sessions.map((each) => each.id), [started.sessionId]);
    assert.deepEqual(snapshot.clock, [{ latest: START + SECOND }]);
  });
});

describe('carrying an earlier release\'s files over', () => {
  /** `sessions.json` at version 2 and a journal after it, as the release before this one left them mid-run. */
  async function writeVersion2(): Promise<void> {
    const family = (id: string, userId: string) => ({ id, userId, expiresAt: START + 20 * DAY });
    const token = (hash: string, familyId: string, expiresAt: number) => ({ hash, familyId, expiresAt });
    await writeFile(
      path.join(dir, 'sessions.json'),
      JSON.stringify({
        version: 2,
        seq: 2,
        families: [family('f1', 'user-1'), family('f2', 'user-2')],
        refreshTokens: [token('h1', 'f1', START + DAY), token('h2', 'f2', START + DAY)],
        deniedAccessTokens: [{ jti: 'jti-1', expiresAt: START + MINUTE }],
      }),
    );
    const records = [
      { seq: 3, op: 'rotate', hash: 'h1', rotatedAt: START - SECOND, next: token('h1b', 'f1', START + 6 * DAY) },
      { seq: 4, op: 'start', family: family('f3', 'user-1'), token: token('h3', 'f3', START + 7 * DAY), ends: [] },
      { seq: 5, op: 'end', familyId: 'f2', denied: { jti: 'jti-2', expiresAt: START + MINUTE } },
      { seq: 6, op: 'start', family: family('f4', 'user-3'), token: token('h4', 'f4', START + 7 * DAY), ends: ['f3'] },
    ];
    await writeFile(path.join(dir, 'sessions.journal.3.jsonl'), records.map((record) => `${JSON.stringify(record)}\n`).join(''));
  }

  test('a version 2 snapshot and journal come over as the journal left them, into a snapshot, and the earlier files go', async () => {
    await writeVersion2();
    const { store } = await open();
    assert.deepEqual(['f1', 'f2', 'f3', 'f4'].map((id) => store.isActive(id)), [true, false, false, true]);
    assert.deepEqual(
      store.sessionsOf('user-1').map(({ id, startedAt, generation, rotatedAt }) => ({ id, startedAt, generation, rotatedAt })),
      [{ id: 'f1', startedAt: START - 10 * DAY, generation: 0, rotatedAt: START - DAY }],
      'started 30 days before its end, idle from its newest token',
    );
    assert.ok(store.isDenied('jti-1'));
    assert.ok(store.isDenied('jti-2'));
    assert.deepEqual(withoutJournals(await readdir(dir)), ['sessions-v3.json']);
    assert.deepEqual((await readSnapshot()).sessions.map((each) => each.id), ['f1', 'f4']);
  });

  test('a temp file an earlier release\'s crash left behind is removed too', async () => {
    await writeFile(path.join(dir, 'sessions.json.0b6f1c2e-5d4a-4b8e-9f3c-2a1d7e6b5c4f.tmp'), '{"half": ');
    await open();
    assert.deepEqual(withoutJournals(await readdir(dir)), ['sessions-v3.json']);
  });

  test('earlier files left by a crash after the carry-over are removed, and bring back nothing ended since', async () => {
    await writeVersion2();
    const { store } = await open();
    await store.end(['f1']);
    await store.close();
    await writeVersion2(); // as if the removal had not happened
    const { store: restarted } = await open();
    assert.equal(restarted.isActive('f1'), false, 'ended since, and not carried over again');
    assert.equal(restarted.isActive('f4'), true);
    assert.deepEqual(withoutJournals(await readdir(dir)), ['sessions-v3.json']);
  });

  test('a damaged earlier file stops the start, naming it, and is left as it is', async () => {
    await writeVersion2();
    const file = path.join(dir, 'sessions.journal.3.jsonl');
    const damaged = `${JSON.stringify({ seq: 3, op: 'start', family: { id: 'f5' }, token: {}, ends: [] })}\n`;
    await writeFile(file, damaged);
    await assert.rejects(open(), (error: Error) => {
      assert.equal(error.name, 'CorruptFileError');
      assert.match(error.message, /sessions\.journal\.3\.jsonl has a record at byte 0 that cannot be applied \(expected "userId", a string\)/);
      return true;
    });
    assert.equal(await readFile(file, 'utf8'), damaged);
  });

  const damagedRecords: [description: string, record: object][] = [
    ['a refresh without its successor', { seq: 3, op: 'rotate', hash: 'h1' }],
    ['a refresh whose successor has no expiry', { seq: 3, op: 'rotate', next: { familyId: 'f1' } }],
    ['a logout whose denied token has no id', { seq: 3, op: 'end', familyId: 'f1', denied: { expiresAt: START } }],
    ['a change that release did not know', { seq: 3, op: 'rename', familyId: 'f1' }],
  ];
  for (const [description, record] of damagedRecords) {
    test(`an earlier journal holding ${description} stops the start`, async () => {
      await writeVersion2();
      await writeFile(path.join(dir, 'sessions.journal.3.jsonl'), `${JSON.stringify(record)}\n`);
      await assert.rejects(open(), { name: 'CorruptFileError' });
    });
  }

  test('a carry-over whose snapshot cannot be written keeps the earlier files, and is made again at the next start', async () => {
    await writeVersion2();
    const fs = new StepFileSystem();
    fs.failNext(/^rename sessions-v3\.json/);
    await assert.rejects(JsonSessionStore.open(dir, { secret: SECRET, clock: () => now, fs, log: silentLogger }));
    assert.ok((await readdir(dir)).includes('sessions.json'));
    const { store } = await open();
    assert.ok(store.isActive('f1'));
    assert.deepEqual(withoutJournals(await readdir(dir)), ['sessions-v3.json']);
  });

  test('a data folder of this release alone is left as it is: no earlier file, nothing carried over', async () => {
    const first = await open();
    const started = await first.store.start('user-1');
    await first.store.close();
    const { store, fs } = await open();
    assert.ok(store.isActive(started.sessionId));
    assert.deepEqual(fs.steps.filter((step) => step.startsWith('rm') || step.startsWith('rename')), []);
  });
});

/** A folder's files but the journals: beside each snapshot stands the empty journal it names. */
function withoutJournals(names: string[]): string[] {
  return names.filter((name) => !name.includes('.journal.'));
}
