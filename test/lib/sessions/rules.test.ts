/**
 * Session rules at their edges, through the `SessionStore` interface only, so they hold for any store
 * that keeps the rules: a refresh token refused the moment it expires, not only once a clean-up pass
 * has deleted it; the retry window to the millisecond; and nothing of an expired session left on disk.
 *
 * Expired records are pruned at most once a minute, so a test that moves the clock more than a minute
 * past an expiry sees a token the prune already deleted ("unknown" would do as well as "expired"):
 * these tests let a prune run just before the expiry and present the token just after it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { DEFAULT_LIFETIMES, MAX_SESSIONS_PER_USER, isLive, judgeRefresh, newSession, refreshMaxAge, rotated, secondsUntil, sessionsToEnd, type Session } from '../../../lib/sessions/rules.ts';
import { manualClock, TEST_SECRET } from '../../helpers/server.ts';
import { type RefreshFailure } from '../../../lib/errors.ts';
import { type SessionStore } from '../../../lib/sessions/store.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);
const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;
const START = Date.UTC(2026, 0, 1);

/** The store under test, with the default lifetimes: 7-day refresh tokens, 30-day sessions, a 10 s retry window. */
function openStore(dataDir: string, clock: () => number): Promise<SessionStore> {
  return JsonSessionStore.open(dataDir, { secret: SECRET, clock });
}

/** Matches a `RefreshError` with the given reason, for `assert.rejects`. */
const refused = (reason: RefreshFailure) => ({ name: 'RefreshError', code: 'ERR_REFRESH', reason });

/** Every file under `dir`, read as text and joined: what a copy of the data directory would hold. */
async function everythingOnDisk(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
  return (await Promise.all(files.map((file) => readFile(file, 'utf8')))).join('\n');
}

