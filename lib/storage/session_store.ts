/**
 * Sessions: rotating refresh tokens grouped in families, and the deny list of logged-out access
 * tokens, kept in `DATA_DIR/sessions.json` the same durable, group-committed way as the users.
 *
 * A refresh token is 256 random bits handed to the browser; only its SHA-256 is stored, so a copy of
 * the file opens no session. (A slow hash like argon2 is for guessable passwords; nobody can guess
 * 256 random bits.)
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Clock } from '../support/clock.ts';
import { CorruptFileError, DurableFile, type FileSystem } from './durable_file.ts';

const DAY = 24 * 60 * 60 * 1000;

export interface SessionLifetimes {
  /** How long a refresh token lasts after it is issued. */
  refreshMs: number;
  /** The absolute limit of a session from its login, however often it is refreshed. */
  sessionMs: number;
  /** How long after a rotation the old token still yields the same successor (two tabs racing). */
  graceMs: number;
}

/**
 * Spent (rotated) refresh tokens remembered per session, so that a replay of one is recognised as
 * reuse. Older ones are forgotten, which keeps a session's records bounded however often it refreshes;
 * a replay of a forgotten token is still refused, only as unknown rather than as reuse.
 */
const SPENT_TOKENS_KEPT = 8;

/** Live sessions one user may hold; a login past it ends the user's oldest session. */
export const MAX_SESSIONS_PER_USER = 10;

export const DEFAULT_LIFETIMES: SessionLifetimes = Object.freeze({ refreshMs: 7 * DAY, sessionMs: 30 * DAY, graceMs: 10_000 });

/** How a refresh failed; each ends in a 401 that sends the user to log in. */
export type RefreshFailure = 'unknown' | 'expired' | 'reused';

export class RefreshError extends Error {
  override readonly name = 'RefreshError';
  readonly code = 'ERR_REFRESH';
  readonly reason: RefreshFailure;
  constructor(reason: RefreshFailure) {
    super(`Cannot refresh: the refresh token is ${reason}`);
    this.reason = reason;
  }
}

interface Family {
  id: string;
  userId: string;
  /** The absolute end of the session (ms since the epoch). */
  expiresAt: number;
}

interface RefreshRecord {
  /** SHA-256 of the token, hex. */
  hash: string;
  familyId: string;
  expiresAt: number;
  /** When it was exchanged for its successor; presenting it again after the grace window is reuse
   *  once that successor has been exchanged in turn. */
  rotatedAt?: number;
}

interface DeniedToken {
  jti: string;
  /** The access token's own expiry (ms): past it, the token is dead anyway and the entry is pruned. */
  expiresAt: number;
}

interface SessionFile {
  version: 1;
  families: Family[];
  refreshTokens: RefreshRecord[];
  deniedAccessTokens: DeniedToken[];
}

export interface SessionStoreOptions {
  /** Keys the derivation of successor tokens; the JWT secret serves, with its own label. */
  secret: Uint8Array;
  clock: Clock;
  lifetimes?: SessionLifetimes;
  fs?: FileSystem;
}

/** What a login or a refresh hands out: the session it belongs to and the refresh token to set. */
export interface IssuedRefresh {
  userId: string;
  sessionId: string;
  refreshToken: string;
  /** Seconds until the refresh token expires: the cookie's Max-Age. */
  maxAgeSeconds: number;
}

/**
 * What the session rules need from a session store. Writes are asynchronous and resolve once stored;
 * the two checks made on every authenticated request are synchronous, answered from memory, so that
 * verifying an access token never waits on a disk or a database.
 */
export interface SessionStore {
  readonly lifetimes: SessionLifetimes;
  /** Starts a new session (a new refresh-token family) for a user who just proved who they are. */
  start(userId: string): Promise<IssuedRefresh>;
  /** Exchanges a refresh token for its successor; rejects with `RefreshError` when the session is over. */
  rotate(refreshToken: string): Promise<IssuedRefresh>;
  /** Ends a session and denies the access token that asked, until that token's own expiry. */
  end(sessionId: string, accessToken: { jti: string; exp: number }): Promise<void>;
  /** True when this access token was logged out. */
  isDenied(jti: string): boolean;
  /** True while the session an access token belongs to goes on. */
  isActive(sessionId: string): boolean;
  /** The session a refresh token was issued for (spent or not), if known: what /refresh is limited by. */
  sessionOf(refreshToken: string): string | undefined;
  /** Resolves when every pending write is stored. */
  flush(): Promise<void>;
}

export class JsonSessionStore implements SessionStore {
  readonly lifetimes: SessionLifetimes;
  readonly #families = new Map<string, Family>();
  readonly #tokens = new Map<string, RefreshRecord>();
  /** Each family's token hashes in the order they were issued; the last is the one in use. */
  readonly #familyTokens = new Map<string, string[]>();
  /** Each user's sessions (family ids) in the order they started, for the cap in `start`. */
  readonly #userFamilies = new Map<string, string[]>();
  readonly #denied = new Map<string, DeniedToken>();
  readonly #secret: Uint8Array;
  readonly #clock: Clock;
  readonly #file: DurableFile;
  #lastPrune = 0;

