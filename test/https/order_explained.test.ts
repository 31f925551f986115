import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchServer();
});
after(async () => {
  await server.stop();
});

describe('GET /order explains itself', () => {
  test('shows the cookie names sent, the decoded token and its attributes, never a token or its signature', async () => {
    const browser = server.browser();
    await browser.signup('carol');
    const token = (await browser.cookie('__Host-jwt'))!;
    const [, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string; exp: number };

    const order = await browser.request('GET', '/order');
    assert.equal(order.status, 200);
    assert.match(order.body, /<h2 id="explain-title">What just happened<\/h2>/);
    assert.match(order.body, /Cookie: __Host-jwt=…<\/code>/);
    assert.match(order.body, /<dt><code>alg<\/code><\/dt><dd><code>HS256<\/code><\/dd>/);
    assert.match(order.body, new RegExp(`<dt><code>sub</code></dt><dd><code>${claims.sub}</code></dd>`));
    for (const attribute of ['Path=/', 'Max-Age=900', 'HttpOnly', 'Secure', 'SameSite=Lax']) {
      assert.ok(order.body.includes(`<li><code>${attribute}</code></li>`), attribute);
    }
    const expires = new Date(claims.exp * 1000).toISOString();
    assert.match(order.body, new RegExp(`<time id="access-expires" datetime="${expires}">`));
    assert.ok(!order.body.includes(token), 'the token itself is not on the page');
    assert.ok(!order.body.includes(signature), 'nor is its signature');
    assert.match(order.body, /<script src="\/countdown.js" defer><\/script>/);
  });

  test('escapes the cookie names a client sends', async () => {
    const browser = server.browser();
    await browser.signup('dave');
    const token = (await browser.cookie('__Host-jwt'))!;
    const order = await browser.request('GET', '/order', { headers: { cookie: `__Host-jwt=${token}; <b>hi</b>=1` } });
    assert.equal(order.status, 200);
    assert.ok(order.body.includes('&lt;b&gt;hi&lt;/b&gt;=…'));
    assert.ok(!order.body.includes('<b>hi</b>'));
  });

  test('serves the countdown as a same-origin script the CSP allows', async () => {
    const script = await server.browser().request('GET', '/countdown.js');
    assert.equal(script.status, 200);
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(script.headers['content-security-policy']), /default-src 'self'/);
  });
});
