/**
 * A session's life in cookies, with no HTTP in it: who a request's access cookie belongs to, and the
 * cookies that start, refresh and end a session. The routes in `../routes.ts` only translate to and
 * from HTTP; what presenting a refresh token does is decided in `rules.ts`.
 */
import type { User, UserStore } from '../accounts/store.ts';
import { NotSignedInError, RefreshError } from '../errors.ts';
import { isExpiredTokenError, type AccessClaims, type AccessTokens } from './access_tokens.ts';
import { ACCESS_COOKIE, CLEAR_ACCESS_COOKIE, CLEAR_REFRESH_COOKIE, REFRESH_COOKIE, accessCookie, readSessionCookie, refreshCookie } from './cookies.ts';
import type { RefreshTokens } from './refresh_tokens.ts';
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

/** What the session rules use: the access and refresh tokens, the session store, and the users they name. */
export interface SessionServices {
  readonly tokens: AccessTokens;
  readonly refreshTokens: RefreshTokens;
  readonly sessions: SessionStore;
  readonly users: Pick<UserStore, 'findById' | 'forgetDevices'>;
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

/** The Set-Cookie values for a new session: a new access token and its first refresh token. */
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
 * Ends the session the request's cookies name, and returns the cookies that clear both. The refresh
 * cookie reaches sign-out (its Path covers it), so this works once the browser has dropped an expired
 * access cookie too; an expired but authentic access token is good enough as well. Either names its
 * session only when this server issued it (a signature, an HMAC): a stranger who knows a session id
 * cannot end it. The access token is denied until its own expiry.
 */
export async function endSession(services: SessionServices, cookieHeader: string | undefined): Promise<string[]> {
  const access = await authenticAccessClaims(services, cookieHeader);
  const refresh = services.refreshTokens.read(readSessionCookie(cookieHeader, REFRESH_COOKIE));
  const sessionIds = [...new Set([access?.sid, refresh?.sessionId])].filter((id) => id !== undefined);
  if (sessionIds.length > 0) await services.sessions.end(sessionIds, access);
  return [CLEAR_ACCESS_COOKIE, CLEAR_REFRESH_COOKIE];
}

/**
 * Ends every session of the signed-in user, and returns the cookies that clear both. Signed in means
 * a valid access token; once the browser has dropped that, the refresh token is exchanged as a refresh
 * would (the current one, or the one just replaced): proof enough, and a replaced one ends its session
 * as it would there. Throws `NotSignedInError` (or `RefreshError`) when the request proves no session.
 */
export async function endEverySession(services: SessionServices, cookieHeader: string | undefined): Promise<string[]> {
  const auth = await authenticate(services, cookieHeader);
  let userId: string;
  if ('user' in auth) {
    userId = auth.user.id;
    await services.sessions.endAll(userId, auth.claims);
  } else {
    const refreshToken = readSessionCookie(cookieHeader, REFRESH_COOKIE);
    if (refreshToken === undefined) throw new NotSignedInError(AUTH_FAILURE_MESSAGES[auth.failure]);
    userId = (await services.sessions.rotate(refreshToken)).userId;
    await services.sessions.endAll(userId);
  }
  // Everywhere includes the browsers the account trusted: a thief's device cookie loses its own count.
  await services.users.forgetDevices(userId);
  return [CLEAR_ACCESS_COOKIE, CLEAR_REFRESH_COOKIE];
}

/** The claims of the request's access token when it is authentic, expired or not; else undefined. */
function authenticAccessClaims(services: SessionServices, cookieHeader: string | undefined): Promise<AccessClaims | undefined> {
  const token = readSessionCookie(cookieHeader, ACCESS_COOKIE);
  return token === undefined ? Promise.resolve(undefined) : services.tokens.verifyAllowingExpired(token).catch(() => undefined);
}
