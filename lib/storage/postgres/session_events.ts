/**
 * What one instance tells every other: sessions started, rotated and ended, access tokens denied, users
 * changed.
 * Sent with `pg_notify` inside the transaction that made the change, so PostgreSQL delivers it exactly
 * when the change commits (never for a change rolled back), to every instance that LISTENs, in commit
 * order.
 *
 * LISTEN/NOTIFY delivers only to connections listening at that moment. So an instance that lost its
 * connection reloads the whole state when it listens again, and until it has, and whenever it has not
 * heard its own heartbeat come back for a while, it says it is not `fresh`: the session store then
 * refuses every access token rather than trust a memory that may have missed a logout.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Sql, type Transaction } from './database.ts';
import type { Session } from '../../sessions/rules.ts';

export const CHANNEL = 'jwt_cookie_sessions';

export type SessionEvent =
  | { kind: 'started'; session: Session }
  | { kind: 'rotated'; id: string; generation: number; rotatedAt: number }
  | { kind: 'ended'; ids: string[] }
  | { kind: 'denied'; jti: string; expiresAt: number }
  | { kind: 'user-changed'; id: string };

/** Announces `event` to every instance when `tx` commits. Like any query, it runs once awaited. */
export function announce(tx: Transaction | Sql, event: SessionEvent): PromiseLike<unknown> {
  return tx`SELECT pg_notify(${CHANNEL}, ${JSON.stringify(event)})`;
}

export interface FeedTiming {
  /** How often the instance sends itself a heartbeat through the database. */
  heartbeatMs: number;
  /** Heard nothing back for this long: the listening connection is torn down and opened again. */
  reconnectAfterMs: number;
  /**
   * Heard nothing back for this long: memory is no longer trusted and every access token is refused
   * (fail closed). Until then, `/order` keeps answering from memory through a database outage.
   */
  staleAfterMs: number;
}

export const DEFAULT_FEED_TIMING: FeedTiming = Object.freeze({ heartbeatMs: 1_000, reconnectAfterMs: 3_000, staleAfterMs: 10_000 });

export interface FeedHandlers {
  /** Applies one event to memory. */
  apply(event: SessionEvent): void;
  /** Reads the whole state again (after a (re)connection, when events may have been missed). */
  reload(): Promise<void>;
  /**
   * Called with every heartbeat, database or not: the moment to drop from memory what has expired, so
   * that an instance that only serves /order (and so never writes) does not keep it for ever.
   */
  tick(): void;
}

/**
 * How long one attempt to listen (connect, LISTEN, reload) or one heartbeat may take before it is
 * given up and tried again at the next beat. Unbounded, an attempt made while the database was down
 * could wait on postgres.js's reconnection for many seconds after the database was back.
 */
export const ATTEMPT_LIMIT_MS = 2_000;

/**
 * The LISTEN side. The heartbeat is a notification the instance sends itself through its ordinary pool
 * and must receive on its listening connection: when it comes back, every change committed before it
 * was sent has been delivered too (notifications arrive in commit order), so "heard a heartbeat
 * within the last N seconds" means "knows every revocation older than N seconds".
 */
export class SessionEventFeed {
  readonly #url: string;
  readonly #sql: Sql;
  readonly #handlers: FeedHandlers;
  readonly #timing: FeedTiming;
  readonly #instance = randomUUID();
  /** The connection that LISTENs; a new one after each loss. */
  #listener: Sql | undefined;
  /** Events that arrived while a reload was reading: applied after it, so none is overwritten. */
  #queued: SessionEvent[] | undefined;
  /** The last reload succeeded: memory holds everything up to it, and events since arrive in order. */
  #synced = false;
  #resyncing: Promise<void> = Promise.resolve();
  /** `performance.now()` when a heartbeat last came back (monotonic: the session clock may be a test's). */
  #heardAt = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The heartbeat in progress, so that closing waits for it rather than leave a connection behind. */
  #beating: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(url: string, sql: Sql, handlers: FeedHandlers, timing: FeedTiming = DEFAULT_FEED_TIMING) {
    this.#url = url;
    this.#sql = sql;
    this.#handlers = handlers;
    this.#timing = timing;
  }

  /** Listens and loads the state; rejects when the database cannot be reached (the server does not start). */
  async start(): Promise<void> {
    await this.#subscribe();
    if (!this.#synced) throw new Error('Cannot start: the database could not be read after LISTEN');
    this.#heardAt = performance.now();
    this.#schedule();
  }

  /** Memory is complete up to a moment at most `staleAfterMs` ago. */
  get fresh(): boolean {
    return this.#synced && performance.now() - this.#heardAt <= this.#timing.staleAfterMs;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#beating;
    await this.#listener?.end({ timeout: 1 });
  }

  async #subscribe(): Promise<void> {
    const listener = (this.#listener = connect(this.#url, { max: 1 }));
    // `onlisten` runs after the first LISTEN and again each time postgres.js listens anew on a fresh
    // connection: each time, events may have been missed, so the state is read again.
    // Until the reload is done, memory is answered from as it was: still bounded by `staleAfterMs`.
    // Reloads run one after another: a new LISTEN may come while the previous reload is still reading.
    const onListen = () => (this.#resyncing = this.#resyncing.then(() => this.#resync()));
    await listener.listen(CHANNEL, (payload) => this.#receive(payload), onListen);
    await this.#resyncing;
  }

  async #resync(): Promise<void> {
    const queued: SessionEvent[] = [];
    this.#queued = queued;
    try {
      await this.#handlers.reload();
      this.#synced = true;
    } catch {
      this.#synced = false;
      // Not synced: the heartbeat sees it, and the next beat listens anew and reloads.
    } finally {
      this.#queued = undefined;
      for (const event of queued) this.#handlers.apply(event);
    }
  }

  #receive(payload: string): void {
    if (payload.startsWith('heartbeat:')) {
      // A heartbeat during a reload proves nothing yet about what the reload will bring: wait for the next.
      if (payload === `heartbeat:${this.#instance}` && this.#queued === undefined) this.#heardAt = performance.now();
      return;
    }
    let event: SessionEvent;
    try {
      event = JSON.parse(payload) as SessionEvent;
    } catch {
      return; // not ours: someone else's NOTIFY on this channel
    }
    if (this.#queued !== undefined) this.#queued.push(event);
    else this.#handlers.apply(event);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#beating = this.#beat().finally(() => this.#schedule());
    }, this.#timing.heartbeatMs);
    this.#timer.unref(); // a heartbeat alone does not keep the process alive
  }

  async #beat(): Promise<void> {
    this.#handlers.tick();
    const silentFor = performance.now() - this.#heardAt;
    if (!this.#synced || silentFor > this.#timing.reconnectAfterMs) {
      // The listening connection may be gone without a word (postgres.js listens again after a
      // clean close, but gives up if the database is down at that moment): start over.
      this.#dropListener();
      const listening = await withinLimit(this.#subscribe());
      // Not listening, or not loaded, in time: the next beat starts over on a new connection.
      if (!listening || !this.#synced) this.#dropListener();
    }
    await withinLimit(this.#sql`SELECT pg_notify(${CHANNEL}, ${`heartbeat:${this.#instance}`})`);
  }

  #dropListener(): void {
    const old = this.#listener;
    this.#listener = undefined;
    void old?.end({ timeout: 0 }).catch(() => {});
  }
}

/** True when `work` succeeded within ATTEMPT_LIMIT_MS; false when it failed or is still running (then left to end on its own). */
async function withinLimit(work: PromiseLike<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ATTEMPT_LIMIT_MS)));
  try {
    return await Promise.race([Promise.resolve(work).then(() => true, () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
