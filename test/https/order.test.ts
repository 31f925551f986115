import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { after, before, describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { TEST_SECRET, launchServer, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
let token: string;
let claims: { sub: string; sid: string };
before(async () => {
  server = await launchServer();
  const browser = server.browser();
  await browser.signup('orderly');
  token = (await browser.cookie('__Host-jwt'))!;
  claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
});
after(async () => {
  await server.stop();
});

const order = (cookie: string | undefined, accept = 'application/json') =>
  send(`${server.origin}/order`, server.ca, 'GET', { headers: { accept, ...(cookie !== undefined && { cookie }) } });

/** A token signed with the server's own key, so only the claim under test is wrong. */
function sign(overrides: { iat: number; exp: number }): Promise<string> {
  return new SignJWT({ sid: claims.sid })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setJti(crypto.randomUUID())
    .setIssuedAt(overrides.iat)
    .setExpirationTime(overrides.exp)
    .setIssuer('jwt-cookie-redirect')
    .setAudience('jwt-cookie-redirect')
    .sign(new TextEncoder().encode(TEST_SECRET));
}

describe('GET /order', () => {
  test('names the signed-in user, HTML-escaped, and is never cached', async () => {
    const response = await order(`__Host-jwt=${token}`, 'text/html');
    assert.equal(response.status, 200);
    assert.match(response.body, /Hello, <span class="username">orderly<\/span>/);
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  test('without a valid cookie, a browser is sent to /session/refresh and a JSON client gets 401 saying why', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [cookie: string | undefined, message: string][] = [
      [undefined, 'You are not signed in: no session cookie was sent'],
      [`__Host-jwt=${await sign({ iat: now - 1000, exp: now - 100 })}`, 'Your session has expired: sign in again'],
      [`__Host-jwt=${token.slice(0, -2)}xx`, 'Your session cookie is not valid: sign in again'],
      ['__Host-jwt=not-a-jwt', 'Your session cookie is not valid: sign in again'],
    ];
    for (const [cookie, message] of cases) {
      const json = await order(cookie);
      assert.equal(json.status, 401, message);
      assert.deepEqual(json.json, { error: message });
      const page = await order(cookie, 'text/html');
      assert.equal(page.status, 303);
      assert.equal(page.headers.location, '/session/refresh?next=/order');
      assert.equal(page.headers['cache-control'], 'no-store');
    }
  });

  test('reads the token only from the __Host-jwt cookie, never from the URL or an Authorization header', async () => {
    const fromQuery = await send(`${server.origin}/order?token=${token}`, server.ca, 'GET', { headers: { accept: 'application/json' } });
    assert.equal(fromQuery.status, 401);
    const fromHeader = await send(`${server.origin}/order`, server.ca, 'GET', { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
    assert.equal(fromHeader.status, 401);
    const otherName = await order(`jwt=${token}`);
    assert.equal(otherName.status, 401);
  });
});
