/**
 * The session store's interface: what the session rules need from wherever sessions are kept (the
 * embedded journal in `../storage/session_store.ts`, or PostgreSQL). Stores implement it; nothing
 * here knows how.
 */
import type { IssuedRefresh, Session, SessionLifetimes } from './rules.ts';

/** An access token to refuse from now until its own expiry (`exp`, in seconds), as a logout leaves it. */
export interface AccessTokenToDeny {
  readonly jti: string;
  readonly exp: number;
}

/**
 * What the session rules need from a session store. Writes are asynchronous and resolve once stored;
 * the checks made on every authenticated request are synchronous, answered from memory, so that
 * verifying an access token never waits on a disk or a database.
 */
export interface SessionStore {
  readonly lifetimes: SessionLifetimes;
  /** Starts a new session for a user who just proved who they are; ends the user's oldest beyond `MAX_SESSIONS_PER_USER`. */
  start(userId: string): Promise<IssuedRefresh>;
  /** Judges a refresh token (`judgeRefresh`) and acts on it; rejects with `RefreshError` unless it rotates or repeats. */
  rotate(refreshToken: string): Promise<IssuedRefresh>;
  /** Ends sessions (unknown ones quietly), and denies the access token that asked, if any, until its own expiry. */
  end(sessionIds: readonly string[], deny?: AccessTokenToDeny): Promise<void>;
  /** Ends every session of a user, and denies the access token that asked, if any. */
  endAll(userId: string, deny?: AccessTokenToDeny): Promise<void>;
  /** True when this access token was logged out. */
  isDenied(jti: string): boolean;
  /** True while the session an access token belongs to goes on. */
  isActive(sessionId: string): boolean;
  /** A user's live sessions, oldest first. */
  sessionsOf(userId: string): readonly Session[];
  /** Resolves when every pending write is stored. */
  flush(): Promise<void>;
  /** Stores everything pending, leaves the storage tidy (a snapshot, a closed pool), and refuses writes after. */
  close(): Promise<void>;
}
