/**
 * `DATABASE_URL` set: users and sessions in PostgreSQL, shared by every instance that uses the same
 * database and the same `JWT_SECRET`. See docs/instances.md.
 */
import type { Clock } from '../../support/clock.ts';
import { connect } from './database.ts';
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
}

/** Connects, migrates the schema, loads the state and listens; rejects when the database cannot be reached. */
export async function openPostgres(url: string, options: PostgresOptions): Promise<PostgresStorage> {
  const sql = connect(url);
  let feed: SessionEventFeed | undefined;
  try {
    await migrate(sql);
    const users = new PostgresUserStore(sql, { clock: options.clock });
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
    throw error;
  }
}
