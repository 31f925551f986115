/**
 * Sessions: rotating refresh tokens grouped in families, and the deny list of logged-out access
 * tokens. The rules are in `../sessions/rules.ts`; this file keeps sessions in memory, for the two checks
 * made on every request, and on disk in `DATA_DIR/sessions.json` plus its journal (see `journal.ts`).
 */
import type { Clock } from '../support/clock.ts';
import type { Logger } from '../support/log.ts';
import type { FileSystem } from './durable_file.ts';
import { Journal, type JournalRecord } from './journal.ts';
import { RefreshError } from '../errors.ts';
import type { SessionStore } from '../sessions/store.ts';
import {
  DEFAULT_LIFETIMES,
  SPENT_TOKENS_KEPT,
  hashToken,
  isLive,
  judgeRefresh,
  newFamily,
  newRefreshToken,
  refreshRecord,
  secondsUntil,
  sessionsToEnd,
  successorOf,
  type DeniedToken,
  type Family,
  type IssuedRefresh,
  type RefreshRecord,
  type SessionLifetimes,
} from '../sessions/rules.ts';

export interface SessionStoreOptions {
  /** Keys the derivation of successor tokens; the JWT secret serves, with its own label. */
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

/** Entries the pruning scan visits per turn of the event loop. */
const PRUNE_SLICE = 2_000;

/** The changes the journal records, one JSON line each. */
type SessionChange =
  /** A login: the new family, its first token, and the user's oldest sessions it ends. */
  | { op: 'start'; family: Family; token: RefreshRecord; ends: string[] }
  /** A refresh: the token exchanged, when, and its successor. */
  | { op: 'rotate'; hash: string; rotatedAt: number; next: RefreshRecord }
  /** A logout (with the access token denied) or a revocation for reuse (without). */
  | { op: 'end'; familyId: string; denied?: DeniedToken };

export class JsonSessionStore implements SessionStore {
  readonly lifetimes: SessionLifetimes;
  readonly #families = new Map<string, Family>();
  readonly #tokens = new Map<string, RefreshRecord>();
  /** Each family's token hashes in the order they were issued; the last is the one in use. */
  readonly #familyTokens = new Map<string, string[]>();
  /** Each user's sessions (a few at most: see `MAX_SESSIONS_PER_USER`). */
  readonly #userFamilies = new Map<string, string[]>();
  readonly #denied = new Map<string, DeniedToken>();
  readonly #secret: Uint8Array;
  readonly #clock: Clock;
  #journal!: Journal;
  #lastPrune: number;
  #pruning: Promise<void> | undefined;

  private constructor(options: SessionStoreOptions) {
    this.#secret = options.secret;
    this.#clock = options.clock;
    this.lifetimes = options.lifetimes ?? DEFAULT_LIFETIMES;
    // Every rule checks expiry itself; pruning only frees memory, so the first one can wait a minute.
    this.#lastPrune = options.clock();
  }

  /** Loads `dataDir/sessions.json` and its journal, or starts empty; throws `CorruptFileError` rather than guess. */
  static async open(dataDir: string, options: SessionStoreOptions): Promise<JsonSessionStore> {
    const store = new JsonSessionStore(options);
    store.#journal = await Journal.open(
      {
        lists: ['families', 'refreshTokens', 'deniedAccessTokens'],
        load: (list, item) => store.#load(list, item),
        replay: (record) => store.#replay(toChange(record)),
        capture: () => store.#capture(),
      },
      { dir: dataDir, name: 'sessions', fs: options.fs, log: options.log, compactAfterBytes: options.compactAfterBytes, expected: options.expected },
    );
    return store;
  }

  /** Sessions held, live or not yet pruned. */
  get size(): number {
    return this.#families.size;
  }

