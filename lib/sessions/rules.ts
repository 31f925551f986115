/**
 * The session rules, apart from where sessions are kept: what a session is, how long each part lasts,
 * and what presenting a refresh token does. Every `SessionStore` (the journal files, PostgreSQL)
 * decides with these functions, so the rules read the same whatever the storage.
 *
 * A session is all a store keeps: its user, when it started and ends, and the generation of its
 * current refresh token with the time it was issued. The token itself (`refresh_tokens.ts`) is never
 * stored; its HMAC proves it genuine, its generation says whether it is the current one.
 */
import { randomUUID } from 'node:crypto';
import type { RefreshFailure } from '../errors.ts';

const DAY = 24 * 60 * 60 * 1000;

export interface SessionLifetimes {
  /** How long a refresh token lasts after it is issued: a session unrefreshed for this long is over. */
  refreshMs: number;
  /** The absolute limit of a session from its login, however often it is refreshed. */
  sessionMs: number;
  /** How long after a rotation the token it replaced still yields the same successor (two tabs, a retried request). */
  retryMs: number;
}

export const DEFAULT_LIFETIMES: SessionLifetimes = Object.freeze({ refreshMs: 7 * DAY, sessionMs: 30 * DAY, retryMs: 10_000 });

/**
 * Live sessions per user. A login beyond it ends the user's oldest session, so that a script logging in
 * in a loop cannot grow the store without bound (OWASP Session Management Cheat Sheet: limit
 * simultaneous sessions), while a person with a few browsers and devices never notices.
 */
export const MAX_SESSIONS_PER_USER = 10;

/** A session, as every store keeps it (times in ms since the epoch). */
export interface Session {
  /** The JWT's `sid`. */
  readonly id: string;
  readonly userId: string;
  readonly startedAt: number;
  /** The absolute end, `sessionMs` after the start. */
  readonly expiresAt: number;
  /** The generation of the current refresh token: 0 at login, one more at each rotation. */
  readonly generation: number;
  /** When the current refresh token was issued: the last rotation, or the start. */
  readonly rotatedAt: number;
}

/** A logged-out access token, refused until its own expiry (ms), when it is dead anyway and forgotten. */
export interface DeniedToken {
  readonly jti: string;
  readonly expiresAt: number;
}

/** What a login or a refresh hands out: the session it belongs to and the refresh token to set. */
export interface IssuedRefresh {
  userId: string;
  sessionId: string;
  refreshToken: string;
  /** Seconds the refresh cookie lives: the cookie's Max-Age. */
  maxAgeSeconds: number;
}

export function newSession(userId: string, now: number, lifetimes: SessionLifetimes): Session {
  return { id: randomUUID(), userId, startedAt: now, expiresAt: now + lifetimes.sessionMs, generation: 0, rotatedAt: now };
}

/** The session once its current token is replaced by the next generation, now. */
export function rotated(session: Session, now: number): Session {
  return { ...session, generation: session.generation + 1, rotatedAt: now };
}

/**
 * Whether a session goes on: before its absolute limit, and while its current refresh token is still
 * valid (once that has expired, nothing can continue the session, and an access token never outlives it).
 */
export function isLive(session: Session, now: number, lifetimes: SessionLifetimes): boolean {
  return now < session.expiresAt && now < session.rotatedAt + lifetimes.refreshMs;
}

/** What presenting a refresh token does. */
export type RefreshVerdict =
  | { readonly kind: 'refuse'; readonly reason: Exclude<RefreshFailure, 'reused'> }
  /** The current token: exchange it for the next generation. */
  | { readonly kind: 'rotate' }
  /** The token just replaced, within the retry window: the current token again. */
  | { readonly kind: 'repeat' }
  /** Any other token genuinely issued for the session: two parties hold it, end the session. */
  | { readonly kind: 'end' };

/**
 * Refresh token rotation with reuse detection (RFC 9700 §4.14.2), the table of
 * docs/session-lifecycle.md. `generation` is what a genuine token says (undefined when its HMAC did not
 * verify), `session` the live state of the session it names (undefined when there is none).
 *
 * A replaced token means two parties hold the session, one of them perhaps a thief, and the server
 * cannot tell which: the session ends, however long ago the token was replaced. The one exception is
 * the token replaced last, within `retryMs` of its replacement: a second tab that sent the same
 * cookie, or a request retried after its answer was lost, gets the current token again.
 */
export function judgeRefresh(generation: number | undefined, session: Session | undefined, now: number, lifetimes: SessionLifetimes): RefreshVerdict {
  // Never issued: a generation the session has not reached, or no session. Nothing may end on its say.
  if (generation === undefined || session === undefined || generation > session.generation) return { kind: 'refuse', reason: 'unknown' };
  if (!isLive(session, now, lifetimes)) return { kind: 'refuse', reason: 'expired' };
  if (generation === session.generation) return { kind: 'rotate' };
  if (generation === session.generation - 1 && now - session.rotatedAt <= lifetimes.retryMs) return { kind: 'repeat' };
  return { kind: 'end' };
}

/**
 * The refresh cookie's Max-Age for an answer at `now`: the same for a rotation and for a repeat, so
 * the answer does not tell a thief which one it got. (A repeated token's cookie may outlive its
 * server-side expiry by the retry window at most; the server then refuses it as expired.)
 */
export function refreshMaxAge(session: Session, now: number, lifetimes: SessionLifetimes): number {
  return secondsUntil(Math.min(now + lifetimes.refreshMs, session.expiresAt), now);
}

/** The sessions a new login must end so the user keeps at most `MAX_SESSIONS_PER_USER`: the oldest. */
export function sessionsToEnd(liveSessions: readonly Session[]): string[] {
  const excess = liveSessions.length - (MAX_SESSIONS_PER_USER - 1);
  if (excess <= 0) return [];
  return [...liveSessions].sort((a, b) => a.startedAt - b.startedAt).slice(0, excess).map((session) => session.id);
}

export function secondsUntil(time: number, now: number): number {
  return Math.floor((time - now) / 1000);
}
