/**
 * Checks a `Set-Cookie` value against the rules this project promises for its cookies (RFC 6265bis,
 * draft-ietf-httpbis-rfc6265bis), so a test or the development server catches a broken cookie before a
 * browser silently ignores it or, worse, accepts a weaker one.
 */
import { ACCESS_COOKIE, REFRESH_COOKIE, REFRESH_COOKIE_PATH } from '../sessions/cookies.ts';
import { DEVICE_COOKIE, DEVICE_COOKIE_PATH } from './device_cookie.ts';
import { parseSetCookie } from '../http/cookies.ts';
import type { Hook } from '../http/listener.ts';
import type { Logger } from '../support/log.ts';

/** One broken rule: a stable `rule` to branch on, and a message to show. */
export interface CookieViolation {
  readonly rule: CookieRule;
  readonly message: string;
}

export type CookieRule =
  | 'syntax'
  | 'host-prefix'
  | 'secure-prefix'
  | 'secure'
  | 'http-only'
  | 'same-site'
  | 'size'
  | 'max-age-token'
  | 'max-age-limit'
  | 'clear-path';

export interface CookieLintOptions {
  /**
   * The Path each cookie name is set with, so a clearing cookie (Max-Age=0) can be checked against
   * it: a browser only replaces a cookie of the same name, Domain and Path. Defaults to this
   * project's cookies.
   */
  paths?: Readonly<Record<string, string>>;
  /** The lifetime of an opaque token in the value, in seconds; a JWT's own `exp - iat` is read from it. */
  tokenLifetimeSeconds?: number;
}

/** The project's cookies (the two session cookies and the device cookie) and the one Path each lives on. */
export const SESSION_COOKIE_PATHS: Readonly<Record<string, string>> = Object.freeze({
  [ACCESS_COOKIE]: '/',
  [REFRESH_COOKIE]: REFRESH_COOKIE_PATH,
  [DEVICE_COOKIE]: DEVICE_COOKIE_PATH,
});

/** Browsers cap a cookie's lifetime at 400 days (RFC 6265bis §4.1.2.2). */
export const MAX_COOKIE_AGE_SECONDS = 400 * 24 * 60 * 60;

/** Browsers ignore a cookie whose name and value together exceed 4096 bytes (RFC 6265bis §5.6). */
export const MAX_NAME_VALUE_BYTES = 4096;

/** Every rule `setCookie` breaks; an empty list means it is a cookie this project would send. */
export function lintSetCookie(setCookie: string, options: CookieLintOptions = {}): CookieViolation[] {
  const cookie = parseSetCookie(setCookie);
  if (cookie === undefined || cookie.name === '') {
    return [{ rule: 'syntax', message: 'Cannot read Set-Cookie: it starts with no name=value pair' }];
  }
  const { name, value, attributes } = cookie;
  const violations: CookieViolation[] = [];
  const fail = (rule: CookieRule, message: string) => violations.push({ rule, message: `${name}: ${message}` });
  const path = attributes.get('path');
  const maxAge = attributes.has('max-age') ? Number(attributes.get('max-age')) : undefined;

  // Prefixes (§4.1.3): the browser refuses the cookie outright when these do not hold.
  const prefixed = name.startsWith('__Host-') || name.startsWith('__Secure-');
  if (name.startsWith('__Host-')) {
    if (!attributes.has('secure')) fail('host-prefix', 'the __Host- prefix requires Secure');
    if (path !== '/') fail('host-prefix', `the __Host- prefix requires Path=/, got ${path === undefined ? 'no Path' : `Path=${path}`}`);
    if (attributes.has('domain')) fail('host-prefix', 'the __Host- prefix forbids Domain');
  }
  if (name.startsWith('__Secure-') && !attributes.has('secure')) fail('secure-prefix', 'the __Secure- prefix requires Secure');

  // What every cookie of ours carries (a prefixed cookie without Secure was reported just above).
  if (!attributes.has('secure') && !prefixed) fail('secure', 'Secure is missing: the cookie could travel over plain HTTP');
  if (!attributes.has('httponly')) fail('http-only', 'HttpOnly is missing: page script (and so an XSS) could read it');
  const sameSite = attributes.get('samesite');
  if (sameSite === undefined || !/^(strict|lax|none)$/i.test(sameSite)) {
    fail('same-site', `SameSite must be set explicitly to Strict, Lax or None, got ${sameSite === undefined ? 'none' : JSON.stringify(sameSite)}`);
  }
  const bytes = Buffer.byteLength(name) + Buffer.byteLength(value);
  if (bytes > MAX_NAME_VALUE_BYTES) fail('size', `name and value are ${bytes} bytes, browsers ignore a cookie over ${MAX_NAME_VALUE_BYTES}`);

  if (maxAge !== undefined && maxAge > 0) {
    const lifetime = jwtLifetime(value) ?? options.tokenLifetimeSeconds;
    if (lifetime !== undefined && maxAge > lifetime) {
      fail('max-age-token', `Max-Age=${maxAge} outlives the token it carries (${lifetime} s): the browser would keep sending a dead token`);
    }
    if (maxAge > MAX_COOKIE_AGE_SECONDS) fail('max-age-limit', `Max-Age=${maxAge} is over 400 days (${MAX_COOKIE_AGE_SECONDS} s), browsers cut it short`);
  }

  // A clearing cookie only replaces the stored cookie with the same name, Domain and Path (RFC 6265 §5.3,
  // step 11, unchanged in 6265bis); with another Path it is a second cookie, and the first one stays.
  const setPath = (options.paths ?? SESSION_COOKIE_PATHS)[name];
  if (maxAge !== undefined && maxAge <= 0 && setPath !== undefined && path !== setPath) {
    fail('clear-path', `clears with ${path === undefined ? 'no Path' : `Path=${path}`} but the cookie lives on Path=${setPath}: the browser would keep it`);
  }
  return violations;
}

/** A JWT's `exp - iat` in seconds, read without verifying (only the numbers matter here). */
function jwtLifetime(value: string): number | undefined {
  const parts = value.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown; exp?: unknown };
    return typeof claims.iat === 'number' && typeof claims.exp === 'number' ? claims.exp - claims.iat : undefined;
  } catch {
    return undefined;
  }
}

/** The hook (development only): logs each rule a Set-Cookie breaks; the cookie itself is never logged. */
export function lintCookies(log: Pick<Logger, 'warn'>): Hook {
  return (_request, reply) => {
    const setCookie = reply.headers['Set-Cookie'];
    for (const cookie of typeof setCookie === 'string' ? [setCookie] : (setCookie ?? [])) {
      for (const violation of lintSetCookie(cookie)) log.warn(`Set-Cookie breaks the "${violation.rule}" rule: ${violation.message}`);
    }
    return reply;
  };
}