  private constructor(dataDir: string, options: SessionStoreOptions) {
    this.#secret = options.secret;
    this.#clock = options.clock;
    this.lifetimes = options.lifetimes ?? DEFAULT_LIFETIMES;
    this.#file = new DurableFile(path.join(dataDir, 'sessions.json'), () => this.#serialize(), options.fs);
  }

  static async open(dataDir: string, options: SessionStoreOptions): Promise<JsonSessionStore> {
    const store = new JsonSessionStore(dataDir, options);
    const data = await store.#file.read();
    if (data !== undefined) store.#load(data);
    return store;
  }

  /** Starts a new session (a new refresh-token family) for a user who just proved who they are. */
  async start(userId: string): Promise<IssuedRefresh> {
    const now = this.#clock();
    this.#prune(now);
    const family: Family = { id: randomUUID(), userId, expiresAt: now + this.lifetimes.sessionMs };
    const refreshToken = randomBytes(32).toString('base64url');
    const record = this.#newRecord(refreshToken, family, now);
    this.#addFamily(family);
    this.#addRecord(record);
    // Past the cap, the user's oldest sessions end, so sessions cannot pile up without bound (OWASP
    // Session Management Cheat Sheet, "Simultaneous Session Logons"). Should the write fail, they stay
    // ended: ending a session is the safe direction.
    const userFamilies = this.#userFamilies.get(userId) ?? [];
    for (const oldest of userFamilies.slice(0, -MAX_SESSIONS_PER_USER)) this.#deleteFamily(oldest);
    await this.#commit(() => this.#deleteFamily(family.id));
    return { userId, sessionId: family.id, refreshToken, maxAgeSeconds: secondsUntil(record.expiresAt, now) };
  }

