/**
 * The session store's interface: what the session rules need from wherever sessions are kept (the
 * embedded journal in `../storage/session_store.ts`, or PostgreSQL). Stores implement it; nothing
 * here knows how.
 */
import type { IssuedRefresh, SessionLifetimes } from './rules.ts';

/**
 * What the session rules need from a session store. Writes are asynchronous and resolve once stored;
 * the two checks made on every authenticated request are synchronous, answered from memory, so that
 * verifying an access token never waits on a disk or a database.
 */
export interface SessionStore {
  readonly lifetimes: SessionLifetimes;
  /** Starts a new session (a new refresh-token family) for a user who just proved who they are; ends the user's oldest beyond `MAX_SESSIONS_PER_USER`. */
  start(userId: string): Promise<IssuedRefresh>;
  /** Exchanges a refresh token for its successor; rejects with `RefreshError` when the session is over. */
  rotate(refreshToken: string): Promise<IssuedRefresh>;
  /** The session a refresh token belongs to, spent or not (the key of the per-session refresh limit). */
  sessionOf(refreshToken: string): string | undefined;
  /** Ends a session and denies the access token that asked, until that token's own expiry. */
  end(sessionId: string, accessToken: { jti: string; exp: number }): Promise<void>;
  /** True when this access token was logged out. */
  isDenied(jti: string): boolean;
  /** True while the session an access token belongs to goes on. */
  isActive(sessionId: string): boolean;
  /** Resolves when every pending write is stored. */
  flush(): Promise<void>;
  /** Stores everything pending, leaves the storage tidy (a snapshot, a closed pool), and refuses writes after. */
  close(): Promise<void>;
}
