import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { CorruptFileError, StorageError } from '../../../lib/storage/durable_file.ts';
import { DEFAULT_LIFETIMES, RefreshError, JsonSessionStore, type RefreshFailure } from '../../../lib/storage/session_store.ts';
import { FaultyFileSystem } from '../../helpers/faulty_fs.ts';
import { manualClock, TEST_SECRET } from '../../helpers/server.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);
const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;
const START = Date.UTC(2026, 0, 1);

/** Matches a `RefreshError` with the given reason, for `assert.rejects`. */
const refused = (reason: RefreshFailure) => ({ name: 'RefreshError', code: 'ERR_REFRESH', reason });

describe('JsonSessionStore', () => {
  let dataDir: string;
  let clock: ReturnType<typeof manualClock>;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'session-store-test-'));
    clock = manualClock(START);
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  const open = (fs?: FaultyFileSystem) => JsonSessionStore.open(dataDir, { secret: SECRET, clock: clock.now, fs });

  test('uses the documented lifetimes by default: 7-day refresh tokens, 30-day sessions, a 10 s grace window', async () => {
    assert.deepEqual((await open()).lifetimes, { refreshMs: 7 * DAY, sessionMs: 30 * DAY, graceMs: 10 * SECOND });
    assert.equal(DEFAULT_LIFETIMES.graceMs, 10 * SECOND);
  });

  test('start() issues a 256-bit refresh token for a new session, valid for 7 days', async () => {
    const issued = await (await open()).start('user-1');
    assert.equal(issued.userId, 'user-1');
    assert.match(issued.refreshToken, /^[\w-]{43}$/);
    assert.equal(issued.maxAgeSeconds, (7 * DAY) / 1000);
  });

  test('start() begins a new session every time', async () => {
    const store = await open();
    const first = await store.start('user-1');
    const second = await store.start('user-1');
    assert.notEqual(first.sessionId, second.sessionId);
    assert.notEqual(first.refreshToken, second.refreshToken);
  });

  test('rotate() exchanges a refresh token for a new one in the same session', async () => {
    const store = await open();
    const started = await store.start('user-1');
    clock.advance(60 * SECOND);
    const rotated = await store.rotate(started.refreshToken);

    assert.notEqual(rotated.refreshToken, started.refreshToken);
    assert.equal(rotated.sessionId, started.sessionId);
    assert.equal(rotated.userId, 'user-1');
    assert.equal(rotated.maxAgeSeconds, (7 * DAY) / 1000);
    assert.equal((await store.rotate(rotated.refreshToken)).sessionId, started.sessionId);
  });

  test('rotate() refuses a token it never issued as unknown', async () => {
    const store = await open();
    await store.start('user-1');
    await assert.rejects(store.rotate('made-up-token'), refused('unknown'));
  });

  test('rotate() gives the same successor to the old token again within the grace window (two tabs racing)', async () => {
    const store = await open();
    const started = await store.start('user-1');
    const first = await store.rotate(started.refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs);
    const second = await store.rotate(started.refreshToken);

    assert.equal(second.refreshToken, first.refreshToken);
    assert.equal(second.sessionId, first.sessionId);
    assert.equal(second.maxAgeSeconds, first.maxAgeSeconds - DEFAULT_LIFETIMES.graceMs / 1000, 'the same expiry, seen later');
    assert.equal((await store.rotate(first.refreshToken)).sessionId, started.sessionId);
  });

  test('rotate() gives the unused successor again to the old token after the grace window: its answer was lost', async () => {
    // A popup closed a few ms after it opened /refresh, or a connection dropped: the server rotated,
    // the client never got the successor, and comes back with the old token much later.
    const store = await open();
    const started = await store.start('user-1');
    const lost = await store.rotate(started.refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + 60 * SECOND);

    const again = await store.rotate(started.refreshToken);
    assert.equal(again.refreshToken, lost.refreshToken);
    assert.equal(again.sessionId, started.sessionId);
    assert.equal(again.maxAgeSeconds, lost.maxAgeSeconds - (DEFAULT_LIFETIMES.graceMs + 60 * SECOND) / 1000, 'the same expiry, seen later');
    assert.ok(store.isActive(started.sessionId));
    const next = await store.rotate(again.refreshToken);
    assert.equal(next.sessionId, started.sessionId, 'the session goes on');
    assert.notEqual(next.refreshToken, again.refreshToken);
  });

  test('rotate() gives the unused successor again after a restart, days later', async () => {
    const started = await (await open()).start('user-1');
    const lost = await (await open()).rotate(started.refreshToken);
    clock.advance(3 * DAY);
    assert.equal((await (await open()).rotate(started.refreshToken)).refreshToken, lost.refreshToken);
  });

  test('rotate() treats the old token as reuse once its successor was used, and revokes the whole session', async () => {
    const store = await open();
    const started = await store.start('user-1');
    const successor = await store.rotate(started.refreshToken);
    const latest = await store.rotate(successor.refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + 1);

    await assert.rejects(store.rotate(started.refreshToken), refused('reused'));
    await assert.rejects(store.rotate(latest.refreshToken), RefreshError);
    assert.equal(store.isActive(started.sessionId), false);
  });

  test('rotate() treats a successor presented again after its own successor was used as reuse', async () => {
    const store = await open();
    const started = await store.start('user-1');
    const successor = await store.rotate(started.refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + 1);
    await store.rotate(successor.refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + 1);
    // The thief's copy of the first token: its successor was used, so this is a second holder.
    await assert.rejects(store.rotate(started.refreshToken), refused('reused'));
  });

  test('rotate() leaves other sessions alone when it revokes one for reuse', async () => {
    const store = await open();
    const stolen = await store.start('user-1');
    const other = await store.start('user-1');
    await store.rotate((await store.rotate(stolen.refreshToken)).refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + 1);

    await assert.rejects(store.rotate(stolen.refreshToken), refused('reused'));
    assert.equal((await store.rotate(other.refreshToken)).sessionId, other.sessionId);
  });

  test('a reuse revocation is on disk: the session stays revoked after a restart', async () => {
    const store = await open();
    const started = await store.start('user-1');
    const latest = await store.rotate((await store.rotate(started.refreshToken)).refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + 1);
    await assert.rejects(store.rotate(started.refreshToken), refused('reused'));

    await assert.rejects((await open()).rotate(latest.refreshToken), RefreshError);
  });

  test('a rotation survives a restart: the old token later is still reuse', async () => {
    const started = await (await open()).start('user-1');
    const successor = await (await open()).rotate(started.refreshToken);
    await (await open()).rotate(successor.refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + 1);
    await assert.rejects((await open()).rotate(started.refreshToken), refused('reused'));
  });

  test('a restart within the grace window still gives the same successor', async () => {
    const started = await (await open()).start('user-1');
    const first = await (await open()).rotate(started.refreshToken);
    assert.equal((await (await open()).rotate(started.refreshToken)).refreshToken, first.refreshToken);
  });

  test('a refresh token still works just before 7 days have passed', async () => {
    const store = await open();
    const started = await store.start('user-1');
    clock.advance(7 * DAY - 1);
    assert.equal((await store.rotate(started.refreshToken)).sessionId, started.sessionId);
  });

  test('a refresh token is refused once 7 days have passed', async () => {
    const store = await open();
    const started = await store.start('user-1');
    clock.advance(7 * DAY);
    await assert.rejects(store.rotate(started.refreshToken), RefreshError);
  });

  test('a session ends 30 days after it started, however regularly it is refreshed', async () => {
    const store = await open();
    let token = (await store.start('user-1')).refreshToken;
    for (const day of [6, 12, 18, 24, 29]) {
      clock.advance(day * DAY - (clock.now() - START));
      const rotated = await store.rotate(token);
      assert.equal(rotated.maxAgeSeconds, (Math.min(clock.now() + 7 * DAY, START + 30 * DAY) - clock.now()) / 1000, `refresh on day ${day}`);
      token = rotated.refreshToken;
    }
    clock.advance(START + 30 * DAY - clock.now());
    await assert.rejects(store.rotate(token), RefreshError);
  });

  test('a session that refreshes without end keeps only its last few spent tokens, and a replay of one is still reuse', async () => {
    const store = await open();
    const tokens = [(await store.start('user-1')).refreshToken];
    for (let i = 0; i < 30; i++) {
      clock.advance(SECOND);
      tokens.push((await store.rotate(tokens.at(-1)!)).refreshToken);
    }
    await store.flush();
    const file = JSON.parse(await readFile(path.join(dataDir, 'sessions.json'), 'utf8'));
    assert.ok(file.refreshTokens.length <= 9, `${file.refreshTokens.length} records kept for one session`);

    clock.advance(DEFAULT_LIFETIMES.graceMs + SECOND);
    await assert.rejects(store.rotate(tokens[0]!), refused('unknown')); // long forgotten: refused, nothing revoked
    assert.equal((await store.rotate(tokens.at(-1)!)).userId, 'user-1');
    await assert.rejects(store.rotate(tokens.at(-2)!), refused('reused')); // recently spent: the session ends
  });

  test('isActive() is true for a live session, false once it is ended, revoked or past its absolute limit', async () => {
    const store = await open();
    const ended = await store.start('user-1');
    const revoked = await store.start('user-1');
    const expiring = await store.start('user-1');
    assert.ok(store.isActive(ended.sessionId));
    await store.end(ended.sessionId, { jti: 'j', exp: Math.floor(clock.now() / 1000) + 60 });
    assert.equal(store.isActive(ended.sessionId), false);

    await store.rotate((await store.rotate(revoked.refreshToken)).refreshToken);
    clock.advance(DEFAULT_LIFETIMES.graceMs + SECOND);
    await assert.rejects(store.rotate(revoked.refreshToken), refused('reused'));
    assert.equal(store.isActive(revoked.sessionId), false);

    assert.ok(store.isActive(expiring.sessionId));
    clock.advance(30 * DAY);
    assert.equal(store.isActive(expiring.sessionId), false);
  });

  test('end() forgets the session, so its refresh token is refused', async () => {
    const store = await open();
    const started = await store.start('user-1');
    await store.end(started.sessionId, { jti: 'jti-1', exp: START / 1000 + 900 });
    await assert.rejects(store.rotate(started.refreshToken), refused('unknown'));
  });

  test('end() puts the access token on the deny list, and it stays there after a restart', async () => {
    const store = await open();
    const started = await store.start('user-1');
    assert.equal(store.isDenied('jti-1'), false);

    await store.end(started.sessionId, { jti: 'jti-1', exp: START / 1000 + 900 });

    assert.equal(store.isDenied('jti-1'), true);
    assert.equal(store.isDenied('jti-2'), false);
    assert.equal((await open()).isDenied('jti-1'), true);
  });

  test('end() drops a denied token from the list, and from the file, once the token has expired', async () => {
    const store = await open();
    const started = await store.start('user-1');
    await store.end(started.sessionId, { jti: 'jti-1', exp: START / 1000 + 900 });

    clock.advance(900 * SECOND - 1);
    await store.start('user-2');
    assert.equal(store.isDenied('jti-1'), true, 'pruned before its exp');

    clock.advance(60 * SECOND);
    await store.start('user-2');
    assert.equal(store.isDenied('jti-1'), false);
    assert.equal((await open()).isDenied('jti-1'), false);
    assert.doesNotMatch(await readFile(path.join(dataDir, 'sessions.json'), 'utf8'), /jti-1/);
  });

  test('end() does not list an access token that has already expired', async () => {
    const store = await open();
    const started = await store.start('user-1');
    await store.end(started.sessionId, { jti: 'jti-old', exp: START / 1000 });
    assert.equal(store.isDenied('jti-old'), false);
  });

  test('sessions.json holds only hashes of refresh tokens, never the tokens', async () => {
    const store = await open();
    const started = await store.start('user-1');
    const rotated = await store.rotate(started.refreshToken);
    await store.flush();

    const text = await readFile(path.join(dataDir, 'sessions.json'), 'utf8');
    for (const token of [started.refreshToken, rotated.refreshToken]) {
      assert.ok(!text.includes(token), 'a raw refresh token is on disk');
      assert.ok(text.includes(createHash('sha256').update(token).digest('hex')), 'the hash of a refresh token is missing');
    }
  });

  test('a failed write makes start() reject with StorageError and leaves no session behind', async () => {
    const fs = new FaultyFileSystem();
    const store = await open(fs);
    fs.failNext('rename');
    await assert.rejects(store.start('user-1'), StorageError);
    await store.start('user-2');

    const text = await readFile(path.join(dataDir, 'sessions.json'), 'utf8');
    assert.equal(JSON.parse(text).families.length, 1);
  });

  test('a failed write makes rotate() reject and leaves the old token usable, not reused', async () => {
    const fs = new FaultyFileSystem();
    const store = await open(fs);
    const started = await store.start('user-1');
    fs.failNext('fsync');
    await assert.rejects(store.rotate(started.refreshToken), StorageError);

    clock.advance(DEFAULT_LIFETIMES.graceMs + 1);
    assert.equal((await store.rotate(started.refreshToken)).sessionId, started.sessionId);
  });

  const corrupt: [description: string, text: string][] = [
    ['truncated JSON', '{"version":1,"families":['],
    ['JSON null', 'null'],
    ['an empty object', '{}'],
    ['no deny list', '{"version":1,"families":[],"refreshTokens":[]}'],
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
  ] as const) {
    test(`open() refuses a sessions.json without ${missing}, naming the file, and leaves it untouched`, async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'session-store-test-'));
      try {
        const file = path.join(dataDir, 'sessions.json');
        await writeFile(file, text);
        await assert.rejects(JsonSessionStore.open(dataDir, { secret: SECRET, clock: manualClock(START).now }), {
          name: 'CorruptFileError',
          message: `Cannot start: ${file} is not a sessions file`,
        });
        assert.equal(await readFile(file, 'utf8'), text);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});

