/**
 * What a request may cost the PostgreSQL stores, in this process: a deadline on every write, after which
 * the write is refused and never committed; a value the database refuses as invalid, which is the
 * client's mistake and no outage; and memory an instance that only reads keeps tidy on its own.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { connect } from '../../lib/storage/postgres/database.ts';
import { STORAGE_DEADLINE_MS, withStorageDeadline } from '../../lib/support/storage_deadline.ts';
import { openPostgres, type PostgresStorage } from '../../lib/storage/postgres/open.ts';
import type { FeedTiming } from '../../lib/storage/postgres/session_events.ts';
import { PostgresUserStore } from '../../lib/storage/postgres/user_store.ts';
import { manualClock, TEST_SECRET } from '../helpers/server.ts';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from './database.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);
/** docs/instances.md: every write is answered within 3 s while the database does not answer. */
const ANSWERED_WITHIN_MS = 3_000;
/** A heartbeat every 50 ms, so that a test sees what an instance does on its own within moments. */
const QUICK_FEED: FeedTiming = { heartbeatMs: 50, reconnectAfterMs: 3_000, staleAfterMs: 10_000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` holds, polling; rejects after `ms`. */
async function eventually(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms`);
    await sleep(10);
  }
}

/** Runs `work`, and resolves with how long it took to settle and how it failed (undefined when it did not). */
async function timed(work: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  const error = await work.then(() => undefined, (failure: unknown) => failure);
  return { ms: performance.now() - started, error };
}

describeWithPostgres('PostgreSQL deadlines and bad values', () => {
  let database: TestDatabase;
  const clock = manualClock(Date.UTC(2026, 0, 1));
  const opened: PostgresStorage[] = [];
  let userNumber = 0;
  const newUserId = () => `deadline-user-${++userNumber}-${Date.now()}`;

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((storage) => storage.close()));
  });

  async function instance(feedTiming?: FeedTiming): Promise<PostgresStorage> {
    const storage = await openPostgres(database.url, { secret: SECRET, clock: clock.now, feedTiming });
    opened.push(storage);
    return storage;
  }

  test('a write held on a lock past the deadline is refused within 3 s, aborted by the server itself, and never committed once let go', async () => {
    const a = await instance();
    const userId = newUserId();
    // Another transaction holds the lock every start of this user's sessions takes (the per-user cap's).
    const blocker = await database.sql.reserve();
    try {
      await blocker`BEGIN`;
      await blocker`SELECT pg_advisory_xact_lock(hashtextextended(${`sessions-of:${userId}`}, 0))`;
      const { ms, error } = await timed(a.sessions.start(userId));
      assert.ok(ms < ANSWERED_WITHIN_MS, `refused after ${ms.toFixed(0)} ms`);
      assert.equal((error as Error).name, 'StorageError');
      // The server cancelled the waiting statement (statement_timeout, set for the transaction): its
      // own decision, which holds even if this process had died before it could roll back.
      assert.equal(((error as Error).cause as { code?: string }).code, '57014');
      assert.equal(await database.count`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`, 0);
    } finally {
      await blocker`COMMIT`;
      blocker.release();
    }
    await sleep(500);
    assert.equal(await database.count`SELECT count(*) FROM sessions WHERE user_id = ${userId}`, 0);
  });

  test('a sign-up that waited for a connection past the deadline is refused, and does not commit when the connection frees up', async () => {
    // One connection, busy for longer than the deadline: the sign-up queues behind it in postgres.js,
    // as every write did while the database was down, and used to run (and commit) once it came back.
    const pool = connect(database.url, { max: 1 });
    try {
      const users = new PostgresUserStore(pool, { clock: clock.now });
      const busy = pool`SELECT pg_sleep(${(STORAGE_DEADLINE_MS + 1_000) / 1000})`.execute();
      const name = `queued-${Date.now()}`;
      const { ms, error } = await timed(users.add(name, 'hash'));
      assert.ok(ms < ANSWERED_WITHIN_MS, `refused after ${ms.toFixed(0)} ms`);
      assert.equal((error as Error).name, 'StorageError');
      await busy;
      await sleep(500);
      assert.equal(await database.count`SELECT count(*) FROM users WHERE username = ${name}`, 0);
    } finally {
      await pool.end({ timeout: 1 });
    }
  });

  test('the storing operations of one request share its deadline: after 2 s spent, the next waits only what is left', async () => {
    const pool = connect(database.url, { max: 1 });
    try {
      const users = new PostgresUserStore(pool, { clock: clock.now });
      const busy = pool`SELECT pg_sleep(${STORAGE_DEADLINE_MS / 1000})`.execute();
      const { ms, error } = await withStorageDeadline(async () => {
        await sleep(2_000); // the request's earlier work: a lookup, a password hash
        return timed(users.add(`late-${Date.now()}`, 'hash'));
      });
      assert.equal((error as Error).name, 'StorageError');
      assert.ok(ms < STORAGE_DEADLINE_MS - 2_000 + 300, `refused after ${ms.toFixed(0)} ms`);
      await busy;
    } finally {
      await pool.end({ timeout: 1 });
    }
  });

  test('loading the whole state is no request: it may take longer than a request\'s deadline, and succeeds', async () => {
    const a = await instance();
    // The table locked for longer than a request may wait: a reload must wait it out, not fail at 2.5 s
    // (and leave the instance unsynced, retrying the same reload for ever).
    const blocker = await database.sql.reserve();
    try {
      await blocker`BEGIN`;
      await blocker`LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE`;
      const release = sleep(STORAGE_DEADLINE_MS + 500).then(() => blocker`COMMIT`);
      const { ms, error } = await timed(a.sessions.reload());
      await release;
      assert.equal(error, undefined);
      assert.ok(ms >= STORAGE_DEADLINE_MS, `reloaded after ${ms.toFixed(0)} ms`);
    } finally {
      blocker.release();
    }
  });

  test('a value PostgreSQL refuses as invalid (a NUL in a name: SQLSTATE 22021) is the client\'s InvalidInputError, not a StorageError', async () => {
    const a = await instance();
    await assert.rejects(a.users.findByName('al\u0000ice'), (error: Error) => {
      assert.equal(error.name, 'InvalidInputError');
      assert.equal((error.cause as { code?: string }).code, '22021');
      return true;
    });
  });

  test('an instance that never writes drops expired denied tokens from memory on its own', async () => {
    const [a, reader] = [await instance(QUICK_FEED), await instance(QUICK_FEED)];
    const started = await a.sessions.start(newUserId());
    await a.sessions.end([started.sessionId], { jti: 'jti-expiring', exp: clock.now() / 1000 + 60 });
    await eventually(() => reader.sessions.isDenied('jti-expiring'));
    // Before: pruned only on the instance's own writes, so an instance serving /order kept it for ever.
    clock.advance(2 * 60_000);
    await eventually(() => !reader.sessions.isDenied('jti-expiring'));
  });
});
