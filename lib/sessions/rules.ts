/**
 * The session rules, apart from where sessions are kept: what a session is, how long each part lasts,
 * and what presenting a refresh token does. Every `SessionStore` (the journal here, a database next)
 * decides with these functions, so the rules read the same whatever the storage.
 *
 * A refresh token is 256 random bits handed to the browser; only its SHA-256 is stored, so a copy of
 * the store opens no session. (A slow hash like argon2 is for guessable passwords; nobody can guess
 * 256 random bits.)
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { RefreshFailure } from '../errors.ts';

const DAY = 24 * 60 * 60 * 1000;

export interface SessionLifetimes {
  /** How long a refresh token lasts after it is issued. */
  refreshMs: number;
  /** The absolute limit of a session from its login, however often it is refreshed. */
  sessionMs: number;
  /** How long after a rotation the old token still yields the same successor, even once that was used (two tabs racing). */
  graceMs: number;
}

export const DEFAULT_LIFETIMES: SessionLifetimes = Object.freeze({ refreshMs: 7 * DAY, sessionMs: 30 * DAY, graceMs: 10_000 });

/**
 * Spent (rotated) refresh tokens remembered per session, so that a replay of one is recognised as
 * reuse. Older ones are forgotten, which keeps a session's records bounded however often it refreshes;
 * a replay of a forgotten token is still refused, only as unknown rather than as reuse.
 */
export const SPENT_TOKENS_KEPT = 8;

/**
 * Live sessions per user. A login beyond it ends the user's oldest session, so that a script logging in
 * in a loop cannot grow the store without bound (OWASP Session Management Cheat Sheet: limit
 * simultaneous sessions), while a person with a few browsers and devices never notices.
 */
export const MAX_SESSIONS_PER_USER = 10;

/** A session: one family of refresh tokens, each the successor of the one before. */
export interface Family {
  readonly id: string;
  readonly userId: string;
  /** The absolute end of the session (ms since the epoch). */
  readonly expiresAt: number;
}

export interface RefreshRecord {
  /** SHA-256 of the token, hex. */
  readonly hash: string;
  readonly familyId: string;
  readonly expiresAt: number;
  /** When it was exchanged for its successor. */
  readonly rotatedAt?: number;
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
  /** Seconds until the refresh token expires: the cookie's Max-Age. */
  maxAgeSeconds: number;
}

export function newFamily(userId: string, now: number, lifetimes: SessionLifetimes): Family {
  return { id: randomUUID(), userId, expiresAt: now + lifetimes.sessionMs };
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored form of a token issued now: never past its session's end. */
export function refreshRecord(refreshToken: string, family: Family, now: number, lifetimes: SessionLifetimes): RefreshRecord {
  return { hash: hashToken(refreshToken), familyId: family.id, expiresAt: Math.min(now + lifetimes.refreshMs, family.expiresAt) };
}

export function hashToken(refreshToken: string): string {
  return createHash('sha256').update(refreshToken).digest('hex');
}

/**
 * A successor is derived from the token it replaces (HMAC with a labelled key), not drawn at random,
 * so presenting the same old token again yields the very same successor: nothing but the old token's
 * hash needs remembering, and a restart in between changes nothing.
 */
export function successorOf(secret: Uint8Array, refreshToken: string): string {
  return createHmac('sha256', secret).update(`refresh-token-successor:${refreshToken}`).digest('base64url');
}

/** What presenting a refresh token does. */
export type RefreshVerdict =
  | { readonly kind: 'refuse'; readonly reason: Exclude<RefreshFailure, 'reused'> }
  /** A fresh token: exchange it for its successor. */
  | { readonly kind: 'rotate' }
  /** Exchanged before, but not yet a reuse: hand out the same successor again. */
  | { readonly kind: 'repeat' }
  /** Exchanged before and its successor used since: two parties hold the session, end it. */
  | { readonly kind: 'revoke' };

/**
 * Refresh token rotation with reuse detection (RFC 9700 §4.14.2). `presented` is the record of the token
 * presented, `successor` the record of the token derived from it, if any.
 *
 * A token presented again after it was rotated means two parties hold it, one of them perhaps a thief:
 * the whole family is revoked and both must log in again. But only once its successor was itself
 * presented: until then the second presentation may be the same client, whose answer carrying the
 * successor never arrived (a cut connection, a closed tab: an aborted exchange). It gets that same
 * successor again, however late; whoever holds it can only use it once. And within the grace window
 * after the rotation, the same successor is returned even if it was used, because two tabs refreshing
 * at once are not an attack.
 */
export function judgeRefresh(
  presented: RefreshRecord | undefined,
  family: Family | undefined,
  successor: RefreshRecord | undefined,
  now: number,
  lifetimes: SessionLifetimes,
): RefreshVerdict {
  if (presented === undefined || family === undefined) return { kind: 'refuse', reason: 'unknown' };
  if (now >= presented.expiresAt || now >= family.expiresAt) return { kind: 'refuse', reason: 'expired' };
  if (presented.rotatedAt === undefined) return { kind: 'rotate' };
  // A successor already forgotten was used: tokens are only forgotten as newer ones are spent.
  const successorUsed = successor === undefined || successor.rotatedAt !== undefined;
  if (!successorUsed || now - presented.rotatedAt <= lifetimes.graceMs) return { kind: 'repeat' };
  return { kind: 'revoke' };
}

/**
 * Whether a session goes on: before its absolute limit, and while its newest refresh token can still be
 * used (once that has expired, nothing can continue the session, and an access token never outlives it).
 */
export function isLive(family: Family, currentToken: RefreshRecord | undefined, now: number): boolean {
  return currentToken !== undefined && now < family.expiresAt && now < currentToken.expiresAt;
}

/** The sessions a new login must end so the user keeps at most `MAX_SESSIONS_PER_USER`: the oldest. */
export function sessionsToEnd(liveSessions: readonly Family[]): string[] {
  const excess = liveSessions.length - (MAX_SESSIONS_PER_USER - 1);
  if (excess <= 0) return [];
  return [...liveSessions].sort((a, b) => a.expiresAt - b.expiresAt).slice(0, excess).map((family) => family.id);
}

export function secondsUntil(time: number, now: number): number {
  return Math.floor((time - now) / 1000);
}