  /**
   * Exchanges a refresh token for its successor (RFC 9700 §4.14.2, refresh token rotation). A token
   * presented again once its successor has been used means two parties hold it, one of them a thief:
   * the whole family is revoked, and both must log in again. Within the grace window the same
   * successor is returned instead, because two tabs that refresh at once are not an attack.
   *
   * A rotated token whose successor was never used gets that successor again, however late: the answer
   * that carried it may never have arrived (a connection that dropped, a popup another site opened on
   * /refresh and closed at once), and that must not end the session. Retiring the unused successor
   * and issuing a fresh one would come to the same thing: successors are derived from the token they
   * replace (`#successorOf`), so the fresh one would be this very token (it keeps the expiry it was
   * issued with). Nobody has used it, or it would be marked rotated. If a thief holds the old token
   * too, the two share the successor from here on; as soon as either is two refreshes ahead, the
   * other's next refresh presents a token whose successor was used, and the family is revoked.
   */
  async rotate(refreshToken: string): Promise<IssuedRefresh> {
    const now = this.#clock();
    this.#prune(now);
    const record = this.#tokens.get(sha256(refreshToken));
    const family = record && this.#families.get(record.familyId);
    if (record === undefined || family === undefined) throw new RefreshError('unknown');
    if (now >= record.expiresAt || now >= family.expiresAt) throw new RefreshError('expired');

    const successor = this.#successorOf(refreshToken);
    if (record.rotatedAt !== undefined) {
      const issued = this.#tokens.get(sha256(successor));
      // A successor no longer stored was forgotten as spent (`#forgetOldSpentTokens`): used, too.
      const successorUsed = issued === undefined || issued.rotatedAt !== undefined;
      if (successorUsed && now - record.rotatedAt > this.lifetimes.graceMs) {
        this.#deleteFamily(family.id);
        await this.#file.commit();
        throw new RefreshError('reused');
      }
      // The rotation that made the successor may still be on its way to the disk: wait for it, so this
      // answer, too, hands out only a token that is stored.
      await this.#file.commit();
      const next = this.#tokens.get(sha256(successor));
      if (next === undefined) throw new RefreshError('unknown');
      return { userId: family.userId, sessionId: family.id, refreshToken: successor, maxAgeSeconds: secondsUntil(next.expiresAt, now) };
    }

    const next = this.#newRecord(successor, family, now);
    record.rotatedAt = now;
    this.#addRecord(next);
    this.#forgetOldSpentTokens(family.id);
    await this.#commit(() => {
      delete record.rotatedAt;
      this.#tokens.delete(next.hash);
      this.#familyTokens.get(family.id)?.pop();
    });
    return { userId: family.userId, sessionId: family.id, refreshToken: successor, maxAgeSeconds: secondsUntil(next.expiresAt, now) };
  }

  /**
   * Logs a session out: its refresh tokens are forgotten, and the access token that asked is denied
   * until its own expiry, so replaying it opens nothing even though its signature is still good.
   */
  async end(sessionId: string, accessToken: { jti: string; exp: number }): Promise<void> {
    const now = this.#clock();
    this.#prune(now);
    this.#deleteFamily(sessionId);
    if (accessToken.exp * 1000 > now) this.#denied.set(accessToken.jti, { jti: accessToken.jti, expiresAt: accessToken.exp * 1000 });
    await this.#file.commit();
  }

  /** True when this access token was logged out. Called on every authenticated request. */
  isDenied(jti: string): boolean {
    return this.#denied.has(jti);
  }

  /**
   * True while the session an access token belongs to goes on: not logged out, not revoked for a
   * reused refresh token, not past its absolute limit. Called on every authenticated request, so
   * ending a session ends every access token of it at once, not when each one expires.
   */
  isActive(sessionId: string): boolean {
    const family = this.#families.get(sessionId);
    return family !== undefined && this.#clock() < family.expiresAt;
  }

  sessionOf(refreshToken: string): string | undefined {
    return this.#tokens.get(sha256(refreshToken))?.familyId;
  }

  flush(): Promise<void> {
    return this.#file.flush();
  }

  /**
   * A successor is derived from the token it replaces (HMAC with a labelled key), not drawn at random,
   * so a second request racing with the same old token gets the very same successor: nothing but the
   * old token's hash needs remembering, and a restart in between changes nothing.
   */
  #successorOf(refreshToken: string): string {
    return createHmac('sha256', this.#secret).update(`refresh-token-successor:${refreshToken}`).digest('base64url');
  }

  #newRecord(refreshToken: string, family: Family, now: number): RefreshRecord {
    const expiresAt = Math.min(now + this.lifetimes.refreshMs, family.expiresAt);
    return { hash: sha256(refreshToken), familyId: family.id, expiresAt };
  }

  #addRecord(record: RefreshRecord): void {
    this.#tokens.set(record.hash, record);
    const hashes = this.#familyTokens.get(record.familyId);
    if (hashes === undefined) this.#familyTokens.set(record.familyId, [record.hash]);
    else hashes.push(record.hash);
  }

  #forgetOldSpentTokens(familyId: string): void {
    const hashes = this.#familyTokens.get(familyId) ?? [];
    while (hashes.length > SPENT_TOKENS_KEPT + 1) this.#tokens.delete(hashes.shift()!);
  }

  #addFamily(family: Family): void {
    this.#families.set(family.id, family);
    const ids = this.#userFamilies.get(family.userId);
    if (ids === undefined) this.#userFamilies.set(family.userId, [family.id]);
    else ids.push(family.id);
  }

  #deleteFamily(familyId: string): void {
    const family = this.#families.get(familyId);
    if (family !== undefined) {
      const remaining = (this.#userFamilies.get(family.userId) ?? []).filter((id) => id !== familyId);
      if (remaining.length === 0) this.#userFamilies.delete(family.userId);
      else this.#userFamilies.set(family.userId, remaining);
    }
    this.#families.delete(familyId);
    for (const hash of this.#familyTokens.get(familyId) ?? []) this.#tokens.delete(hash);
    this.#familyTokens.delete(familyId);
  }

  /** Commits, or undoes the in-memory change and rethrows so nothing unstored is acknowledged. */
  async #commit(undo: () => void): Promise<void> {
    try {
      await this.#file.commit();
    } catch (error) {
      undo();
      throw error;
    }
  }

  /** Drops what has expired, at most once a minute so the scan stays off the hot path. */
  #prune(now: number): void {
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    for (const [hash, record] of this.#tokens) if (now >= record.expiresAt) this.#tokens.delete(hash);
    for (const [id, family] of this.#families) {
      const live = (this.#familyTokens.get(id) ?? []).filter((hash) => this.#tokens.has(hash));
      if (now >= family.expiresAt || live.length === 0) this.#deleteFamily(id);
      else this.#familyTokens.set(id, live);
    }
    for (const [jti, denied] of this.#denied) if (now >= denied.expiresAt) this.#denied.delete(jti);
  }

  #serialize(): string {
    const data: SessionFile = {
      version: 1,
      families: [...this.#families.values()],
      refreshTokens: [...this.#tokens.values()],
      deniedAccessTokens: [...this.#denied.values()],
    };
    return JSON.stringify(data);
  }

  #load(data: unknown): void {
    const file = (data ?? {}) as Partial<SessionFile>;
    if (!Array.isArray(file.families) || !Array.isArray(file.refreshTokens) || !Array.isArray(file.deniedAccessTokens)) {
      throw new CorruptFileError(`Cannot start: ${this.#file.path} is not a sessions file`);
    }
    for (const family of file.families) this.#addFamily(family); // in the order they started
    for (const record of file.refreshTokens) this.#addRecord(record); // the file keeps them in issue order
    for (const denied of file.deniedAccessTokens) this.#denied.set(denied.jti, denied);
  }
}

function secondsUntil(time: number, now: number): number {
  return Math.floor((time - now) / 1000);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
