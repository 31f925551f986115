/**
 * A session's life in cookies, with no HTTP in it: who a request's access cookie belongs to, and the
 * cookies that start, refresh and end a session. The routes in `../routes.ts` only translate to and
 * from HTTP; what presenting a refresh token does is decided in `rules.ts`.
 */
import type { User, UserStore } from '../accounts/store.ts';
import { RefreshError } from '../errors.ts';
import { isExpiredTokenError, type AccessClaims, type AccessTokens } from './access_tokens.ts';
import { ACCESS_COOKIE, CLEAR_ACCESS_COOKIE, CLEAR_REFRESH_COOKIE, accessCookie, readSessionCookie, refreshCookie } from './cookies.ts';
import type { IssuedRefresh } from './rules.ts';
import type { SessionStore } from './store.ts';

/** Why a request is not signed in; each has its own message on the 401. */
export type AuthFailure = 'missing' | 'expired' | 'invalid' | 'signed-out';

export const AUTH_FAILURE_MESSAGES: Readonly<Record<AuthFailure, string>> = {
  missing: 'You are not signed in: no session cookie was sent',
  expired: 'Your session has expired: sign in again',
  invalid: 'Your session cookie is not valid: sign in again',
  'signed-out': 'This session was signed out: sign in again',
};

export type Authentication = { user: User; claims: AccessClaims } | { failure: AuthFailure };

/** What the session rules use: the access tokens, the session store, and the users they name. */
export interface SessionServices {
  readonly tokens: AccessTokens;
  readonly sessions: SessionStore;
  readonly users: Pick<UserStore, 'findById'>;
}

/**
 * Who sent this request, judged only by the `__Host-jwt` cookie: never a token from the URL (it would
 * end up in logs and Referer headers) or an `Authorization` header (not what this flow sets).
 */
export async function authenticate(services: SessionServices, cookieHeader: string | undefined): Promise<Authentication> {
  const token = readSessionCookie(cookieHeader, ACCESS_COOKIE);
  if (token === undefined) return { failure: 'missing' };
  let claims: AccessClaims;
  try {
    claims = await services.tokens.verify(token);
  } catch (error) {
    return { failure: isExpiredTokenError(error) ? 'expired' : 'invalid' };
  }
  // The deny list refuses the very token that logged out; the session check ends every other token of
  // that session too (another tab's, or a thief's after reuse detection). See docs/http.md.
  if (services.sessions.isDenied(claims.jti) || !services.sessions.isActive(claims.sid)) return { failure: 'signed-out' };
  const user = await services.users.findById(claims.sub);
  if (user === undefined) return { failure: 'invalid' }; // a good signature for a user that is gone
  return { user, claims };
}

/** The Set-Cookie values for a new session: a new access token and a new refresh-token family. */
export async function startSession(services: SessionServices, user: User): Promise<string[]> {
  return sessionCookies(services, await services.sessions.start(user.id));
}

/**
 * Rotates a refresh token and returns fresh cookies; throws `RefreshError` when the session is over.
 */
export async function refreshSession(services: SessionServices, refreshToken: string): Promise<string[]> {
  const issued = await services.sessions.rotate(refreshToken);
  if ((await services.users.findById(issued.userId)) === undefined) throw new RefreshError('unknown');
  return sessionCookies(services, issued);
}

async function sessionCookies(services: SessionServices, refresh: IssuedRefresh): Promise<string[]> {
  const access = await services.tokens.issue(refresh.userId, refresh.sessionId);
  return [accessCookie(access.token, services.tokens.lifetimeSeconds), refreshCookie(refresh.refreshToken, refresh.maxAgeSeconds)];
}

/**
 * Ends the session the access cookie belongs to. The browser never sends the refresh cookie here
 * (its Path is /refresh), so the session is found from the access token's `sid` claim; an expired but
 * authentic token is good enough to say which session to end. Returns the cookies that clear both.
 */
export async function endSession(services: SessionServices, cookieHeader: string | undefined): Promise<string[]> {
  const token = readSessionCookie(cookieHeader, ACCESS_COOKIE);
  if (token !== undefined) {
    const claims = await services.tokens.verifyAllowingExpired(token).catch(() => undefined);
    if (claims !== undefined) await services.sessions.end(claims.sid, claims);
  }
  return [CLEAR_ACCESS_COOKIE, CLEAR_REFRESH_COOKIE];
}