describe('session rules at their edges', () => {
  let dataDir: string;
  let clock: ReturnType<typeof manualClock>;
  let store: SessionStore;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'session-rules-test-'));
    clock = manualClock(START);
    store = await openStore(dataDir, clock.now);
  });
  afterEach(async () => {
    await store.flush();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a refresh token is refused as expired 40 s after the last prune, while its record is still there', async () => {
    const session = await store.start('user-1');
    clock.advance(DEFAULT_LIFETIMES.refreshMs - 20 * SECOND);
    await store.start('user-2'); // a prune runs here, 20 s before the token expires
    clock.advance(40 * SECOND);
    await assert.rejects(store.rotate(session.refreshToken), refused('expired'));
  });

  test('a refresh token is refused as expired at the moment its 7 days are up, not a minute later', async () => {
    const session = await store.start('user-1');
    clock.advance(DEFAULT_LIFETIMES.refreshMs - 30 * SECOND);
    await store.start('user-2');
    clock.advance(30 * SECOND);
    await assert.rejects(store.rotate(session.refreshToken), refused('expired'));
  });

  test('a session is refused as expired 40 s after the last prune once its 30 days are up, however fresh its token', async () => {
    const session = await store.start('user-1');
    let token = session.refreshToken;
    for (let day = 6; day <= 24; day += 6) {
      clock.advance(6 * DAY);
      token = (await store.rotate(token)).refreshToken;
    }
    clock.advance(DEFAULT_LIFETIMES.sessionMs - 24 * DAY - 20 * SECOND);
    await store.start('user-2'); // a prune, 20 s before the session's end
    clock.advance(40 * SECOND);
    await assert.rejects(store.rotate(token), refused('expired'));
    assert.equal(store.isActive(session.sessionId), false);
  });

  // An append-only journal keeps a record until the next snapshot (docs/storage.md); a clean stop writes
  // one. So "gone from disk" is checked after the store is closed: the snapshot must leave it out.
  test('an expired session leaves nothing on disk once the store has stopped: no trace of its id', async () => {
    const session = await store.start('user-1');
    await store.flush();
    const stored = await everythingOnDisk(dataDir);
    assert.ok(stored.includes(session.sessionId), 'the session is stored while it lives');
    assert.ok(!stored.includes(session.refreshToken.split('.')[2]!), 'never the token\'s HMAC');

    clock.advance(DEFAULT_LIFETIMES.refreshMs);
    await store.start('user-2');
    await store.close(); // the snapshot of a clean stop
    const after = await everythingOnDisk(dataDir);
    store = await openStore(dataDir, clock.now);
    assert.ok(!after.includes(session.sessionId), 'the expired session is still on disk');
  });

  test('within the retry window the token just replaced yields the current token again; a millisecond after, it ends the session', async () => {
    const session = await store.start('user-1');
    const first = await store.rotate(session.refreshToken);
    clock.advance(DEFAULT_LIFETIMES.retryMs);
    assert.equal((await store.rotate(session.refreshToken)).refreshToken, first.refreshToken);
    clock.advance(1);
    await assert.rejects(store.rotate(session.refreshToken), refused('reused'));
    assert.equal(store.isActive(session.sessionId), false);
  });

  test('a session is no longer active at the very millisecond its 30 days are up, however often it was refreshed', async () => {
    const session = await store.start('user-1');
    let token = session.refreshToken;
    for (let day = 6; day < 30; day += 6) {
      clock.advance(6 * DAY);
      token = (await store.rotate(token)).refreshToken;
    }
    clock.advance(START + DEFAULT_LIFETIMES.sessionMs - 1 - clock.now());
    assert.equal(store.isActive(session.sessionId), true);
    clock.advance(1);
    assert.equal(store.isActive(session.sessionId), false);
  });

  test('a logged-out access token leaves the deny list the moment it expires', async () => {
    const session = await store.start('user-1');
    const exp = START / 1000 + 900;
    await store.end([session.sessionId], { jti: 'jti-1', exp });
    clock.advance(900 * SECOND);
    await store.start('user-2'); // a write, and with it a prune, at the token's exp
    assert.equal(store.isDenied('jti-1'), false);
  });

  test('end() leaves nothing of the session on disk once the store has stopped: no trace of its id', async () => {
    const session = await store.start('user-1');
    await store.rotate(session.refreshToken);
    await store.end([session.sessionId], { jti: 'jti-1', exp: START / 1000 + 900 });
    await store.close(); // the snapshot of a clean stop
    const after = await everythingOnDisk(dataDir);
    store = await openStore(dataDir, clock.now);
    assert.ok(!after.includes(session.sessionId), 'the ended session is still on disk');
  });

  test('a refused refresh says why in its message', async () => {
    await assert.rejects(store.rotate('made-up-token'), { code: 'ERR_REFRESH', reason: 'unknown' });
  });
});


/**
 * The rule functions themselves, with sessions built by hand: including states a store never keeps
 * (a session past its end, a generation from the future), so that each rule holds on its own and not
 * only thanks to the store's invariants. The first test is the table of docs/session-lifecycle.md.
 */
