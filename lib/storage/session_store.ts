/**
 * Sessions and the deny list of logged-out access tokens, in memory for the checks made on every
 * request, and on disk in `DATA_DIR/sessions-v3.json` plus its journal (see `journal.ts`). The rules
 * are in `../sessions/rules.ts`; a session is one small record whatever how often it is refreshed,
 * since a store keeps only the generation of its current refresh token, never a token.
 *
 * The store's clock never runs below the last time it wrote: every change records its time, and a
 * snapshot the latest, so a system clock stepped back cannot reopen a retry window or revive a session.
 */
import type { Clock } from '../support/clock.ts';
import type { Logger } from '../support/log.ts';
import { realFileSystem, type FileSystem } from './durable_file.ts';
import { Journal, type JournalRecord } from './journal.ts';
import { readLegacySessions } from './legacy_sessions.ts';
import { RefreshError } from '../errors.ts';
import { RefreshTokens } from '../sessions/refresh_tokens.ts';
import type { AccessTokenToDeny, SessionStore } from '../sessions/store.ts';
import {
  DEFAULT_LIFETIMES,
  isLive,
  judgeRefresh,
  newSession,
  refreshMaxAge,
  rotated,
  sessionsToEnd,
  type DeniedToken,
  type IssuedRefresh,
  type Session,
  type SessionLifetimes,
} from '../sessions/rules.ts';

export interface SessionStoreOptions {
  /** Keys the refresh tokens' HMAC; the JWT secret serves, with its own label. */
  secret: Uint8Array;
  clock: Clock;
  lifetimes?: SessionLifetimes;
  fs?: FileSystem;
  log?: Pick<Logger, 'warn' | 'error'>;
  /** Journal size that triggers a snapshot (tests make it small). */
  compactAfterBytes?: number;
  /** Why the folder must already hold this store (see `JournalOptions`); unset for a new folder. */
  expected?: string | undefined;
}

/** The store's files: `sessions-v3.json` and `sessions-v3.journal.<generation>.jsonl`. */
const FILE_NAME = 'sessions-v3';

/** Entries the pruning scan visits per turn of the event loop. */
const PRUNE_SLICE = 2_000;

/** The changes the journal records, one JSON line each, with the time (`at`) each was made. */
type SessionChange =
  /** A login: the new session, and the user's oldest sessions it ends. */
  | { op: 'start'; at: number; session: Session; ends: string[] }
  /** A refresh: the session's new generation, issued `at`. */
  | { op: 'rotate'; at: number; sessionId: string; generation: number }
  /** A logout or a sign-out everywhere (with the access token denied), or a session ended for reuse (without). */
  | { op: 'end'; at: number; sessionIds: string[]; denied?: DeniedToken };

export class JsonSessionStore implements SessionStore {
  readonly lifetimes: SessionLifetimes;
  readonly #sessions = new Map<string, Session>();
  /** Each user's sessions (a few at most: see `MAX_SESSIONS_PER_USER`). */
  readonly #userSessions = new Map<string, string[]>();
  readonly #denied = new Map<string, DeniedToken>();
  readonly #tokens: RefreshTokens;
  readonly #clock: Clock;
  /** The latest time this store has written or decided at: its clock never runs below it. */
  #latest = 0;
  #journal!: Journal;
  #lastPrune: number;
  #pruning: Promise<void> | undefined;

  private constructor(options: SessionStoreOptions) {
    this.#tokens = new RefreshTokens(options.secret);
    this.#clock = options.clock;
    this.lifetimes = options.lifetimes ?? DEFAULT_LIFETIMES;
    // Every rule checks expiry itself; pruning only frees memory, so the first one can wait a minute.
    this.#lastPrune = options.clock();
  }