  async start(userId: string): Promise<IssuedRefresh> {
    const now = this.#clock();
    this.#prune(now);
    const family = newFamily(userId, now, this.lifetimes);
    const refreshToken = newRefreshToken();
    const token = refreshRecord(refreshToken, family, now, this.lifetimes);
    const ends = sessionsToEnd(this.#liveSessionsOf(userId, now));
    await this.#commit({ op: 'start', family, token, ends });
    return { userId, sessionId: family.id, refreshToken, maxAgeSeconds: secondsUntil(token.expiresAt, now) };
  }

  async rotate(refreshToken: string): Promise<IssuedRefresh> {
    const now = this.#clock();
    this.#prune(now);
    const presented = this.#tokens.get(hashToken(refreshToken));
    const family = presented && this.#families.get(presented.familyId);
    const successor = successorOf(this.#secret, refreshToken);
    const verdict = judgeRefresh(presented, family, this.#tokens.get(hashToken(successor)), now, this.lifetimes);
    switch (verdict.kind) {
      case 'refuse':
        throw new RefreshError(verdict.reason);
      case 'revoke':
        await this.#commit({ op: 'end', familyId: family!.id });
        throw new RefreshError('reused');
      case 'repeat': {
        // The rotation that made the successor may still be on its way to the disk: wait for it, so this
        // answer, too, hands out only a token that is stored.
        await this.#journal.durable();
        const next = this.#tokens.get(hashToken(successor));
        if (next === undefined) throw new RefreshError('unknown');
        return { userId: family!.userId, sessionId: family!.id, refreshToken: successor, maxAgeSeconds: secondsUntil(next.expiresAt, now) };
      }
      case 'rotate': {
        const next = refreshRecord(successor, family!, now, this.lifetimes);
        await this.#commit({ op: 'rotate', hash: presented!.hash, rotatedAt: now, next });
        // Forgetting old spent tokens is not journaled: a replay of the rotation forgets the same ones.
        this.#forgetOldSpentTokens(family!.id);
        return { userId: family!.userId, sessionId: family!.id, refreshToken: successor, maxAgeSeconds: secondsUntil(next.expiresAt, now) };
      }
    }
  }

  /**
   * Logs a session out: its refresh tokens are forgotten, and the access token that asked is denied
   * until its own expiry, so replaying it opens nothing even though its signature is still good.
   */
  async end(sessionId: string, accessToken: { jti: string; exp: number }): Promise<void> {
    const now = this.#clock();
    this.#prune(now);
    const expiresAt = accessToken.exp * 1000;
    const denied = expiresAt > now ? { jti: accessToken.jti, expiresAt } : undefined;
    if (denied === undefined && !this.#families.has(sessionId)) return this.#journal.durable(); // nothing to store
    await this.#commit(denied === undefined ? { op: 'end', familyId: sessionId } : { op: 'end', familyId: sessionId, denied });
  }

  sessionOf(refreshToken: string): string | undefined {
    return this.#tokens.get(hashToken(refreshToken))?.familyId;
  }

  /** True when this access token was logged out. Called on every authenticated request. */
  isDenied(jti: string): boolean {
    const denied = this.#denied.get(jti);
    return denied !== undefined && this.#clock() < denied.expiresAt;
  }

  /**
   * True while the session an access token belongs to goes on: not logged out, not revoked for a
   * reused refresh token, not ended by a newer login, not past its absolute limit. Called on every
   * authenticated request, so ending a session ends every access token of it at once.
   */
  isActive(sessionId: string): boolean {
    const family = this.#families.get(sessionId);
    return family !== undefined && this.#isLive(family, this.#clock());
  }

  #isLive(family: Family, now: number): boolean {
    const current = this.#familyTokens.get(family.id)?.at(-1);
    return isLive(family, current === undefined ? undefined : this.#tokens.get(current), now);
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

  /** Applies a journaled change at start, as `rotate()` did when it was made. */
  #replay(change: SessionChange): void {
    this.#apply(change);
    if (change.op === 'rotate') this.#forgetOldSpentTokens(change.next.familyId);
  }

  /** Makes the change in memory and journals it; if the write fails, the journal undoes it. */
  #commit(change: SessionChange): Promise<void> {
    return this.#journal.append(change, this.#apply(change));
  }

  /** Applies a change to memory (now, or replayed at start) and returns how to undo it. */
  #apply(change: SessionChange): () => void {
    switch (change.op) {
      case 'start': {
        const undoEnds = change.ends.map((id) => this.#removeFamily(id));
        this.#addFamily(change.family);
        this.#addToken(change.token);
        return () => {
          this.#removeFamily(change.family.id);
          for (const undo of undoEnds.reverse()) undo();
        };
      }
      case 'rotate': {
        const old = this.#tokens.get(change.hash);
        if (old !== undefined) this.#tokens.set(old.hash, { ...old, rotatedAt: change.rotatedAt }); // replaced, never changed in place
        this.#addToken(change.next);
        return () => {
          this.#tokens.delete(change.next.hash);
          const hashes = this.#familyTokens.get(change.next.familyId);
          if (hashes?.at(-1) === change.next.hash) hashes.pop();
          if (old !== undefined && this.#tokens.has(old.hash)) this.#tokens.set(old.hash, old);
        };
      }
      case 'end': {
        const undoRemove = this.#removeFamily(change.familyId);
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

  #addFamily(family: Family): void {
    this.#families.set(family.id, family);
    const ids = this.#userFamilies.get(family.userId);
    if (ids === undefined) this.#userFamilies.set(family.userId, [family.id]);
    else if (!ids.includes(family.id)) ids.push(family.id);
  }

  #addToken(record: RefreshRecord): void {
    this.#tokens.set(record.hash, record);
    const hashes = this.#familyTokens.get(record.familyId);
    if (hashes === undefined) this.#familyTokens.set(record.familyId, [record.hash]);
    else hashes.push(record.hash);
  }

  /** Removes a family with its tokens; returns how to put them back. */
  #removeFamily(familyId: string): () => void {
    const family = this.#families.get(familyId);
    if (family === undefined) return () => {};
    const records = (this.#familyTokens.get(familyId) ?? []).flatMap((hash) => this.#tokens.get(hash) ?? []);
    this.#families.delete(familyId);
    for (const record of records) this.#tokens.delete(record.hash);
    this.#familyTokens.delete(familyId);
    const ids = this.#userFamilies.get(family.userId) ?? [];
    if (ids.includes(familyId)) ids.splice(ids.indexOf(familyId), 1);
    if (ids.length === 0) this.#userFamilies.delete(family.userId);
    return () => {
      this.#addFamily(family);
      for (const record of records) this.#addToken(record);
    };
  }

  #forgetOldSpentTokens(familyId: string): void {
    const hashes = this.#familyTokens.get(familyId) ?? [];
    while (hashes.length > SPENT_TOKENS_KEPT + 1) this.#tokens.delete(hashes.shift()!);
  }

  #liveSessionsOf(userId: string, now: number): Family[] {
    const families: Family[] = [];
    for (const id of this.#userFamilies.get(userId) ?? []) {
      const family = this.#families.get(id);
      if (family !== undefined && this.#isLive(family, now)) families.push(family);
    }
    return families;
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
    for (const [hash, record] of this.#tokens) {
      if (now >= record.expiresAt) this.#tokens.delete(hash);
      await breathe();
    }
    for (const [id, family] of this.#families) {
      const hashes = this.#familyTokens.get(id) ?? [];
      const live = hashes.filter((hash) => this.#tokens.has(hash));
      if (!this.#isLive(family, now)) this.#removeFamily(id);
      else if (live.length !== hashes.length) this.#familyTokens.set(id, live);
      await breathe();
    }
    for (const [jti, denied] of this.#denied) {
      if (now >= denied.expiresAt) this.#denied.delete(jti);
      await breathe();
    }
  }

  /**
   * The state for a snapshot, as references (records are replaced, never changed in place). Tokens are
   * in the order they were issued within each family, which `#apply` and its undo preserve.
   */
  #capture(): Record<string, readonly unknown[]> {
    return {
      families: [...this.#families.values()],
      refreshTokens: [...this.#tokens.values()],
      deniedAccessTokens: [...this.#denied.values()],
    };
  }

  /** Loads one item of the snapshot: the families first, then the tokens (in issue order), then the deny list. */
  #load(list: string, item: unknown): void {
    if (list === 'families') return this.#addFamily(checkFamily(item));
    if (list === 'deniedAccessTokens') {
      const denied = checkDenied(item);
      this.#denied.set(denied.jti, denied);
      return;
    }
    const token = checkToken(item);
    // One string for a family's id, not one per token that names it: 100,000 sessions, 5 MB less.
    const family = this.#families.get(token.familyId);
    if (family !== undefined) (token as { familyId: string }).familyId = family.id; // just parsed: nobody else holds it yet
    this.#addToken(token);
  }
}

function toChange(record: JournalRecord): SessionChange {
  switch (record.op) {
    case 'start':
      if (!Array.isArray(record.ends)) break;
      return { op: 'start', family: checkFamily(record.family), token: checkToken(record.token), ends: record.ends.map(String) };
    case 'rotate':
      if (typeof record.hash !== 'string' || typeof record.rotatedAt !== 'number') break;
      return { op: 'rotate', hash: record.hash, rotatedAt: record.rotatedAt, next: checkToken(record.next) };
    case 'end':
      if (typeof record.familyId !== 'string') break;
      return record.denied === undefined
        ? { op: 'end', familyId: record.familyId }
        : { op: 'end', familyId: record.familyId, denied: checkDenied(record.denied) };
  }
  throw new Error(`not a session change: op "${record.op}"`);
}

function checkFamily(value: unknown): Family {
  const family = value as Partial<Family> | null;
  if (typeof family?.id !== 'string' || typeof family.userId !== 'string' || typeof family.expiresAt !== 'number') {
    throw new Error('a session needs "id", "userId" and "expiresAt"');
  }
  return family as Family;
}

function checkToken(value: unknown): RefreshRecord {
  const record = value as Partial<RefreshRecord> | null;
  if (typeof record?.hash !== 'string' || typeof record.familyId !== 'string' || typeof record.expiresAt !== 'number') {
    throw new Error('a refresh token needs "hash", "familyId" and "expiresAt"');
  }
  return record as RefreshRecord;
}

function checkDenied(value: unknown): DeniedToken {
  const denied = value as Partial<DeniedToken> | null;
  if (typeof denied?.jti !== 'string' || typeof denied.expiresAt !== 'number') throw new Error('a denied token needs "jti" and "expiresAt"');
  return denied as DeniedToken;
}
