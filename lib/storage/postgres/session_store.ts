/**
 * Sessions in PostgreSQL, shared by every instance: the same rules as the embedded store, each decided
 * inside one transaction that holds the session's row lock, so two instances rotating one token at
 * once hand out one successor. Every decision is made at the database's time, one clock for every
 * instance: an instance whose own clock is off can neither widen nor reopen a retry window.
 *
 * The checks every authenticated request makes (`isActive`, `isDenied`) never query: each instance
 * keeps the live sessions and denied access tokens in memory, loaded at start and kept current by the
 * events every change announces (`session_events.ts`).
 */
import type { Clock } from '../../support/clock.ts';
import { RefreshTokens } from '../../sessions/refresh_tokens.ts';
import {
  DEFAULT_LIFETIMES,
  MAX_SESSIONS_PER_USER,
  isLive,
  judgeRefresh,
  newSession,
  refreshMaxAge,
  rotated,
  type IssuedRefresh,
  type Session,
  type SessionLifetimes,
} from '../../sessions/rules.ts';
import { NO_DEADLINE, millis, storing, transaction, type Sql, type Transaction } from './database.ts';
import { storageTimeLeft } from '../../support/storage_deadline.ts';
import { announce, type SessionEvent, type SessionEventFeed } from './session_events.ts';
import { RefreshError, type RefreshFailure } from '../../errors.ts';
import type { AccessTokenToDeny, SessionStore } from '../../sessions/store.ts';

/** Expired rows are deleted at most this often, by whichever instance gets there. */
const PRUNE_EVERY_MS = 60_000;
/**
 * How long a login or a logout waits for its own notice to come back through the database. PostgreSQL
 * hands a notice to every listening instance at once, so once it is back here, the others have it too:
 * the browser's next request finds the new session (or the logout) on whichever instance it reaches.
 * Bounded, so that a listener that is down delays an answer by this much at most.
 */
export const ECHO_WAIT_MS = 500;

interface SessionRow {
  id: string;
  user_id: string;
  started_at: string;
  expires_at: string;
  generation: number;
  rotated_at: string;
}

export interface PostgresSessionStoreOptions {
  /** Keys the refresh tokens' HMAC: every instance must share it (it is the JWT secret). */
  secret: Uint8Array;
  /** This instance's clock: for what it answers from memory. */
  clock: Clock;
  lifetimes?: SessionLifetimes;
  /**
   * The time decisions are made at: `'database'` (the default), the database's clock, the same for
   * every instance; `'clock'`, this instance's `clock`, for tests that move time.
   */
  decisionTime?: 'database' | 'clock';
}

/** Waiting for a notice to come back through the database: see `#expectEcho`. */
interface Echo {
  arrived(): Promise<void>;
  cancel(): void;
}

/** A rotation's outcome, decided in the transaction and acted on once it has committed. */
type Outcome = { issued: IssuedRefresh; session: Session } | { refused: RefreshFailure; endedId?: string };

export class PostgresSessionStore implements SessionStore {
  readonly lifetimes: SessionLifetimes;
  readonly #sql: Sql;
  readonly #tokens: RefreshTokens;
  readonly #clock: Clock;
  readonly #decisionTime: 'database' | 'clock';
  /** The live sessions, by id, and each user's. */
  readonly #sessions = new Map<string, Session>();
  readonly #userSessions = new Map<string, Set<string>>();
  /** Logged-out access tokens by jti, until their own expiry (ms). */
  readonly #denied = new Map<string, number>();
  /**
   * Sessions ended lately, by id, with when they were ended. A commit's answer and another instance's
   * notice travel on different connections, so "started" may be applied after "ended": it is ignored
   * for a session in here, which cannot come back to life.
   */
  readonly #ended = new Map<string, number>();
  #feed: SessionEventFeed | undefined;
  /** Notices this instance sent and awaits back, by `echoKey`. */
  readonly #echoes = new Map<string, () => void>();
  #lastPrune = 0;

  constructor(sql: Sql, options: PostgresSessionStoreOptions) {
    this.#sql = sql;
    this.#tokens = new RefreshTokens(options.secret);
    this.#clock = options.clock;
    this.#decisionTime = options.decisionTime ?? 'database';
    this.lifetimes = options.lifetimes ?? DEFAULT_LIFETIMES;
  }

  /** The feed whose freshness `isActive` relies on; until one is attached, memory is trusted as is. */
  attach(feed: SessionEventFeed): void {
    this.#feed = feed;
  }

