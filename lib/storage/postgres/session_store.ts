/**
 * Sessions in PostgreSQL, shared by every instance: the same rules as the embedded store (rotation
 * with derived successors, the grace window, the aborted exchange, reuse detection, the per-user cap),
 * each decided inside one transaction that holds the session's row lock, so two instances rotating
 * one token at once hand out one successor.
 *
 * The two checks every authenticated request makes (`isActive`, `isDenied`) never query: each instance
 * keeps the live sessions and denied access tokens in memory, loaded at start and kept current by the
 * events every change announces (`session_events.ts`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../support/clock.ts';
import { LruMap } from '../../support/lru_map.ts';
import { MAX_SESSIONS_PER_USER, SPENT_TOKENS_KEPT, hashToken as sha256, judgeRefresh, secondsUntil, successorOf, type RefreshRecord, DEFAULT_LIFETIMES, type IssuedRefresh, type SessionLifetimes } from '../../sessions/rules.ts';
import { NO_DEADLINE, millis, storing, transaction, type Sql, type Transaction } from './database.ts';
import { announce, type SessionEvent, type SessionEventFeed } from './session_events.ts';
import { RefreshError, type RefreshFailure } from '../../errors.ts';
import { storageTimeLeft } from '../../support/storage_deadline.ts';
import { type SessionStore } from '../../sessions/store.ts';

/** Expired rows are deleted at most this often, by whichever instance gets there. */
const PRUNE_EVERY_MS = 60_000;
/**
 * How long a login or a logout waits for its own notice to come back through the database. PostgreSQL
 * hands a notice to every listening instance at once, so once it is back here, the others have it too:
 * the browser's next request finds the new session (or the logout) on whichever instance it reaches.
 * Bounded, so that a listener that is down delays an answer by this much at most.
 */
export const ECHO_WAIT_MS = 500;

interface LiveSession {
  userId: string;
  expiresAt: number;
}

interface SessionRow {
  id: string;
  user_id: string;
  expires_at: string;
}

interface TokenRow {
  hash: string;
  seq: number;
  expires_at: string;
  rotated_at: string | null;
}

export interface PostgresSessionStoreOptions {
  /** Keys the derivation of successor tokens: every instance must share it (it is the JWT secret). */
  secret: Uint8Array;
  clock: Clock;
  lifetimes?: SessionLifetimes;
}

/** A rotation's outcome, decided in the transaction and acted on once it has committed. */
type Outcome = { issued: IssuedRefresh; session: LiveSession } | { refused: RefreshFailure; endedId?: string };

export class PostgresSessionStore implements SessionStore {
  readonly lifetimes: SessionLifetimes;
  readonly #sql: Sql;
  readonly #secret: Uint8Array;
  readonly #clock: Clock;
  readonly #sessions = new Map<string, LiveSession>();
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
  /**
   * The session of each refresh token this instance handed out lately, for `sessionOf` (the key of the
   * per-session refresh limit, which is per instance like every rate limit): answered from memory,
   * never by a query. A token handed out by another instance is unknown here until rotated here.
   */
  readonly #issuedTokens = new LruMap<string, string>(100_000);

  constructor(sql: Sql, options: PostgresSessionStoreOptions) {
    this.#sql = sql;
    this.#secret = options.secret;
    this.#clock = options.clock;
    this.lifetimes = options.lifetimes ?? DEFAULT_LIFETIMES;
  }

  /** The feed whose freshness `isActive` relies on; until one is attached, memory is trusted as is. */
  attach(feed: SessionEventFeed): void {
    this.#feed = feed;
  }