describe('the rule functions of rules.ts', () => {
  const NOW = START + DAY;
  const { retryMs, refreshMs } = DEFAULT_LIFETIMES;
  /** A live session at generation 5, rotated `ago` ms before NOW. */
  const session = (ago = 60 * SECOND, fields: Partial<Session> = {}): Session => ({
    id: 'session-1',
    userId: 'user-1',
    startedAt: NOW - DAY,
    expiresAt: NOW + 29 * DAY,
    generation: 5,
    rotatedAt: NOW - ago,
    ...fields,
  });
  const judge = (generation: number | undefined, state: Session | undefined) => judgeRefresh(generation, state, NOW, DEFAULT_LIFETIMES);

  test('judgeRefresh: the state table of docs/session-lifecycle.md, row by row', () => {
    // 1. never issued: no HMAC, no session, or a generation the session has not reached
    assert.deepEqual(judge(undefined, session()), { kind: 'refuse', reason: 'unknown' });
    assert.deepEqual(judge(5, undefined), { kind: 'refuse', reason: 'unknown' });
    assert.deepEqual(judge(6, session()), { kind: 'refuse', reason: 'unknown' });
    // 2. the session is over: past its end, or its current token expired (idle)
    assert.deepEqual(judge(5, session(60 * SECOND, { expiresAt: NOW })), { kind: 'refuse', reason: 'expired' });
    assert.deepEqual(judge(5, session(refreshMs)), { kind: 'refuse', reason: 'expired' });
    assert.deepEqual(judge(2, session(refreshMs)), { kind: 'refuse', reason: 'expired' }, 'an old token of an idle session ends nothing more');
    // 3. the current token
    assert.deepEqual(judge(5, session()), { kind: 'rotate' });
    // 4. the token just replaced, within the retry window
    assert.deepEqual(judge(4, session(retryMs)), { kind: 'repeat' });
    assert.deepEqual(judge(4, session(0)), { kind: 'repeat' });
    // 5. the token just replaced past the window, or any older one, window or not
    assert.deepEqual(judge(4, session(retryMs + 1)), { kind: 'end' });
    assert.deepEqual(judge(3, session(0)), { kind: 'end' });
    assert.deepEqual(judge(0, session(refreshMs - 1)), { kind: 'end' });
  });

  test('judgeRefresh: the edges of a session\'s life, to the millisecond', () => {
    assert.deepEqual(judge(5, session(60 * SECOND, { expiresAt: NOW + 1 })), { kind: 'rotate' });
    assert.deepEqual(judge(5, session(refreshMs - 1)), { kind: 'rotate' });
    assert.deepEqual(judge(0, session(0, { generation: 0 })), { kind: 'rotate' });
  });

  test('rotated: the next generation, issued now; the rest of the session unchanged', () => {
    assert.deepEqual(rotated(session(), NOW), { ...session(), generation: 6, rotatedAt: NOW });
  });

  test('newSession: generation 0, started and rotated now, ending after the session lifetime, a new id each time', () => {
    const first = newSession('user-1', NOW, DEFAULT_LIFETIMES);
    assert.deepEqual({ ...first, id: '' }, { id: '', userId: 'user-1', startedAt: NOW, expiresAt: NOW + 30 * DAY, generation: 0, rotatedAt: NOW });
    assert.match(first.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(newSession('user-1', NOW, DEFAULT_LIFETIMES).id, first.id);
  });

  test('isLive: a session ends at its absolute limit, and when its current token expires, to the millisecond', () => {
    assert.equal(isLive(session(0, { expiresAt: NOW + 1 }), NOW, DEFAULT_LIFETIMES), true);
    assert.equal(isLive(session(0, { expiresAt: NOW }), NOW, DEFAULT_LIFETIMES), false);
    assert.equal(isLive(session(refreshMs - 1), NOW, DEFAULT_LIFETIMES), true);
    assert.equal(isLive(session(refreshMs), NOW, DEFAULT_LIFETIMES), false);
  });

  test('refreshMaxAge: the token\'s lifetime from now, capped at the session\'s end, whatever the last rotation', () => {
    assert.equal(refreshMaxAge(session(0), NOW, DEFAULT_LIFETIMES), refreshMs / 1000);
    assert.equal(refreshMaxAge(session(retryMs), NOW, DEFAULT_LIFETIMES), refreshMs / 1000, 'a repeat: the same as a rotation now');
    assert.equal(refreshMaxAge(session(0, { expiresAt: NOW + DAY + 1500 }), NOW, DEFAULT_LIFETIMES), DAY / 1000 + 1, 'whole seconds, rounded down');
  });

  test('sessionsToEnd: none below the cap; past it, the sessions that started first, however they are listed', () => {
    const sessions = (count: number) => Array.from({ length: count }, (_, i): Session => session(0, { id: `s${i}`, startedAt: NOW - (count - i) * SECOND }));
    assert.deepEqual(sessionsToEnd(sessions(MAX_SESSIONS_PER_USER - 1)), []);
    const listed = sessions(MAX_SESSIONS_PER_USER + 1).reverse(); // newest first: the two that started first come last
    assert.deepEqual(sessionsToEnd(listed), ['s0', 's1']);
  });

  test('secondsUntil: whole seconds, rounded down', () => {
    assert.equal(secondsUntil(NOW + 1999, NOW), 1);
    assert.equal(secondsUntil(NOW + 2000, NOW), 2);
  });
});
