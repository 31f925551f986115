/**
 * Session rules at their edges, through the `SessionStore` interface only, so they hold for any store
 * that keeps the rules: a refresh token refused the moment it expires, not only once a clean-up pass
 * has deleted it; exactly how many spent tokens are still recognised as reuse; and nothing of an
 * expired session left on disk.
 *
 * Expired records are pruned at most once a minute, so a test that moves the clock more than a minute
 * past an expiry sees a token the prune already deleted ("unknown" would do as well as "expired"):
 * these tests let a prune run just before the expiry and present the token just after it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { MAX_SESSIONS_PER_USER, isLive, judgeRefresh, sessionsToEnd, type Family, type RefreshRecord, DEFAULT_LIFETIMES } from '../../../lib/sessions/rules.ts';
import { manualClock, TEST_SECRET } from '../../helpers/server.ts';
import { type RefreshFailure } from '../../../lib/errors.ts';
import { type SessionStore } from '../../../lib/sessions/store.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);
const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;
const START = Date.UTC(2026, 0, 1);

/** The store under test, with the default lifetimes: 7-day refresh tokens, 30-day sessions, 10 s grace. */
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

const sha256 = (text: string) => createHash('sha256').update(text).digest();

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

  test('the 8 most recently spent tokens are still recognised as reuse; the 9th is only unknown', async () => {
    const session = await store.start('user-1');
    const tokens = [session.refreshToken];
    for (let i = 0; i < 20; i++) {
      clock.advance(SECOND);
      tokens.push((await store.rotate(tokens.at(-1)!)).refreshToken);
    }
    clock.advance(DEFAULT_LIFETIMES.graceMs + SECOND);
    // tokens.at(-1) is in use; at(-2) ... at(-9) are the 8 spent ones remembered.
    await assert.rejects(store.rotate(tokens.at(-10)!), refused('unknown'));
    assert.ok(store.isActive(session.sessionId), 'an unknown token revokes nothing');
    await assert.rejects(store.rotate(tokens.at(-9)!), refused('reused'));
  });

  // An append-only journal keeps a record until the next snapshot (docs/storage.md); a clean stop writes
  // one. So "gone from disk" is checked after the store is closed: the snapshot must leave it out.
  test('an expired session leaves nothing on disk once the store has stopped: no record of its token, no trace of its id', async () => {
    const session = await store.start('user-1');
    await store.flush();
    const hashes = (['hex', 'base64', 'base64url'] as const).map((encoding) => sha256(session.refreshToken).toString(encoding));
    const stored = await everythingOnDisk(dataDir);
    assert.ok(stored.includes(session.sessionId), 'the session is stored while it lives');
    assert.ok(hashes.some((hash) => stored.includes(hash)), 'the token is stored by its hash while it lives');

    clock.advance(DEFAULT_LIFETIMES.refreshMs);
    await store.start('user-2');
    await store.close(); // the snapshot of a clean stop
    const after = await everythingOnDisk(dataDir);
    store = await openStore(dataDir, clock.now);
    assert.ok(!after.includes(session.sessionId), 'the expired session is still on disk');
    assert.ok(!hashes.some((hash) => after.includes(hash)), "the expired token's hash is still on disk");
  });

  test('within the grace window the old token is not reuse, even when its successor was already used; a millisecond after, it is', async () => {
    const session = await store.start('user-1');
    const first = await store.rotate(session.refreshToken);
    await store.rotate(first.refreshToken); // the other tab went on with the successor
    clock.advance(DEFAULT_LIFETIMES.graceMs);
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
    await store.end(session.sessionId, { jti: 'jti-1', exp });
    clock.advance(900 * SECOND);
    await store.start('user-2'); // a write, and with it a prune, at the token's exp
    assert.equal(store.isDenied('jti-1'), false);
  });

  test('end() leaves nothing of the session on disk once the store has stopped: no record of its token, no trace of its id', async () => {
    const session = await store.start('user-1');
    const rotated = await store.rotate(session.refreshToken);
    await store.end(session.sessionId, { jti: 'jti-1', exp: START / 1000 + 900 });
    await store.close(); // the snapshot of a clean stop
    const after = await everythingOnDisk(dataDir);
    store = await openStore(dataDir, clock.now);
    assert.ok(!after.includes(session.sessionId), 'the ended session is still on disk');
    for (const token of [session.refreshToken, rotated.refreshToken]) {
      const hashes = (['hex', 'base64', 'base64url'] as const).map((encoding) => sha256(token).toString(encoding));
      assert.ok(!hashes.some((hash) => after.includes(hash)), "an ended session's token hash is still on disk");
    }
  });

  test('a refused refresh says why in its message', async () => {
    await assert.rejects(store.rotate('made-up-token'), { code: 'ERR_REFRESH', reason: 'unknown' });
  });
});


