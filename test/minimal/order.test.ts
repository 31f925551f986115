/**
 * GET /order on the minimal server: a token it signed opens the page and names the user as text; every
 * other token (none, tampered with, unsigned, expired, signed with another key, for another server) gets
 * the 401 page, which names nobody.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { base64url, decodeJwt, forge, hmac, replaceSegment, unsigned } from '../../scripts/support/forge_jwt.ts';
import { send, type TestResponse } from '../helpers/https_client.ts';
import { MINIMAL_ISSUER, launchMinimalServer } from '../helpers/minimal_server.ts';
import { RUNTIME, TEST_SECRET, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
/** The token the server set for alice at sign-up. */
let aliceToken: string;
before(async () => {
  server = await launchMinimalServer();
  const browser = server.browser();
  await browser.signup('alice');
  aliceToken = (await browser.cookie('__Host-jwt'))!;
});
after(async () => {
  await server.stop();
});

const HS256 = { alg: 'HS256', typ: 'JWT' };
const withServerKey = hmac('sha256', TEST_SECRET);

/** Claims the minimal server signs, for `sub`, good for ten minutes; `changes` win. */
function claimsFor(sub: string, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return { sub, jti: randomUUID(), iat, exp: iat + 600, iss: MINIMAL_ISSUER, aud: MINIMAL_ISSUER, ...changes };
}

function openOrder(token: string | undefined): Promise<TestResponse> {
  return send(`${server.origin}/order`, server.ca, 'GET', { headers: token === undefined ? {} : { cookie: `__Host-jwt=${token}` } });
}

describe(`GET /order (${RUNTIME})`, () => {
  test('opens for the token set at sign-up, and for one signed with the server key, naming the user; never cached', async () => {
    for (const token of [aliceToken, forge(HS256, claimsFor('alice'), withServerKey)]) {
      const response = await openOrder(token);
      assert.equal(response.status, 200);
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.match(response.body, /Hello, <span class="username">alice<\/span>/);
    }
  });

  test('shows the name as text: markup in the name is escaped, never run', async () => {
    // The sign-up rules refuse such a name, so the token is signed here with the server key.
    const response = await openOrder(forge(HS256, claimsFor(`<b>x</b>&"'`), withServerKey));
    assert.equal(response.status, 200);
    assert.match(response.body, /Hello, <span class="username">&lt;b&gt;x&lt;\/b&gt;&amp;&quot;&#39;<\/span>/);
    assert.doesNotMatch(response.body, /<b>/);
  });
});

describe(`GET /order refuses with 401, naming nobody (${RUNTIME})`, () => {
  const now = () => Math.floor(Date.now() / 1000);
  const refused: { name: string; token: () => string | undefined }[] = [
    { name: 'no cookie', token: () => undefined },
    { name: 'an empty cookie', token: () => '' },
    { name: "alice's signature over a payload that says bob", token: () => replaceSegment(aliceToken, 1, base64url(JSON.stringify({ ...decodeJwt(aliceToken).payload, sub: 'bob' }))) },
    { name: "alice's token with its signature cut short", token: () => aliceToken.slice(0, -4) },
    { name: 'alg "none", unsigned', token: () => forge({ alg: 'none', typ: 'JWT' }, claimsFor('alice'), unsigned) },
    { name: 'alg "none" over alice\'s real payload and signature', token: () => replaceSegment(aliceToken, 0, base64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))) },
    { name: 'HS512 signed with the server key', token: () => forge({ alg: 'HS512', typ: 'JWT' }, claimsFor('alice'), hmac('sha512', TEST_SECRET)) },
    { name: 'expired a minute ago', token: () => forge(HS256, claimsFor('alice', { iat: now() - 960, exp: now() - 60 }), withServerKey) },
    { name: 'signed with another key', token: () => forge(HS256, claimsFor('alice'), hmac('sha256', 'another-secret-that-is-at-least-32-bytes')) },
    { name: 'issued by the full server (its iss and aud)', token: () => forge(HS256, claimsFor('alice', { iss: 'jwt-cookie-redirect', aud: 'jwt-cookie-redirect' }), withServerKey) },
    { name: 'without exp', token: () => forge(HS256, claimsFor('alice', { exp: undefined }), withServerKey) },
    { name: 'not a JWT at all', token: () => 'not.a.jwt' },
  ];
  for (const { name, token } of refused) {
    test(name, async () => {
      const response = await openOrder(token());
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], `Cookie realm="${MINIMAL_ISSUER}", form-action="/signup", cookie-name="__Host-jwt"`);
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.match(response.body, /You are not signed in/);
      assert.doesNotMatch(response.body, /alice|bob|Hello/i);
      assert.deepEqual(response.setCookies, []);
    });
  }

  test('only the __Host-jwt cookie counts: the same token under another name or as a Bearer header is not looked at', async () => {
    const response = await send(`${server.origin}/order`, server.ca, 'GET', { headers: { cookie: `jwt=${aliceToken}`, authorization: `Bearer ${aliceToken}` } });
    assert.equal(response.status, 401);
  });
});
