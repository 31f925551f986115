/**
 * Every 401 carries a `WWW-Authenticate` challenge (RFC 9110 §15.5.2 requires one), naming how to sign
 * in: the login form and the cookie it sets. Each route that can answer 401 is tried here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { send, type RequestOptions, type TestResponse } from '../helpers/https_client.ts';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';

const CHALLENGE = 'Cookie realm="jwt-cookie-redirect", form-action="/login", cookie-name="__Host-jwt"';
const JSON_ACCEPT = { accept: 'application/json' };

let server: LaunchedServer;
before(async () => {
  server = await launchServer();
  await server.browser().signup('challenged');
});
after(async () => {
  await server.stop();
});

const request = (method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> =>
  send(`${server.origin}${path}`, server.ca, method, options);

const unauthorized: [description: string, method: string, path: string, options: RequestOptions][] = [
  ['POST /login with a wrong password (the form again)', 'POST', '/login', { form: { username: 'challenged', password: 'not the password' } }],
  ['POST /login with a wrong password, as JSON', 'POST', '/login', { form: { username: 'challenged', password: 'not the password' }, headers: JSON_ACCEPT }],
  ['POST /login for an unknown user', 'POST', '/login', { form: { username: 'nobody-here', password: 'not the password' } }],
  ['GET /order without a cookie, as JSON', 'GET', '/order', { headers: JSON_ACCEPT }],
  ['GET /order with a forged token, as JSON', 'GET', '/order', { headers: { ...JSON_ACCEPT, cookie: '__Host-jwt=not-a-jwt' } }],
  ['GET /session/refresh without a refresh cookie', 'GET', '/session/refresh?next=/order', {}],
  ['GET /session/refresh with an unknown refresh token', 'GET', '/session/refresh?next=/order', { headers: { cookie: '__Secure-refresh=made-up' } }],
  ['POST /session/refresh without a refresh cookie', 'POST', '/session/refresh', { headers: JSON_ACCEPT }],
  ['POST /session/refresh with an unknown refresh token', 'POST', '/session/refresh', { headers: { ...JSON_ACCEPT, cookie: '__Secure-refresh=made-up' } }],
];

describe('WWW-Authenticate on every 401', () => {
  for (const [description, method, path, options] of unauthorized) {
    test(`${description}: 401 with the Cookie challenge naming the login form and the cookie`, async () => {
      const response = await request(method, path, options);
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], CHALLENGE);
    });
  }

  test('is sent only with a 401: a browser sent through /session/refresh by a 303 gets none', async () => {
    const response = await request('GET', '/order');
    assert.equal(response.status, 303);
    assert.equal(response.headers['www-authenticate'], undefined);
  });
});
