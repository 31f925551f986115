import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEVICE_COOKIE, DEVICE_COOKIE_PATH, deviceCookie } from '../../../lib/defences/device_cookie.ts';
import { DEVICE_TOKEN_SECONDS } from '../../../lib/defences/device_tokens.ts';

test('the device cookie is __Secure-device, for /login only, HttpOnly, Secure, SameSite=Strict, for as long as its token lasts', () => {
  assert.equal(DEVICE_COOKIE, '__Secure-device');
  assert.equal(DEVICE_COOKIE_PATH, '/login');
  assert.equal(deviceCookie('abc.def.ghi'), `__Secure-device=abc.def.ghi; Path=/login; Max-Age=${DEVICE_TOKEN_SECONDS}; HttpOnly; Secure; SameSite=Strict`);
});
