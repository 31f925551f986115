/**
 * The PostgreSQL stores, in this process: the session rules exactly as the embedded store keeps them,
 * and what only a shared database adds, seen through two stores on one database (two instances).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { migrate, MIGRATIONS } from '../../lib/storage/postgres/schema.ts';
import { connect } from '../../lib/storage/postgres/database.ts';
import { usernameKey } from '../../lib/accounts/credentials.ts';
import { MAX_SESSIONS_PER_USER, DEFAULT_LIFETIMES, type IssuedRefresh } from '../../lib/sessions/rules.ts';
import { openPostgres, type PostgresStorage } from '../../lib/storage/postgres/open.ts';
import { manualClock, TEST_SECRET } from '../helpers/server.ts';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from './database.ts';
import { RefreshError, type RefreshFailure, UsernameTakenError } from '../../lib/errors.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);
const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;
const RETRY = DEFAULT_LIFETIMES.retryMs;

const refused = (reason: RefreshFailure) => ({ name: 'RefreshError', code: 'ERR_REFRESH', reason });

/** Resolves once `check` holds, polling; rejects after `ms`. */
async function eventually(check: () => boolean, ms = 1_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describeWithPostgres('PostgreSQL stores', () => {
  let database: TestDatabase;
  let clock: ReturnType<typeof manualClock>;
  const opened: PostgresStorage[] = [];
  let userNumber = 0;
  /** A user id of its own for each test, so the per-user cap of one test never meets another's sessions. */
  const newUserId = () => `user-${++userNumber}-${Date.now()}`;

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });
  beforeEach(() => {
    clock = manualClock(Date.UTC(2026, 0, 1) + userNumber * 100 * DAY); // later each test: earlier rows are expired
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((storage) => storage.close()));
  });

  /** One instance: its own pool, its own listener, its own memory; deciding at the test's clock, which it moves. */
  async function instance(): Promise<PostgresStorage> {
    const storage = await openPostgres(database.url, { secret: SECRET, clock: clock.now, decisionTime: 'clock' });
    opened.push(storage);
    return storage;
  }

  test('the schema is migrated once, even by instances starting together, and again is a no-op', async () => {
    const pools = [connect(database.url), connect(database.url), connect(database.url)];
    try {
      assert.deepEqual(await Promise.all(pools.map((sql) => migrate(sql))), [MIGRATIONS.length, MIGRATIONS.length, MIGRATIONS.length]);
      const rows = await database.sql<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
      assert.deepEqual(rows.map((row) => row.version), MIGRATIONS.map((_, index) => index + 1));
    } finally {
      await Promise.all(pools.map((sql) => sql.end()));
    }
  });

  test('a version 1 schema migrates: its live sessions keep going until their access tokens expire, at generation 0', async () => {
    const old = await createTestDatabase();
    try {
      await old.sql.begin(async (tx) => {
        await tx.unsafe(MIGRATIONS[0]!);
        await tx`CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
        await tx`INSERT INTO schema_migrations (version) VALUES (1)`;
      });
      const now = clock.now();
      await old.sql`INSERT INTO sessions (id, user_id, expires_at) VALUES ('live', 'user-v1', ${now + 20 * DAY}), ('tokenless', 'user-v1', ${now + DAY})`;
      await old.sql`INSERT INTO refresh_tokens (hash, session_id, seq, expires_at, rotated_at) VALUES ('h0', 'live', 0, ${now + DAY}, ${now - 6 * DAY}), ('h1', 'live', 1, ${now + 5 * DAY}, NULL)`;
      const storage = await openPostgres(old.url, { secret: SECRET, clock: clock.now, decisionTime: 'clock' });
      try {
        assert.deepEqual(storage.sessions.sessionsOf('user-v1').map(({ id, startedAt, expiresAt, generation, rotatedAt }) => ({ id, startedAt, expiresAt, generation, rotatedAt })), [
          { id: 'live', startedAt: now - 10 * DAY, expiresAt: now + 20 * DAY, generation: 0, rotatedAt: now - 2 * DAY },
        ]);
        assert.equal(await old.count`SELECT count(*) FROM information_schema.tables WHERE table_name = 'refresh_tokens'`, 0);
      } finally {
        await storage.close();
      }
    } finally {
      await old.drop();
    }
  });

  test('a user added on one instance is found by name and by id on another', async () => {
    const [a, b] = [await instance(), await instance()];
    const added = await a.users.add('Zoë', 'hash-1');
    assert.deepEqual(await b.users.findByName('  zoë '), added);
    assert.deepEqual(await b.users.findById(added.id), added);
  });

  test('the same name signed up on two instances at once gives exactly one account', async () => {
    const [a, b] = [await instance(), await instance()];
    const name = `race-${Date.now()}`;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).users.add(i < 5 ? name : name.toUpperCase(), 'h')));
    assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
    for (const result of results) if (result.status === 'rejected') assert.ok(result.reason instanceof UsernameTakenError);
    const count = await database.count`SELECT count(*) FROM users WHERE username_key = ${usernameKey(name)}`;
    assert.equal(count, 1);
  });

  test('a new password hash set on one instance is what the other reads at login', async () => {
    const [a, b] = [await instance(), await instance()];
    const user = await a.users.add(`rehash-${Date.now()}`, 'old');
    await b.users.findById(user.id); // cached on B
    await a.users.setPasswordHash(user.id, 'new');
    assert.equal((await b.users.findByName(user.username))?.passwordHash, 'new');
  });

  test('a session started on one instance is active on the other as soon as it is announced', async () => {
    const [a, b] = [await instance(), await instance()];
    const started = await a.sessions.start(newUserId());
    assert.ok(a.sessions.isActive(started.sessionId));
    await eventually(() => b.sessions.isActive(started.sessionId));
  });

  test('a session ended on one instance is inactive on the other within a second, and its access token denied', async () => {
    const [a, b] = [await instance(), await instance()];
    const started = await a.sessions.start(newUserId());
    await eventually(() => b.sessions.isActive(started.sessionId));
    await a.sessions.end([started.sessionId], { jti: 'jti-end', exp: clock.now() / 1000 + 900 });
    await eventually(() => !b.sessions.isActive(started.sessionId) && b.sessions.isDenied('jti-end'), 1_000);
    await assert.rejects(b.sessions.rotate(started.refreshToken), refused('unknown'));
  });

  test('an instance started later knows the live sessions and the denied tokens', async () => {
    const a = await instance();
    const live = await a.sessions.start(newUserId());
    const ended = await a.sessions.start(newUserId());
    await a.sessions.end([ended.sessionId], { jti: 'jti-later', exp: clock.now() / 1000 + 900 });
    const b = await instance();
    assert.ok(b.sessions.isActive(live.sessionId));
    assert.equal(b.sessions.isActive(ended.sessionId), false);
    assert.ok(b.sessions.isDenied('jti-later'));
  });

  test('rotation hands out a successor in the same session, on any instance', async () => {
    const [a, b] = [await instance(), await instance()];
    const started = await a.sessions.start(newUserId());
    const second = await b.sessions.rotate(started.refreshToken);
    const third = await a.sessions.rotate(second.refreshToken);
    assert.equal(third.sessionId, started.sessionId);
    assert.notEqual(third.refreshToken, second.refreshToken);
    assert.equal(third.maxAgeSeconds, 7 * DAY / 1000);
  });

  test('two instances rotating the same token at once hand out one successor', async () => {
    const [a, b] = [await instance(), await instance()];
    const started = await a.sessions.start(newUserId());
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).sessions.rotate(started.refreshToken)));
    assert.equal(new Set(results.map((issued) => issued.refreshToken)).size, 1);
    const [row] = await database.sql<{ generation: number }[]>`SELECT generation FROM sessions WHERE id = ${started.sessionId}`;
    assert.equal(row?.generation, 1, 'one rotation');
  });

  test('a replaced token gives the current one again within the retry window (two tabs), on another instance too', async () => {
    const [a, b] = [await instance(), await instance()];
    const started = await a.sessions.start(newUserId());
    const first = await a.sessions.rotate(started.refreshToken);
    clock.advance(RETRY);
    assert.equal((await b.sessions.rotate(started.refreshToken)).refreshToken, first.refreshToken);
  });

  test('reuse: a replaced token, past the retry window, ends the session everywhere', async () => {
    const [a, b] = [await instance(), await instance()];
    const started = await a.sessions.start(newUserId());
    const latest = await a.sessions.rotate(started.refreshToken);
    await eventually(() => b.sessions.isActive(started.sessionId));
    clock.advance(RETRY + 1);

    await assert.rejects(b.sessions.rotate(started.refreshToken), refused('reused'));
    assert.equal(b.sessions.isActive(started.sessionId), false);
    await eventually(() => !a.sessions.isActive(started.sessionId));
    await assert.rejects(a.sessions.rotate(latest.refreshToken), refused('unknown'));
  });

  /** An instance whose own clock is `offsetMs` off, deciding as production does, with a 300 ms retry window. */
  async function skewedInstance(offsetMs: number): Promise<PostgresStorage> {
    const storage = await openPostgres(database.url, {
      secret: SECRET,
      clock: () => Date.now() + offsetMs,
      lifetimes: { ...DEFAULT_LIFETIMES, retryMs: 300 },
      decisionTime: 'database',
    });
    opened.push(storage);
    return storage;
  }

  test('decisions are made at the database\'s time: an instance whose clock is a minute behind cannot reopen the retry window', async () => {
    const [a, b] = [await skewedInstance(0), await skewedInstance(-60 * SECOND)];
    const started = await a.sessions.start(newUserId());
    await a.sessions.rotate(started.refreshToken);
    await new Promise((resolve) => setTimeout(resolve, 400)); // past the 300 ms window, by the database's clock
    await assert.rejects(b.sessions.rotate(started.refreshToken), refused('reused'));
  });

  test('decisions are made at the database\'s time: an instance whose clock is a minute ahead still repeats within the retry window', async () => {
    const [a, b] = [await skewedInstance(0), await skewedInstance(60 * SECOND)];
    const started = await a.sessions.start(newUserId());
    const first = await a.sessions.rotate(started.refreshToken);
    assert.equal((await b.sessions.rotate(started.refreshToken)).refreshToken, first.refreshToken);
  });

  test('reuse ends only that session: the user\'s other sessions go on', async () => {
    const a = await instance();
    const userId = newUserId();
    const stolen = await a.sessions.start(userId);
    const other = await a.sessions.start(userId);
    await a.sessions.rotate(stolen.refreshToken);
    clock.advance(RETRY + 1);
    await assert.rejects(a.sessions.rotate(stolen.refreshToken), refused('reused'));
    assert.equal((await a.sessions.rotate(other.refreshToken)).sessionId, other.sessionId);
  });

  test('a rotation is heard by every instance: the session\'s last refresh, as /order lists it', async () => {
    const [a, b] = [await instance(), await instance()];
    const userId = newUserId();
    const started = await a.sessions.start(userId);
    await eventually(() => b.sessions.isActive(started.sessionId));
    clock.advance(SECOND);
    await a.sessions.rotate(started.refreshToken);
    await eventually(() => b.sessions.sessionsOf(userId)[0]?.generation === 1);
    assert.equal(b.sessions.sessionsOf(userId)[0]?.rotatedAt, clock.now());
  });

  test('sign out everywhere on one instance ends every session of the user on the others', async () => {
    const [a, b] = [await instance(), await instance()];
    const userId = newUserId();
    const mine = [await a.sessions.start(userId), await b.sessions.start(userId)];
    const theirs = await a.sessions.start(newUserId());
    await eventually(() => mine.every((session) => a.sessions.isActive(session.sessionId) && b.sessions.isActive(session.sessionId)));
    await b.sessions.endAll(userId, { jti: 'jti-everywhere', exp: clock.now() / 1000 + 900 });
    await eventually(() => mine.every((session) => !a.sessions.isActive(session.sessionId)) && a.sessions.isDenied('jti-everywhere'));
    assert.deepEqual(a.sessions.sessionsOf(userId), []);
    assert.ok(a.sessions.isActive(theirs.sessionId));
  });

  test('refresh tokens expire after 7 days, sessions after 30 however often refreshed', async () => {
    const a = await instance();
    const idle = await a.sessions.start(newUserId());
    const busy = await a.sessions.start(newUserId());
    const start = clock.now();
    clock.advance(7 * DAY - 1);
    let token = (await a.sessions.rotate(busy.refreshToken)).refreshToken;
    clock.advance(1);
    await assert.rejects(a.sessions.rotate(idle.refreshToken), refused('expired'));
    for (const day of [12, 18, 24, 29]) {
      clock.advance(start + day * DAY - clock.now());
      const rotated = await a.sessions.rotate(token);
      assert.equal(rotated.maxAgeSeconds, (Math.min(clock.now() + 7 * DAY, start + 30 * DAY) - clock.now()) / 1000);
      token = rotated.refreshToken;
    }
    assert.ok(a.sessions.isActive(busy.sessionId));
    clock.advance(start + 30 * DAY - clock.now());
    assert.equal(a.sessions.isActive(busy.sessionId), false);
    // 'expired', or 'unknown' once the expired rows are pruned (the embedded store's prune does the same).
    await assert.rejects(a.sessions.rotate(token), RefreshError);
  });

  test(`at most ${MAX_SESSIONS_PER_USER} live sessions per user: starting one more, on any instance, ends the oldest everywhere`, async () => {
    const [a, b] = [await instance(), await instance()];
    const userId = newUserId();
    const sessions: IssuedRefresh[] = [];
    for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) sessions.push(await (i % 2 === 0 ? a : b).sessions.start(userId));
    await eventually(() => sessions.every((session) => a.sessions.isActive(session.sessionId)));
    const newest = await b.sessions.start(userId);

    await eventually(() => !a.sessions.isActive(sessions[0]!.sessionId));
    assert.equal(b.sessions.isActive(sessions[0]!.sessionId), false);
    await assert.rejects(a.sessions.rotate(sessions[0]!.refreshToken), refused('unknown'));
    for (const session of [...sessions.slice(1), newest]) assert.ok(b.sessions.isActive(session.sessionId));
  });

  test('the cap holds when two instances start sessions for one user at once', async () => {
    const [a, b] = [await instance(), await instance()];
    const userId = newUserId();
    await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? a : b).sessions.start(userId)));
    const count = await database.count`SELECT count(*) FROM sessions WHERE user_id = ${userId}`;
    assert.equal(count, MAX_SESSIONS_PER_USER);
  });

  test('an instance whose listening connection is cut listens again and reloads what it missed', async () => {
    const [a, b] = [await instance(), await instance()];
    const started = await a.sessions.start(newUserId());
    await eventually(() => b.sessions.isActive(started.sessionId));
    // Cut every listening connection, then end the session while B is not listening.
    await database.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'listen%' AND datname = current_database()`;
    await a.sessions.end([started.sessionId], { jti: 'jti-missed', exp: clock.now() / 1000 + 900 });
    await eventually(() => !b.sessions.isActive(started.sessionId) && b.sessions.isDenied('jti-missed'), 5_000);
  });

  test('a failure to reach the database is a StorageError, and nothing is half-written', async () => {
    const a = await instance();
    const userId = newUserId();
    const started = await a.sessions.start(userId);
    await database.sql`ALTER TABLE sessions ADD CONSTRAINT refuse_rotation CHECK (generation < 1)`;
    try {
      await assert.rejects(a.sessions.rotate(started.refreshToken), { name: 'StorageError', code: 'ERR_STORAGE' });
      const [row] = await database.sql<{ generation: number }[]>`SELECT generation FROM sessions WHERE id = ${started.sessionId}`;
      assert.equal(row?.generation, 0, 'the session is not rotated');
    } finally {
      await database.sql`ALTER TABLE sessions DROP CONSTRAINT refuse_rotation`;
    }
    assert.equal((await a.sessions.rotate(started.refreshToken)).sessionId, started.sessionId);
  });

  test('RefreshError and UsernameTakenError are not storage failures', async () => {
    const a = await instance();
    await assert.rejects(a.sessions.rotate('never-issued'), (error) => error instanceof RefreshError);
  });

  test('names stored before the look-alike profile are keyed again at the upgrade: the first keeps each key, a later look-alike its exact name, and one warning names them', async () => {
    const legacy = await createTestDatabase();
    try {
      // A database at schema version 1, written before names were compared by their skeletons.
      await legacy.sql.begin(async (tx) => {
        await tx`CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
        await tx.unsafe(MIGRATIONS[0]!);
        await tx`INSERT INTO schema_migrations (version) VALUES (1)`;
        const rows = [['1', 'strasse', 'strasse'], ['2', 'straße', 'straße'], ['3', 'ace', 'ace'], ['4', '\u0430\u0441\u0435', '\u0430\u0441\u0435'], ['5', 'KIM', 'kim'], ['6', '\u039a\u0399\u039c', '\u03ba\u03b9\u03bc']];
        for (const [id, username, key] of rows) {
          await tx`INSERT INTO users (id, username, username_key, password_hash, created_at) VALUES (${id!}, ${username!}, ${key!}, 'h', ${new Date(Date.UTC(2025, 0, Number(id)))})`;
        }
      });
      const warnings: string[] = [];
      const storage = await openPostgres(legacy.url, { secret: SECRET, clock: clock.now, log: { warn: (message) => warnings.push(message) } });
      try {
        const { users } = storage;
        assert.equal((await users.findByName('STRASSE'))?.id, '1');
        assert.equal((await users.findByName('straße'))?.id, '2', 'found by its exact name');
        assert.equal((await users.findByName('Straße'))?.id, '1', "any other spelling is the first one's");
        assert.equal((await users.findByName('\u0430\u0441\u0435'))?.id, '4');
        assert.equal((await users.findByName('ace'))?.id, '3');
        assert.equal((await users.findByName('\u039a\u0399\u039c'))?.id, '6', 'alike only in upper case: found by its own key');
        await assert.rejects(users.add('STRAẞE', 'h'), UsernameTakenError);
        await assert.rejects(users.add('k\u0456m', 'h'), UsernameTakenError, 'Cyrillic і: the key of KIM');
        assert.equal(warnings.length, 1, warnings.join('\n'));
        for (const pair of ['"straße" (2) looks like "strasse" (1)', '"асе" (4) looks like "ace" (3)', '"ΚΙΜ" (6) looks like "KIM" (5)']) {
          assert.ok(warnings[0]!.includes(pair), `${pair} in: ${warnings[0]}`);
        }
        assert.match(warnings[0]!, /^Users: 3 stored names look like/);
      } finally {
        await storage.close();
      }
      const again = await openPostgres(legacy.url, { secret: SECRET, clock: clock.now });
      assert.equal((await again.users.findByName('straße'))?.id, '2', 'the keys are computed once; a restart finds the same');
      await again.close();
    } finally {
      await legacy.drop();
    }
  });
});