/**
 * The rule functions themselves, with records built by hand: including records a store keeps from
 * ever existing (a token outliving its session, a token without its family), so that each rule holds
 * on its own and not only thanks to the store's invariants.
 */
describe('the rule functions of session_rules.ts', () => {
  const NOW = START + DAY;
  const family: Family = { id: 'family-1', userId: 'user-1', expiresAt: NOW + DAY };
  const record = (fields: Partial<RefreshRecord> = {}): RefreshRecord => ({ hash: 'h1', familyId: family.id, expiresAt: NOW + DAY, ...fields });

  test('judgeRefresh: an unknown token, or one whose session is gone, is refused as unknown', () => {
    assert.deepEqual(judgeRefresh(undefined, family, undefined, NOW, DEFAULT_LIFETIMES), { kind: 'refuse', reason: 'unknown' });
    assert.deepEqual(judgeRefresh(record(), undefined, undefined, NOW, DEFAULT_LIFETIMES), { kind: 'refuse', reason: 'unknown' });
  });

  test('judgeRefresh: refused as expired at the token\'s expiry or the session\'s, whichever comes first', () => {
    const outlivesSession = record({ expiresAt: family.expiresAt + DAY });
    assert.deepEqual(judgeRefresh(outlivesSession, family, undefined, family.expiresAt - 1, DEFAULT_LIFETIMES), { kind: 'rotate' });
    assert.deepEqual(judgeRefresh(outlivesSession, family, undefined, family.expiresAt, DEFAULT_LIFETIMES), { kind: 'refuse', reason: 'expired' });
    const shortToken = record({ expiresAt: NOW + SECOND });
    assert.deepEqual(judgeRefresh(shortToken, family, undefined, NOW + SECOND, DEFAULT_LIFETIMES), { kind: 'refuse', reason: 'expired' });
  });

  test('judgeRefresh: a rotated token whose successor is no longer stored counts as used: reuse after the grace window', () => {
    const rotated = record({ rotatedAt: NOW });
    assert.deepEqual(judgeRefresh(rotated, family, undefined, NOW + DEFAULT_LIFETIMES.graceMs, DEFAULT_LIFETIMES), { kind: 'repeat' });
    assert.deepEqual(judgeRefresh(rotated, family, undefined, NOW + DEFAULT_LIFETIMES.graceMs + 1, DEFAULT_LIFETIMES), { kind: 'revoke' });
    const unused = record({ hash: 'h2' });
    assert.deepEqual(judgeRefresh(rotated, family, unused, NOW + DAY / 2, DEFAULT_LIFETIMES), { kind: 'repeat' });
  });

  test('isLive: a session ends at its absolute limit even if its newest token would last longer, and when that token expires', () => {
    const token = record({ expiresAt: family.expiresAt + DAY });
    assert.equal(isLive(family, token, family.expiresAt - 1), true);
    assert.equal(isLive(family, token, family.expiresAt), false);
    assert.equal(isLive(family, record({ expiresAt: NOW }), NOW), false);
    assert.equal(isLive(family, undefined, NOW), false);
  });

  test('sessionsToEnd: none below the cap; past it, the sessions that end soonest (the oldest), however they are listed', () => {
    const sessions = (count: number) => Array.from({ length: count }, (_, i): Family => ({ id: `s${i}`, userId: 'user-1', expiresAt: NOW + (count - i) * SECOND }));
    assert.deepEqual(sessionsToEnd(sessions(MAX_SESSIONS_PER_USER - 1)), []);
    // Listed newest first here: the two that end soonest are the last two.
    assert.deepEqual(sessionsToEnd(sessions(MAX_SESSIONS_PER_USER + 1)), [`s${MAX_SESSIONS_PER_USER}`, `s${MAX_SESSIONS_PER_USER - 1}`]);
  });
});
