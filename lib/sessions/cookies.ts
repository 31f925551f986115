/**
 * The two cookies that carry a session, and how each is set and cleared.
 */
import { getCookieValues, serializeSetCookie, type CookieAttributes } from '../http/cookies.ts';

/**
 * The access JWT. `__Host-` makes the browser insist on Secure, Path=/ and no Domain, so no sibling
 * subdomain can plant or overwrite it. HttpOnly keeps it out of reach of page script (an XSS cannot
 * read it). SameSite=Lax: sent on top-level navigations, including the GET that follows our 303 and a
 * link from another site (Strict would make such a link arrive signed out), but never on a cross-site
 * POST, fetch or frame: the browser's own first line against CSRF.
 */
export const ACCESS_COOKIE = '__Host-jwt';
export const ACCESS_COOKIE_ATTRIBUTES = { path: '/', httpOnly: true, secure: true, sameSite: 'Lax' } as const;

/**
 * The refresh token. Path=/session: the browser sends it to the session's own requests (the refresh,
 * the sign-out and the sign-out everywhere of `../routes.ts`, all under /session/) and to nothing else,
 * so the long-lived credential does not ride along on every request, yet sign-out always sees it, even
 * once the access cookie has expired. `__Secure-` rather than `__Host-`, because `__Host-` demands
 * Path=/.
 *
 * SameSite=Strict: no request another site starts carries it, not even a top-level navigation (a link,
 * a popup), so no page elsewhere can rotate or end a session. A browser that arrives from another site
 * with its access token expired is moved on by a same-origin step (see the refresh route).
 */
export const REFRESH_COOKIE = '__Secure-refresh';
export const REFRESH_COOKIE_PATH = '/session';
const REFRESH_ATTRIBUTES = { path: REFRESH_COOKIE_PATH, httpOnly: true, secure: true, sameSite: 'Strict' } as const;

/** Max-Age equals the token's own lifetime, so the browser drops the cookie when the token dies. */
export function accessCookie(token: string, maxAgeSeconds: number): string {
  return serializeSetCookie(ACCESS_COOKIE, token, { ...ACCESS_COOKIE_ATTRIBUTES, maxAge: maxAgeSeconds });
}

export function refreshCookie(token: string, maxAgeSeconds: number): string {
  return serializeSetCookie(REFRESH_COOKIE, token, { ...REFRESH_ATTRIBUTES, maxAge: maxAgeSeconds });
}

/**
 * A cookie is only replaced (here: deleted with Max-Age=0) by one with the same name, Domain and
 * Path; the other attributes are repeated so a `__Host-` cookie still passes the prefix rules.
 */
function clearing(name: string, attributes: Omit<CookieAttributes, 'maxAge'>): string {
  return serializeSetCookie(name, '', { ...attributes, maxAge: 0 });
}

export const CLEAR_ACCESS_COOKIE = clearing(ACCESS_COOKIE, ACCESS_COOKIE_ATTRIBUTES);
export const CLEAR_REFRESH_COOKIE = clearing(REFRESH_COOKIE, REFRESH_ATTRIBUTES);

/**
 * The one value sent under `name`. Two values mean a second cookie of that name reached us (tossed in
 * from a sibling host, or set with another path): rather than guess which is ours, treat it as absent.
 */
export function readSessionCookie(cookieHeader: string | undefined, name: string): string | undefined {
  const values = getCookieValues(cookieHeader, name);
  return values.length === 1 ? values[0] : undefined;
}
