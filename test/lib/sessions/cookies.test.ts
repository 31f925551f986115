import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accessCookie,
  ACCESS_COOKIE,
  CLEAR_ACCESS_COOKIE,
  CLEAR_REFRESH_COOKIE,
  readSessionCookie,
  refreshCookie,
  REFRESH_COOKIE,
} from '../../../lib/sessions/cookies.ts';

describe('session cookies', () => {
  test('accessCookie() sets __Host-jwt for the whole site, with Max-Age equal to the token lifetime', () => {
    assert.equal(accessCookie('h.p.s', 900), '__Host-jwt=h.p.s; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax');
  });

  test('refreshCookie() sets __Secure-refresh for the session\'s own requests under /session only, never sent by a request another site starts', () => {
    assert.equal(refreshCookie('r4nd0m', 604800), '__Secure-refresh=r4nd0m; Path=/session; Max-Age=604800; HttpOnly; Secure; SameSite=Strict');
  });

  test('each clearing cookie repeats the name, Path and attributes it was set with, and Max-Age=0', () => {
    assert.equal(CLEAR_ACCESS_COOKIE, '__Host-jwt=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax');
    assert.equal(CLEAR_REFRESH_COOKIE, '__Secure-refresh=; Path=/session; Max-Age=0; HttpOnly; Secure; SameSite=Strict');
  });

  const reads: [header: string | undefined, value: string | undefined][] = [
    [undefined, undefined],
    ['', undefined],
    ['__Host-jwt=h.p.s', 'h.p.s'],
    ['theme=dark; __Host-jwt=h.p.s', 'h.p.s'],
    ['jwt=h.p.s', undefined],
    ['__host-jwt=h.p.s', undefined],
    ['__Host-jwt=h.p.s; __Host-jwt=x.y.z', undefined],
  ];
  for (const [header, value] of reads) {
    test(`readSessionCookie() reads ${JSON.stringify(value)} from Cookie: ${JSON.stringify(header)}`, () => {
      assert.equal(readSessionCookie(header, ACCESS_COOKIE), value);
    });
  }

  test('readSessionCookie() treats two refresh cookies as none, rather than guess which is ours', () => {
    assert.equal(readSessionCookie(`${REFRESH_COOKIE}=planted; ${REFRESH_COOKIE}=ours`, REFRESH_COOKIE), undefined);
  });
});