  async start(userId: string): Promise<IssuedRefresh> {
    this.#pruneSometimes();
    let echo: Echo | undefined;
    const { session, ended, now } = await storing('start a session', () =>
      transaction(this.#sql, async (tx) => {
        // One start at a time per user, on every instance, so the cap cannot be overrun by a race.
        await lockSessionsOf(tx, userId);
        const now = await this.#now(tx);
        const session = newSession(userId, now, this.lifetimes);
        // Sent together (pipelined: one round trip, not three); PostgreSQL runs them in this order.
        const [, over] = await Promise.all([
          tx`INSERT INTO sessions (id, user_id, started_at, expires_at, generation, rotated_at)
             VALUES (${session.id}, ${userId}, ${now}, ${session.expiresAt}, 0, ${now})`,
          tx<{ id: string }[]>`
            DELETE FROM sessions WHERE id IN (
              SELECT id FROM sessions
              WHERE user_id = ${userId} AND expires_at > ${now} AND rotated_at > ${now - this.lifetimes.refreshMs}
              ORDER BY number DESC OFFSET ${MAX_SESSIONS_PER_USER})
            RETURNING id`,
          announce(tx, { kind: 'started', session }),
        ]);
        const ended = over.map((row) => row.id);
        const last: SessionEvent = ended.length > 0 ? { kind: 'ended', ids: ended } : { kind: 'started', session };
        if (ended.length > 0) await announce(tx, last);
        echo = this.#expectEcho(last);
        return { session, ended, now };
      }),
    ).catch((error: unknown) => {
      echo?.cancel();
      throw error;
    });
    this.#apply({ kind: 'started', session });
    if (ended.length > 0) this.#apply({ kind: 'ended', ids: ended });
    await echo!.arrived();
    return this.#issued(session, now);
  }

  /** Judges the token as the embedded store does (`judgeRefresh`), on the row as it is once locked. */
  async rotate(refreshToken: string): Promise<IssuedRefresh> {
    this.#pruneSometimes();
    const claims = this.#tokens.read(refreshToken);
    if (claims === undefined) throw new RefreshError('unknown'); // never issued: not worth a query
    const outcome = await storing('refresh the session', () =>
      transaction(this.#sql, async (tx): Promise<Outcome> => {
        // The row lock serialises every change to one session across instances.
        const [row] = await tx<(SessionRow & { now: string })[]>`
          SELECT *, ${this.#nowSql(tx)} AS now FROM sessions WHERE id = ${claims.sessionId} FOR UPDATE`;
        const session = row && toSession(row);
        const now = millis(row?.now);
        const verdict = judgeRefresh(claims.generation, session, now, this.lifetimes);
        switch (verdict.kind) {
          case 'refuse':
            return { refused: verdict.reason };
          case 'end':
            await this.#endSessions(tx, [session!.id]);
            return { refused: 'reused', endedId: session!.id };
          case 'repeat':
            return { issued: this.#issued(session!, now), session: session! };
          case 'rotate': {
            const next = rotated(session!, now);
            await tx`UPDATE sessions SET generation = ${next.generation}, rotated_at = ${now} WHERE id = ${next.id}`;
            await announce(tx, { kind: 'rotated', id: next.id, generation: next.generation, rotatedAt: now });
            return { issued: this.#issued(next, now), session: next };
          }
        }
      }),
    );
    if ('refused' in outcome) {
      // Committed before it is said: the session of a reused token is over here at once, and on the
      // other instances as soon as they hear of it.
      if (outcome.endedId !== undefined) this.#apply({ kind: 'ended', ids: [outcome.endedId] });
      throw new RefreshError(outcome.refused);
    }
    // This instance may not have heard of the session yet (started elsewhere a moment ago).
    this.#learn(outcome.session);
    return outcome.issued;
  }

  end(sessionIds: readonly string[], deny?: AccessTokenToDeny): Promise<void> {
    return this.#end((tx) => this.#endSessions(tx, sessionIds), deny);
  }

  endAll(userId: string, deny?: AccessTokenToDeny): Promise<void> {
    return this.#end(async (tx) => {
      await lockSessionsOf(tx, userId); // a login on another instance waits, so none is left behind
      const rows = await tx<{ id: string }[]>`SELECT id FROM sessions WHERE user_id = ${userId}`;
      return this.#endSessions(tx, rows.map((row) => row.id));
    }, deny);
  }

  /** True when this access token was logged out. From memory. */
  isDenied(jti: string): boolean {
    return this.#denied.has(jti);
  }

  /**
   * True while the session goes on. From memory: a session this instance has not heard of is not active
   * (the notice of a session started elsewhere arrives within milliseconds; a browser that is faster
   * goes through a refresh, which asks the database). Fails closed when the memory is stale: after
   * `staleAfterMs` without hearing from the database, a logout elsewhere might have been missed.
   */
  isActive(sessionId: string): boolean {
    if (this.#feed !== undefined && !this.#feed.fresh) return false;
    const session = this.#sessions.get(sessionId);
    return session !== undefined && isLive(session, this.#clock(), this.lifetimes);
  }

  /** From memory, as `isActive`. */
  sessionsOf(userId: string): Session[] {
    if (this.#feed !== undefined && !this.#feed.fresh) return [];
    const now = this.#clock();
    const sessions = [...(this.#userSessions.get(userId) ?? [])].flatMap((id) => this.#sessions.get(id) ?? []);
    return sessions.filter((session) => isLive(session, now, this.lifetimes)).sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Every write was awaited by its caller: nothing is pending. */
  async flush(): Promise<void> {}

  /** Nothing of its own to close: the pool and the feed are closed by `openPostgres`'s `close()`. */
  async close(): Promise<void> {}

  /**
   * Drops what has expired, as a write does. The feed calls it with every heartbeat, so an instance that
   * only serves /order (and never writes) does not keep its denied tokens and ended sessions for ever.
   */
  tick(): void {
    this.#pruneSometimes();
  }

  /** An event delivered by the database, from this instance or another. */
  receive(event: SessionEvent): void {
    this.#apply(event);
    this.#echoes.get(echoKey(event))?.();
  }

  /** Applies an event to memory; each is idempotent, so a change is applied when made and again when its notice arrives. */
  #apply(event: SessionEvent): void {
    switch (event.kind) {
      case 'started':
        this.#learn(event.session);
        break;
      case 'rotated': {
        const session = this.#sessions.get(event.id);
        // Notices arrive in commit order, but a commit's own answer may come after a later notice.
        if (session !== undefined && event.generation > session.generation) {
          this.#sessions.set(event.id, { ...session, generation: event.generation, rotatedAt: event.rotatedAt });
        }
        break;
      }
      case 'ended':
        for (const id of event.ids) {
          this.#forget(id);
          this.#ended.set(id, this.#clock());
        }
        break;
      case 'denied':
        this.#denied.set(event.jti, event.expiresAt);
        break;
      case 'user-changed':
        break;
    }
  }

  /** Replaces memory with what the database holds now. */
  async reload(): Promise<void> {
    const [sessions, denied] = await storing('load the sessions', () =>
      this.#sql.begin(async (tx) => {
        const now = await this.#now(tx);
        return Promise.all([
          tx<SessionRow[]>`SELECT * FROM sessions WHERE expires_at > ${now} AND rotated_at > ${now - this.lifetimes.refreshMs}`,
          tx<{ jti: string; expires_at: string }[]>`SELECT jti, expires_at FROM denied_access_tokens WHERE expires_at > ${now}`,
        ]);
      }),
      NO_DEADLINE, // not a request: the whole state may take longer to read than a request may wait
    );
    this.#sessions.clear();
    this.#userSessions.clear();
    for (const row of sessions) this.#learn(toSession(row));
    this.#denied.clear();
    for (const row of denied) this.#denied.set(row.jti, millis(row.expires_at));
  }

  /** The time a decision in `tx` is made at: see `decisionTime`. */
  async #now(tx: Transaction): Promise<number> {
    const [row] = await tx<{ now: string }[]>`SELECT ${this.#nowSql(tx)} AS now`;
    return millis(row?.now);
  }

  #nowSql(tx: Transaction) {
    // clock_timestamp(), not now(): the time of this statement, not of the transaction's start.
    return this.#decisionTime === 'clock' ? tx`${this.#clock()}::bigint` : tx`(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;
  }

  #issued(session: Session, now: number): IssuedRefresh {
    const refreshToken = this.#tokens.issue(session.id, session.generation);
    return { userId: session.userId, sessionId: session.id, refreshToken, maxAgeSeconds: refreshMaxAge(session, now, this.lifetimes) };
  }

  /** Ends sessions in one transaction, with the access token that asked denied, and waits for the notice to come back. */
  async #end(endSessions: (tx: Transaction) => Promise<string[]>, deny: AccessTokenToDeny | undefined): Promise<void> {
    this.#pruneSometimes();
    const denied = deny !== undefined && deny.exp * 1000 > this.#clock() ? { kind: 'denied' as const, jti: deny.jti, expiresAt: deny.exp * 1000 } : undefined;
    let echo: Echo | undefined;
    const ended = await storing('end the session', () =>
      transaction(this.#sql, async (tx) => {
        const ids = await endSessions(tx);
        if (denied !== undefined) {
          await tx`INSERT INTO denied_access_tokens (jti, expires_at) VALUES (${denied.jti}, ${denied.expiresAt}) ON CONFLICT (jti) DO NOTHING`;
          await announce(tx, denied);
        }
        const last: SessionEvent | undefined = denied ?? (ids.length > 0 ? { kind: 'ended', ids } : undefined);
        if (last !== undefined) echo = this.#expectEcho(last);
        return ids;
      }),
    ).catch((error: unknown) => {
      echo?.cancel();
      throw error;
    });
    this.#apply({ kind: 'ended', ids: ended });
    if (denied !== undefined) this.#apply(denied);
    await echo?.arrived();
  }

  /**
   * Starts waiting for `event`, the last notice of a transaction, to come back from the database: when
   * it is back, every instance has heard it, and the ones before it. Called inside the transaction,
   * before it commits, so the notice cannot arrive first. `arrived()` resolves when it does, after
   * `ECHO_WAIT_MS`, or at once when this instance is not listening; `cancel` (the transaction failed)
   * stops waiting.
   */
  #expectEcho(event: SessionEvent): Echo {
    const key = echoKey(event);
    let resolve!: () => void;
    const echoed = new Promise<void>((done) => (resolve = done));
    this.#echoes.set(key, resolve);
    return {
      arrived: async () => {
        if (this.#feed?.fresh !== true) resolve(); // not listening: nothing will come back
        // Never past the request's storage deadline: a slow commit leaves less time to wait for its echo.
        const timer = setTimeout(resolve, Math.max(0, Math.min(ECHO_WAIT_MS, storageTimeLeft())));
        await echoed;
        clearTimeout(timer);
        this.#echoes.delete(key);
      },
      cancel: () => this.#echoes.delete(key),
    };
  }

  #learn(session: Session): void {
    if (this.#ended.has(session.id)) return;
    const known = this.#sessions.get(session.id);
    if (known !== undefined && known.generation > session.generation) return; // a later rotation was heard first
    this.#sessions.set(session.id, session);
    const ids = this.#userSessions.get(session.userId);
    if (ids === undefined) this.#userSessions.set(session.userId, new Set([session.id]));
    else ids.add(session.id);
  }

  #forget(id: string): void {
    const session = this.#sessions.get(id);
    if (session === undefined) return;
    this.#sessions.delete(id);
    const ids = this.#userSessions.get(session.userId);
    ids?.delete(id);
    if (ids?.size === 0) this.#userSessions.delete(session.userId);
  }

  /** Deletes sessions and tells every instance; returns the ids that were there. */
  async #endSessions(tx: Transaction, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await tx<{ id: string }[]>`DELETE FROM sessions WHERE id IN ${tx(ids)} RETURNING id`;
    const ended = rows.map((row) => row.id);
    if (ended.length > 0) await announce(tx, { kind: 'ended', ids: ended });
    return ended;
  }

  /**
   * Drops what has expired: from memory at once, from the database in the background (a failure there
   * is harmless; the rows are simply deleted next time).
   */
  #pruneSometimes(): void {
    const now = this.#clock();
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    for (const [id, session] of this.#sessions) if (!isLive(session, now, this.lifetimes)) this.#forget(id);
    for (const [jti, expiresAt] of this.#denied) if (now >= expiresAt) this.#denied.delete(jti);
    // A notice is late by milliseconds; a minute is plenty to outlast any that crossed an answer.
    for (const [id, endedAt] of this.#ended) if (now - endedAt >= PRUNE_EVERY_MS) this.#ended.delete(id);
    void this.#sql
      .begin(async (tx) => {
        const dbNow = await this.#now(tx);
        await tx`DELETE FROM sessions WHERE expires_at <= ${dbNow} OR rotated_at <= ${dbNow - this.lifetimes.refreshMs}`;
        await tx`DELETE FROM denied_access_tokens WHERE expires_at <= ${dbNow}`;
      })
      .catch(() => {});
  }
}

/** Holds, until `tx` ends, the lock every start and sign-out everywhere of this user takes. */
function lockSessionsOf(tx: Transaction, userId: string): PromiseLike<unknown> {
  return tx`SELECT pg_advisory_xact_lock(hashtextextended(${`sessions-of:${userId}`}, 0))`;
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    startedAt: millis(row.started_at),
    expiresAt: millis(row.expires_at),
    generation: row.generation,
    rotatedAt: millis(row.rotated_at),
  };
}

/** What identifies one notice among those in flight. */
function echoKey(event: SessionEvent): string {
  switch (event.kind) {
    case 'started':
      return `started:${event.session.id}`;
    case 'rotated':
    case 'user-changed':
      return `${event.kind}:${event.id}`;
    case 'ended':
      return `ended:${event.ids.join(',')}`;
    case 'denied':
      return `denied:${event.jti}`;
  }
}
