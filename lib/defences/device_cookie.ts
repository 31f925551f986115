/**
 * The device cookie (see `../auth/device_tokens.ts`): it marks a browser that signed in to an account
 * before, so that browser keeps its own allowance of login attempts while the account is under attack.
 *
 * Path=/login: only the login form needs it, so it rides on no other request (like the refresh
 * cookie, which only /refresh sees). `__Secure-` rather than `__Host-`, because `__Host-` demands
 * Path=/. What that gives up: a sibling subdomain could plant a second cookie of this name, and two
 * values count as none (`readSessionCookie`); that only makes the browser an untrusted client again,
 * sharing the account's backoff, since nobody can forge a valid one. HttpOnly, so no page script (no
 * XSS) can read it. SameSite=Strict: our own login form posts same-site. Max-Age a year, renewed at
 * each sign-in: a device stays trusted as long as its owner signs in now and then.
 */
import { serializeSetCookie } from '../http/cookies.ts';
import { DEVICE_TOKEN_SECONDS } from './device_tokens.ts';

export const DEVICE_COOKIE = '__Secure-device';
export const DEVICE_COOKIE_PATH = '/login';

export function deviceCookie(token: string): string {
  return serializeSetCookie(DEVICE_COOKIE, token, {
    path: DEVICE_COOKIE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: 'Strict',
    maxAge: DEVICE_TOKEN_SECONDS,
  });
}
