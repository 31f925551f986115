import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Request } from '../../../lib/http/listener.ts';
import { lintCookies, lintSetCookie, type CookieRule } from '../../../lib/defences/cookie_lint.ts';
import { deviceCookie } from '../../../lib/defences/device_cookie.ts';
import { DeviceTokens, newDeviceId } from '../../../lib/defences/device_tokens.ts';
import { CLEAR_ACCESS_COOKIE, CLEAR_REFRESH_COOKIE, accessCookie, refreshCookie } from '../../../lib/sessions/cookies.ts';

/** An unsigned JWT-shaped value: the linter reads only `iat` and `exp`. */
function jwt(lifetimeSeconds: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'u', iat: 1_700_000_000, exp: 1_700_000_000 + lifetimeSeconds })}.c2ln`;
}

const TOKEN = jwt(900);
const GOOD = `__Host-jwt=${TOKEN}; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax`;

describe('lintSetCookie()', () => {
  const valid: [string, string][] = [
    ['the access cookie the server sets', accessCookie(TOKEN, 900)],
    ['the refresh cookie the server sets', refreshCookie('opaque-token', 7 * 24 * 3600)],
    ['the clearing access cookie', CLEAR_ACCESS_COOKIE],
    ['the clearing refresh cookie', CLEAR_REFRESH_COOKIE],
    ['the device cookie the server sets', deviceCookie(new DeviceTokens(new Uint8Array(32), Date.now).issue('alice', newDeviceId()))],
    ['attribute names in any case', `__Host-jwt=${TOKEN}; path=/; max-age=900; httponly; secure; samesite=strict`],
  ];
  for (const [what, cookie] of valid) {
    test(`finds nothing wrong with ${what}`, () => {
      assert.deepEqual(lintSetCookie(cookie), []);
    });
  }

  // One bad cookie per rule, each broken in exactly one way.
  const invalid: [CookieRule, string, string][] = [
    ['syntax', 'a cookie with no name=value pair', 'Secure; HttpOnly'],
    ['host-prefix', '__Host- with Path=/order', `__Host-jwt=${TOKEN}; Path=/order; Max-Age=900; HttpOnly; Secure; SameSite=Lax`],
    ['host-prefix', '__Host- with a Domain', `${GOOD}; Domain=example.com`],
    ['secure-prefix', '__Secure- without Secure', '__Secure-refresh=x; Path=/refresh; Max-Age=60; HttpOnly; SameSite=Lax'],
    ['secure', 'a cookie without Secure', 'theme=dark; Path=/; Max-Age=60; HttpOnly; SameSite=Lax'],
    ['http-only', 'a cookie without HttpOnly', '__Host-jwt=x; Path=/; Max-Age=60; Secure; SameSite=Lax'],
    ['same-site', 'a cookie without SameSite', '__Host-jwt=x; Path=/; Max-Age=60; HttpOnly; Secure'],
    ['same-site', 'a cookie with a made-up SameSite', '__Host-jwt=x; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Loose'],
    ['size', 'a name and value over 4096 bytes', `big=${'a'.repeat(4094)}; Path=/; HttpOnly; Secure; SameSite=Lax`],
    ['max-age-token', 'a Max-Age longer than the JWT it carries', GOOD.replace('Max-Age=900', 'Max-Age=901')],
    ['max-age-limit', 'a Max-Age over 400 days', 'remember=x; Path=/; Max-Age=34560001; HttpOnly; Secure; SameSite=Lax'],
    ['clear-path', 'a clearing refresh cookie on Path=/', '__Secure-refresh=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax'],
  ];
  for (const [rule, what, cookie] of invalid) {
    test(`flags ${what} under "${rule}"`, () => {
      const violations = lintSetCookie(cookie);
      assert.deepEqual(violations.map((violation) => violation.rule), [rule], JSON.stringify(violations));
      assert.match(violations[0]?.message ?? '', /\S/);
    });
  }

  test('checks an opaque token against the lifetime it is given', () => {
    const cookie = refreshCookie('opaque-token', 3600);
    assert.deepEqual(lintSetCookie(cookie, { tokenLifetimeSeconds: 3600 }), []);
    assert.deepEqual(lintSetCookie(cookie, { tokenLifetimeSeconds: 3599 }).map((v) => v.rule), ['max-age-token']);
  });

  test('checks a clearing cookie against the paths it is given', () => {
    const cookie = 'prefs=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax';
    assert.deepEqual(lintSetCookie(cookie), []);
    assert.deepEqual(lintSetCookie(cookie, { paths: { prefs: '/settings' } }).map((v) => v.rule), ['clear-path']);
  });

  test('never puts the cookie value in a message', () => {
    const cookie = `__Host-jwt=${TOKEN}; Path=/x; Max-Age=99999; Domain=example.com`;
    const violations = lintSetCookie(cookie);
    assert.ok(violations.length >= 5);
    for (const { message } of violations) assert.ok(!message.includes(TOKEN.slice(0, 20)), message);
  });
});

describe('lintCookies(), the development hook', () => {
  function warningsFor(setCookie: string): string[] {
    const warnings: string[] = [];
    const reply = { status: 204, headers: { 'Set-Cookie': [setCookie] }, body: '' };
    const request = {} as Request; // the hook reads only the reply
    assert.equal(lintCookies({ warn: (message) => warnings.push(message) })(request, reply), reply, 'the reply passes unchanged');
    return warnings;
  }

  test('logs a warning naming the rule a cookie breaks, without its value', async () => {
    const warnings = warningsFor('__Host-jwt=secret-value; Path=/; Max-Age=60; Secure; SameSite=Lax');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /"http-only" rule/);
    assert.doesNotMatch(warnings[0] ?? '', /secret-value/);
  });

  test('stays quiet about a good cookie', () => {
    assert.deepEqual(warningsFor(GOOD), []);
  });
});
