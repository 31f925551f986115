/**
 * `DATABASE_URL` set: users and sessions in PostgreSQL, shared by every instance that uses the same
 * database and the same `JWT_SECRET`. See docs/instances.md.
 */
import { lookAlikeWarning } from '../../accounts/store.ts';
import type { Clock } from '../../support/clock.ts';
import { ConfigError } from '../../errors.ts';
import type { Logger } from '../../support/log.ts';
import { connect, describeDatabase } from './database.ts';
import { migrate } from './schema.ts';
import { DEFAULT_FEED_TIMING, SessionEventFeed, type FeedTiming } from './session_events.ts';
import { PostgresSessionStore } from './session_store.ts';
import { PostgresUserStore } from './user_store.ts';
import { type SessionLifetimes } from '../../sessions/rules.ts';

export interface PostgresStorage {
  readonly users: PostgresUserStore;
  readonly sessions: PostgresSessionStore;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

export interface PostgresOptions {
  secret: Uint8Array;
  clock: Clock;
  lifetimes?: SessionLifetimes;
  /** What the session rules decide at: the database's time by default (see `PostgresSessionStoreOptions`). */
  decisionTime?: 'database' | 'clock';
  /** Tests shorten the heartbeat and the time memory is trusted without it. */
  feedTiming?: FeedTiming;
  /** Where the warning about stored look-alike names goes. */
  log?: Pick<Logger, 'warn'>;
}

/** Connects, migrates the schema, loads the state and listens; rejects when the database cannot be reached. */
export async function openPostgres(url: string, options: PostgresOptions): Promise<PostgresStorage> {
  const sql = connect(url);
  let feed: SessionEventFeed | undefined;
  try {
    await migrate(sql);
    const users = new PostgresUserStore(sql, { clock: options.clock });
    const lookAlikes = await users.lookAlikes();
    if (lookAlikes.length > 0) options.log?.warn(lookAlikeWarning(lookAlikes));
    const sessions = new PostgresSessionStore(sql, options);
    feed = new SessionEventFeed(
      url,
      sql,
      {
        apply(event) {
          if (event.kind === 'user-changed') users.forget(event.id);
          else sessions.receive(event);
          // The session's requests may come here next: have its user in memory before they do.
          if (event.kind === 'started') users.prefetch(event.session.userId);
        },
        async reload() {
          users.forgetAll();
          await sessions.reload();
        },
        tick: () => sessions.tick(),
      },
      options.feedTiming ?? DEFAULT_FEED_TIMING,
    );
    await feed.start();
    sessions.attach(feed);
    await users.warm(options.clock());
    const listening = feed;
    return {
      users,
      sessions,
      async close() {
        await listening.close();
        await sql.end({ timeout: 5 });
      },
    };
  } catch (error) {
    await feed?.close();
    await sql.end({ timeout: 0 });
    throw startRefusal(error, url);
  }
}

/** Errors of reaching the database, as Node and Deno name them, and postgres.js's own timeout. */
const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'CONNECT_TIMEOUT'];

/**
 * A start the operator can fix, as one line (a `ConfigError`) that names the database without its
 * password and says what to check; anything else as it is, with its stack.
 */
function startRefusal(error: unknown, url: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  const where = `PostgreSQL at ${describeDatabase(url)}`;
  if (code.startsWith('28')) {
    return new ConfigError(`Cannot start: ${where} refused the login (SQLSTATE ${code}): check the user name and password in DATABASE_URL`);
  }
  if (code === '3D000') return new ConfigError(`Cannot start: ${where} has no such database (SQLSTATE 3D000): create it, or correct DATABASE_URL`);
  if (UNREACHABLE.includes(code)) {
    return new ConfigError(`Cannot start: cannot reach ${where} (${code}): is it running, and are the host and port in DATABASE_URL right?`);
  }
  return error;
}