  /**
   * Loads `dataDir/sessions-v3.json` and its journal, or starts empty, carrying over the sessions of an
   * earlier release's files once; throws `CorruptFileError` rather than guess.
   */
  static async open(dataDir: string, options: SessionStoreOptions): Promise<JsonSessionStore> {
    const store = new JsonSessionStore(options);
    const fs = options.fs ?? realFileSystem;
    const names = await fs.readdir(dataDir);
    // New until its first snapshot is in place: a journal alone is what a first start that failed left.
    const isNew = !names.includes(`${FILE_NAME}.json`);
    // An earlier release's files and none of this one's: the folder is upgrading, not missing its store.
    const upgrading = isNew && names.some((name) => name.startsWith('sessions.'));
    store.#journal = await Journal.open(
      {
        lists: ['sessions', 'deniedAccessTokens', 'clock'],
        load: (list, item) => store.#load(list, item),
        replay: (record) => store.#apply(toChange(record)),
        capture: () => store.#capture(),
      },
      { dir: dataDir, name: FILE_NAME, fs, log: options.log, compactAfterBytes: options.compactAfterBytes, expected: upgrading ? undefined : options.expected },
    );
    const legacy = await readLegacySessions(dataDir, store.lifetimes, { fs, log: options.log });
    if (legacy !== undefined) {
      // Carried over only into a store that did not exist yet: after a crash between the snapshot
      // below and the removal, the sessions are already here, and ended ones must not come back.
      if (isNew) {
        for (const session of legacy.sessions) store.#addSession(session);
        for (const denied of legacy.denied) store.#denied.set(denied.jti, denied);
        await store.#journal.compact();
      }
      for (const file of legacy.files) await fs.rm(file, { force: true });
    }
    return store;
  }

  /** Sessions held, live or not yet pruned. */
  get size(): number {
    return this.#sessions.size;
  }

  async start(userId: string): Promise<IssuedRefresh> {
    const now = this.#now();
    this.#prune(now);
    const session = newSession(userId, now, this.lifetimes);
    const ends = sessionsToEnd(this.sessionsOf(userId));
    await this.#commit({ op: 'start', at: now, session, ends });
    return this.#issued(session, now);
  }

  async rotate(refreshToken: string): Promise<IssuedRefresh> {
    const now = this.#now();
    this.#prune(now);
    const claims = this.#tokens.read(refreshToken);
    const session = claims && this.#sessions.get(claims.sessionId);
    const verdict = judgeRefresh(claims?.generation, session, now, this.lifetimes);
    switch (verdict.kind) {
      case 'refuse':
        throw new RefreshError(verdict.reason);
      case 'end':
        await this.#commit({ op: 'end', at: now, sessionIds: [session!.id] });
        throw new RefreshError('reused');
      case 'repeat': {
        // The rotation that issued the current token may still be on its way to the disk: wait for it,
        // so this answer, too, hands out only a token that is stored.
        await this.#journal.durable();
        const current = this.#sessions.get(session!.id);
        if (current?.generation !== claims!.generation + 1) throw new RefreshError('unknown');
        return this.#issued(current, now);
      }
      case 'rotate': {
        const next = rotated(session!, now);
        await this.#commit({ op: 'rotate', at: now, sessionId: next.id, generation: next.generation });
        return this.#issued(next, now);
      }
    }
  }

  /** Ends sessions, and denies the access token that asked until its own expiry. */
  async end(sessionIds: readonly string[], deny?: AccessTokenToDeny): Promise<void> {
    const now = this.#now();
    this.#prune(now);
    // Denied once: a logout replayed with the same token writes nothing more.
    const denied = deny !== undefined && deny.exp * 1000 > now && !this.isDenied(deny.jti) ? { jti: deny.jti, expiresAt: deny.exp * 1000 } : undefined;
    const ending = sessionIds.filter((id) => this.#sessions.has(id));
    if (denied === undefined && ending.length === 0) return this.#journal.durable(); // nothing to store
    await this.#commit(denied === undefined ? { op: 'end', at: now, sessionIds: ending } : { op: 'end', at: now, sessionIds: ending, denied });
  }

  endAll(userId: string, deny?: AccessTokenToDeny): Promise<void> {
    return this.end([...(this.#userSessions.get(userId) ?? [])], deny);
  }

  /** True when this access token was logged out. Called on every authenticated request. */
  isDenied(jti: string): boolean {
    const denied = this.#denied.get(jti);
    return denied !== undefined && this.#now() < denied.expiresAt;
  }

  /**
   * True while the session an access token belongs to goes on: not logged out, not ended for a reused
   * refresh token, not ended by a newer login, not past its limits. Called on every authenticated
   * request, so ending a session ends every access token of it at once.
   */
  isActive(sessionId: string): boolean {
    const session = this.#sessions.get(sessionId);
    return session !== undefined && isLive(session, this.#now(), this.lifetimes);
  }

  sessionsOf(userId: string): Session[] {
    const now = this.#now();
    const sessions = (this.#userSessions.get(userId) ?? []).flatMap((id) => this.#sessions.get(id) ?? []);
    return sessions.filter((session) => isLive(session, now, this.lifetimes)).sort((a, b) => a.startedAt - b.startedAt);
  }

  flush(): Promise<void> {
    return this.#journal.flush();
  }

  async close(): Promise<void> {
    await this.#pruning; // so the last snapshot leaves out what has expired
    await this.#journal.close();
  }

  /** Writes a snapshot now rather than when the journal outgrows it (tests, benchmarks). */
  compact(): Promise<void> {
    return this.#journal.compact();
  }

  /** The clock, never below the latest time written or decided at (a clock stepped back waits for it). */
  #now(): number {
    this.#latest = Math.max(this.#latest, this.#clock());
    return this.#latest;
  }

  #issued(session: Session, now: number): IssuedRefresh {
    const refreshToken = this.#tokens.issue(session.id, session.generation);
    return { userId: session.userId, sessionId: session.id, refreshToken, maxAgeSeconds: refreshMaxAge(session, now, this.lifetimes) };
  }

  /** Makes the change in memory and journals it; if the write fails, the journal undoes it. */
  #commit(change: SessionChange): Promise<void> {
    return this.#journal.append(change, this.#apply(change));
  }

  /** Applies a change to memory (now, or replayed at start) and returns how to undo it. */
  #apply(change: SessionChange): () => void {
    this.#latest = Math.max(this.#latest, change.at);
    switch (change.op) {
      case 'start': {
        const undoEnds = change.ends.map((id) => this.#removeSession(id));
        this.#addSession(change.session);
        return () => {
          this.#removeSession(change.session.id);
          for (const undo of undoEnds.reverse()) undo();
        };
      }
      case 'rotate': {
        const old = this.#sessions.get(change.sessionId);
        if (old === undefined) return () => {};
        this.#sessions.set(old.id, { ...old, generation: change.generation, rotatedAt: change.at }); // replaced, never changed in place
        return () => {
          if (this.#sessions.has(old.id)) this.#sessions.set(old.id, old);
        };
      }
      case 'end': {
        const undoRemoves = change.sessionIds.map((id) => this.#removeSession(id));
        const undoRemove = () => undoRemoves.forEach((undo) => undo()); // in order: each user's list as it was
        const denied = change.denied;
        if (denied === undefined) return undoRemove;
        const previous = this.#denied.get(denied.jti);
        this.#denied.set(denied.jti, denied);
        return () => {
          if (previous === undefined) this.#denied.delete(denied.jti);
          else this.#denied.set(denied.jti, previous);
          undoRemove();
        };
      }
    }
  }

  #addSession(session: Session): void {
    this.#sessions.set(session.id, session);
    const ids = this.#userSessions.get(session.userId);
    if (ids === undefined) this.#userSessions.set(session.userId, [session.id]);
    else if (!ids.includes(session.id)) ids.push(session.id);
  }

  /** Removes a session; returns how to put it back. */
  #removeSession(sessionId: string): () => void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return () => {};
    this.#sessions.delete(sessionId);
    const ids = this.#userSessions.get(session.userId) ?? [];
    if (ids.includes(sessionId)) ids.splice(ids.indexOf(sessionId), 1);
    if (ids.length === 0) this.#userSessions.delete(session.userId);
    return () => this.#addSession(session);
  }

  /**
   * Drops what has expired, at most once a minute, and a slice at a time (giving the event loop back in
   * between), so that with 100,000 sessions no request waits for the whole scan. Not journaled: what it
   * drops is dead at any later time too, and the next snapshot leaves it out.
   */
  #prune(now: number): void {
    if (now - this.#lastPrune < 60_000 || this.#pruning !== undefined) return;
    this.#lastPrune = now;
    this.#pruning = this.#pruneInSlices(now).finally(() => (this.#pruning = undefined));
  }

  async #pruneInSlices(now: number): Promise<void> {
    let visited = 0;
    const breathe = () => (++visited % PRUNE_SLICE === 0 ? new Promise((resolve) => setImmediate(resolve)) : undefined);
    for (const [id, session] of this.#sessions) {
      if (!isLive(session, now, this.lifetimes)) this.#removeSession(id);
      await breathe();
    }
    for (const [jti, denied] of this.#denied) {
      if (now >= denied.expiresAt) this.#denied.delete(jti);
      await breathe();
    }
  }

  /** The state for a snapshot, as references (records are replaced, never changed in place). */
  #capture(): Record<string, readonly unknown[]> {
    return {
      sessions: [...this.#sessions.values()],
      deniedAccessTokens: [...this.#denied.values()],
      clock: [{ latest: this.#latest }],
    };
  }

  /** Loads one item of the snapshot. */
  #load(list: string, item: unknown): void {
    if (list === 'sessions') return this.#addSession(checkSession(item));
    if (list === 'deniedAccessTokens') {
      const denied = checkDenied(item);
      this.#denied.set(denied.jti, denied);
      return;
    }
    const latest = (item as { latest?: unknown } | null)?.latest;
    if (typeof latest !== 'number') throw new Error('the clock needs "latest"');
    this.#latest = Math.max(this.#latest, latest);
  }
}

function toChange(record: JournalRecord): SessionChange {
  if (typeof record.at !== 'number') throw new Error(`a session change needs "at", the time it was made`);
  switch (record.op) {
    case 'start':
      if (!Array.isArray(record.ends)) break;
      return { op: 'start', at: record.at, session: checkSession(record.session), ends: record.ends.map(String) };
    case 'rotate':
      if (typeof record.sessionId !== 'string' || typeof record.generation !== 'number') break;
      return { op: 'rotate', at: record.at, sessionId: record.sessionId, generation: record.generation };
    case 'end': {
      if (!Array.isArray(record.sessionIds)) break;
      const sessionIds = record.sessionIds.map(String);
      return record.denied === undefined ? { op: 'end', at: record.at, sessionIds } : { op: 'end', at: record.at, sessionIds, denied: checkDenied(record.denied) };
    }
  }
  throw new Error(`not a session change: op "${record.op}"`);
}

const SESSION_FIELDS = { id: 'string', userId: 'string', startedAt: 'number', expiresAt: 'number', generation: 'number', rotatedAt: 'number' } as const;

function checkSession(value: unknown): Session {
  for (const [field, type] of Object.entries(SESSION_FIELDS)) {
    if (typeof (value as Record<string, unknown> | null)?.[field] !== type) throw new Error(`a session needs "${field}", a ${type}`);
  }
  return value as Session;
}

function checkDenied(value: unknown): DeniedToken {
  const denied = value as Partial<DeniedToken> | null;
  if (typeof denied?.jti !== 'string' || typeof denied.expiresAt !== 'number') throw new Error('a denied token needs "jti" and "expiresAt"');
  return denied as DeniedToken;
}