  async start(userId: string): Promise<IssuedRefresh> {
    const now = this.#clock();
    this.#pruneSometimes(now);
    const session = { id: randomUUID(), userId, expiresAt: now + this.lifetimes.sessionMs };
    const refreshToken = randomBytes(32).toString('base64url');
    const tokenExpiresAt = Math.min(now + this.lifetimes.refreshMs, session.expiresAt);
    const echo = this.#expectEcho({ kind: 'started', ...session });
    const ended = await storing('start a session', () =>
      transaction(this.#sql, async (tx) => {
        // Sent together (pipelined: one round trip, not five); PostgreSQL runs them in this order.
        const [, , , over] = await Promise.all([
          // One start at a time per user, on every instance, so the cap cannot be overrun by a race.
          tx`SELECT pg_advisory_xact_lock(hashtextextended(${`sessions-of:${userId}`}, 0))`,
          tx`INSERT INTO sessions (id, user_id, expires_at) VALUES (${session.id}, ${userId}, ${session.expiresAt})`,
          tx`INSERT INTO refresh_tokens (hash, session_id, seq, expires_at) VALUES (${sha256(refreshToken)}, ${session.id}, 0, ${tokenExpiresAt})`,
          tx<{ id: string }[]>`
            DELETE FROM sessions WHERE id IN (
              SELECT id FROM sessions WHERE user_id = ${userId} AND expires_at > ${now}
              ORDER BY number DESC OFFSET ${MAX_SESSIONS_PER_USER})
            RETURNING id`,
          announce(tx, { kind: 'started', ...session }),
        ]);
        const endedIds = over.map((row) => row.id);
        if (endedIds.length > 0) await announce(tx, { kind: 'ended', ids: endedIds });
        return endedIds;
      }),
    ).catch(echo.cancel);
    this.#apply({ kind: 'started', ...session });
    if (ended.length > 0) this.#apply({ kind: 'ended', ids: ended });
    await echo.arrived();
    this.#issuedTokens.set(sha256(refreshToken), session.id);
    return { userId, sessionId: session.id, refreshToken, maxAgeSeconds: secondsUntil(tokenExpiresAt, now) };
  }

  /**
   * Exchanges a refresh token for its successor (RFC 9700 §4.14.2, refresh token rotation), exactly as
   * the embedded store does:
   * - a token rotated before hands out the same successor again while that successor was never used
   *   (the answer carrying it was lost: an aborted exchange), or within the grace window (two tabs);
   * - a token rotated before whose successor was used too, after the grace window, means two parties
   *   hold the session, one of them a thief: the session is ended, and both must log in again.
   */
  async rotate(refreshToken: string): Promise<IssuedRefresh> {
    const now = this.#clock();
    this.#pruneSometimes(now);
    const hash = sha256(refreshToken);
    const successor = successorOf(this.#secret, refreshToken);
    const successorHash = sha256(successor);
    const outcome = await storing('refresh the session', () =>
      transaction(this.#sql, async (tx): Promise<Outcome> => {
        // The session's row lock serialises every change to one session across instances; the token
        // rows are read only once it is held, so a rotation that committed meanwhile is seen.
        const [session] = await tx<SessionRow[]>`
          SELECT id, user_id, expires_at FROM sessions
          WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = ${hash})
          FOR UPDATE`;
        if (session === undefined) return { refused: 'unknown' };
        const tokens = await tx<TokenRow[]>`
          SELECT hash, seq, expires_at, rotated_at FROM refresh_tokens
          WHERE session_id = ${session.id} AND hash IN (${hash}, ${successorHash})`;
        const token = tokens.find((row) => row.hash === hash);
        const next = tokens.find((row) => row.hash === successorHash);
        const sessionExpiresAt = millis(session.expires_at);
        const family = { id: session.id, userId: session.user_id, expiresAt: sessionExpiresAt };
        const issued = (expiresAt: number): Outcome => ({
          issued: { userId: session.user_id, sessionId: session.id, refreshToken: successor, maxAgeSeconds: secondsUntil(expiresAt, now) },
          session: { userId: session.user_id, expiresAt: sessionExpiresAt },
        });

        // The same rules as the embedded store, on the rows as they are now that the session is locked.
        const verdict = judgeRefresh(token && asRecord(token, session.id), family, next && asRecord(next, session.id), now, this.lifetimes);
        switch (verdict.kind) {
          case 'refuse':
            return { refused: verdict.reason };
          case 'revoke':
            await this.#endSessions(tx, [session.id]);
            return { refused: 'reused', endedId: session.id };
          case 'repeat':
            return next === undefined ? { refused: 'unknown' } : issued(millis(next.expires_at));
          case 'rotate':
            break;
        }
        const seq = token!.seq; // a verdict to rotate means the token is there
        const nextExpiresAt = Math.min(now + this.lifetimes.refreshMs, sessionExpiresAt);
        await tx`UPDATE refresh_tokens SET rotated_at = ${now} WHERE hash = ${hash}`;
        await tx`
          INSERT INTO refresh_tokens (hash, session_id, seq, expires_at)
          VALUES (${successorHash}, ${session.id}, ${seq + 1}, ${nextExpiresAt})`;
        // The current token and the 8 spent before it are kept; older ones are forgotten.
        await tx`DELETE FROM refresh_tokens WHERE session_id = ${session.id} AND seq < ${seq + 1 - SPENT_TOKENS_KEPT}`;
        return issued(nextExpiresAt);
      }),
    );
    if ('refused' in outcome) {
      // Committed before it is said: the session of a reused token is over here at once, and on the
      // other instances as soon as they hear of it.
      if (outcome.endedId !== undefined) this.#apply({ kind: 'ended', ids: [outcome.endedId] });
      throw new RefreshError(outcome.refused);
    }
    // This instance may not have heard of the session yet (started elsewhere a moment ago).
    this.#learn(outcome.issued.sessionId, outcome.session);
    this.#issuedTokens.set(hash, outcome.issued.sessionId);
    this.#issuedTokens.set(successorHash, outcome.issued.sessionId);
    return outcome.issued;
  }

  async end(sessionId: string, accessToken: { jti: string; exp: number }): Promise<void> {
    const now = this.#clock();
    this.#pruneSometimes(now);
    const denied = accessToken.exp * 1000 > now ? { kind: 'denied' as const, jti: accessToken.jti, expiresAt: accessToken.exp * 1000 } : undefined;
    const ended = { kind: 'ended' as const, ids: [sessionId] };
    // The last notice of the transaction: when it is back, the ones before it are too (commit order).
    const echo = this.#expectEcho(denied ?? ended);
    await storing('end the session', () =>
      transaction(this.#sql, async (tx) => {
        await this.#endSessions(tx, [sessionId]);
        if (denied !== undefined) {
          await tx`INSERT INTO denied_access_tokens (jti, expires_at) VALUES (${denied.jti}, ${denied.expiresAt}) ON CONFLICT (jti) DO NOTHING`;
          await announce(tx, denied);
        }
      }),
    ).catch(echo.cancel);
    this.#apply(ended);
    if (denied !== undefined) this.#apply(denied);
    await echo.arrived();
  }

  /** True when this access token was logged out. From memory. */
  isDenied(jti: string): boolean {
    return this.#denied.has(jti);
  }

  /**
   * True while the session goes on. From memory: a session this instance has not heard of is not active
   * (the notice of a session started elsewhere arrives within milliseconds; a browser that is faster
   * goes through /refresh, which asks the database). Fails closed when the memory is stale: after
   * `staleAfterMs` without hearing from the database, a logout elsewhere might have been missed.
   */
  isActive(sessionId: string): boolean {
    if (this.#feed !== undefined && !this.#feed.fresh) return false;
    const session = this.#sessions.get(sessionId);
    return session !== undefined && this.#clock() < session.expiresAt;
  }

  /** Every write was awaited by its caller: nothing is pending. */
  sessionOf(refreshToken: string): string | undefined {
    return this.#issuedTokens.get(sha256(refreshToken));
  }

  async flush(): Promise<void> {}

  /** Nothing of its own to close: the pool and the feed are closed by `openPostgres`'s `close()`. */
  async close(): Promise<void> {}

  /**
   * Drops what has expired, as a write does. The feed calls it with every heartbeat, so an instance that
   * only serves /order (and never writes) does not keep its denied tokens and ended sessions for ever.
   */
  tick(): void {
    this.#pruneSometimes(this.#clock());
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
        this.#learn(event.id, { userId: event.userId, expiresAt: event.expiresAt });
        break;
      case 'ended':
        for (const id of event.ids) {
          this.#sessions.delete(id);
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
    const now = this.#clock();
    const [sessions, denied] = await storing('load the sessions', () =>
      Promise.all([
        this.#sql<SessionRow[]>`SELECT id, user_id, expires_at FROM sessions WHERE expires_at > ${now}`,
        this.#sql<{ jti: string; expires_at: string }[]>`SELECT jti, expires_at FROM denied_access_tokens WHERE expires_at > ${now}`,
      ]),
      NO_DEADLINE, // not a request: the whole state may take longer to read than a request may wait
    );
    this.#sessions.clear();
    for (const row of sessions) this.#learn(row.id, { userId: row.user_id, expiresAt: millis(row.expires_at) });
    this.#denied.clear();
    for (const row of denied) this.#denied.set(row.jti, millis(row.expires_at));
  }

  /**
   * Starts waiting for `event` to come back from the database: before the transaction, as the notice
   * may arrive before the commit's answer. `arrived()` resolves when it does, after `ECHO_WAIT_MS`, or
   * at once when this instance is not listening; `cancel` (the transaction failed) stops waiting and
   * rethrows.
   */
  #expectEcho(event: SessionEvent): { arrived(): Promise<void>; cancel(error: unknown): never } {
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
      cancel: (error) => {
        this.#echoes.delete(key);
        throw error;
      },
    };
  }

  #learn(id: string, session: LiveSession): void {
    if (!this.#ended.has(id)) this.#sessions.set(id, session);
  }

  /** Deletes sessions (their refresh tokens go with them) and tells every instance. */
  async #endSessions(tx: Transaction, ids: string[]): Promise<void> {
    await tx`DELETE FROM sessions WHERE id IN ${tx(ids)}`;
    await announce(tx, { kind: 'ended', ids });
  }


  /**
   * Drops what has expired: from memory at once, from the database in the background (a failure there
   * is harmless; the rows are simply deleted next time).
   */
  #pruneSometimes(now: number): void {
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    for (const [id, session] of this.#sessions) if (now >= session.expiresAt) this.#sessions.delete(id);
    for (const [jti, expiresAt] of this.#denied) if (now >= expiresAt) this.#denied.delete(jti);
    // A notice is late by milliseconds; a minute is plenty to outlast any that crossed an answer.
    for (const [id, endedAt] of this.#ended) if (now - endedAt >= PRUNE_EVERY_MS) this.#ended.delete(id);
    void this.#sql
      .begin(async (tx) => {
        await tx`DELETE FROM sessions WHERE expires_at <= ${now}`;
        await tx`DELETE FROM refresh_tokens WHERE expires_at <= ${now}`;
        await tx`DELETE FROM denied_access_tokens WHERE expires_at <= ${now}`;
      })
      .catch(() => {});
  }
}

/** What identifies one notice among those in flight. */
/** A token row in the shape the session rules read. */
function asRecord(row: TokenRow, sessionId: string): RefreshRecord {
  const record = { hash: row.hash, familyId: sessionId, expiresAt: millis(row.expires_at) };
  return row.rotated_at === null ? record : { ...record, rotatedAt: millis(row.rotated_at) };
}

function echoKey(event: SessionEvent): string {
  switch (event.kind) {
    case 'started':
    case 'user-changed':
      return `${event.kind}:${event.id}`;
    case 'ended':
      return `ended:${event.ids.join(',')}`;
    case 'denied':
      return `denied:${event.jti}`;
  }
}

