/**
 * The device cookie (see `../auth/device_tokens.ts`): it marks a browser that signed in to an account
 * before, so that browser keeps its own allowance of login attempts while the account is under attack.
 *
 * `__Host-`, so no sibling subdomain can set or shadow it; that prefix demands Path=/, so it travels
 * on every request (some 80 bytes) rather than only to /login, a price worth not being tossable.
 * HttpOnly, so no page script (no XSS) can read it and hand it to an attacker. SameSite=Strict: only
 * our own login form needs it, and that is always a same-site POST. Max-Age a year, renewed at each
 * sign-in: a device stays trusted as long as its owner signs in now and then.
 */
import { serializeSetCookie } from './cookies.ts';
import { DEVICE_TOKEN_SECONDS } from '../auth/device_tokens.ts';

export const DEVICE_COOKIE = '__Host-device';
export const DEVICE_COOKIE_PATH = '/';

export function deviceCookie(token: string): string {
  return serializeSetCookie(DEVICE_COOKIE, token, {
    path: DEVICE_COOKIE_PATH,
    httpOnly: true,
    secure: true,
    sameSite: 'Strict',
    maxAge: DEVICE_TOKEN_SECONDS,
  });
}
