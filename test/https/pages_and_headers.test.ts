import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { send, type TestResponse } from '../helpers/https_client.ts';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchServer();
});
after(async () => {
  await server.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => send(`${server.origin}${path}`, server.ca, 'GET', { headers });

const CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

function assertSecurityHeaders(response: TestResponse): void {
  assert.equal(response.headers['content-security-policy'], CSP);
  assert.equal(response.headers['x-content-type-options'], 'nosniff');
  assert.equal(response.headers['referrer-policy'], 'same-origin');
}

describe('pages', () => {
  test('GET / is the sign-up form posting username and password to /signup', async () => {
    const response = await get('/');
    assert.equal(response.status, 200);
    assert.match(response.headers['content-type'] ?? '', /^text\/html; charset=utf-8/);
    assert.match(response.body, /<form method="post" action="\/signup"/);
    assert.match(response.body, /<label for="username">/);
    assert.match(response.body, /name="username"[^>]*autocomplete="username"/);
    assert.match(response.body, /name="password"[^>]*autocomplete="new-password"/);
  });

  test('GET / is public/index.html byte for byte, with an ETag and 304 when it has not changed; /index.html is no second address', async () => {
    const response = await get('/');
    assert.equal(response.body, readFileSync(new URL('../../public/index.html', import.meta.url), 'utf8'));
    const etag = response.headers.etag!;
    assert.match(etag, /^"[\w-]+"$/);
    assert.equal((await get('/', { 'if-none-match': etag })).status, 304);
    assert.equal((await get('/index.html')).status, 404);
  });

  test('GET /login is the login form, carrying a same-origin next and dropping any other', async () => {
    const response = await get('/login?next=/order%3Fx%3D1');
    assert.equal(response.status, 200);
    assert.match(response.body, /<form method="post" action="\/login"/);
    assert.match(response.body, /<input type="hidden" name="next" value="\/order\?x=1">/);
    assert.match((await get('/login?next=//evil.example')).body, /name="next" value="\/order"/);
  });

  test('pages hold no inline script or style, so the strict CSP holds', async () => {
    for (const path of ['/', '/login']) {
      const { body } = await get(path);
      assert.doesNotMatch(body, /<script(?![^>]*\bsrc=)/);
      assert.doesNotMatch(body, /<style|\sstyle=|\son[a-z]+=/i);
    }
  });

  test('the stylesheet is served with its type, an ETag, and 304 when it has not changed', async () => {
    const first = await get('/style.css');
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], 'text/css; charset=utf-8');
    const etag = first.headers.etag!;
    assert.match(etag, /^"[\w-]+"$/);
    const again = await get('/style.css', { 'if-none-match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.equal((await get('/style.css', { 'if-none-match': '"other"' })).status, 200);
  });
});

describe('routing', () => {
  test('an unknown path is 404', async () => {
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/order/')).status, 404);
  });

  test('a known path with the wrong method is 405 with Allow', async () => {
    const signup = await get('/signup');
    assert.equal(signup.status, 405);
    assert.equal(signup.headers.allow, 'POST');
    const order = await send(`${server.origin}/order`, server.ca, 'DELETE', {});
    assert.equal(order.status, 405);
    assert.equal(order.headers.allow, 'GET, HEAD');
  });

  test('HEAD is answered for every GET route, with the headers and no body', async () => {
    for (const path of ['/', '/login', '/style.css', '/order']) {
      const head = await send(`${server.origin}${path}`, server.ca, 'HEAD');
      const full = await get(path);
      assert.equal(head.status, full.status, path);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-length'], full.headers['content-length'], path);
    }
  });

  test('errors come as a page for browsers and as {"error"} for JSON clients', async () => {
    const page = await get('/nope');
    assert.match(page.headers['content-type'] ?? '', /^text\/html/);
    assert.match(page.body, /<h1>404 Not Found<\/h1>/);
    const json = await get('/nope', { accept: 'application/json' });
    assert.deepEqual(json.json, { error: 'Cannot find /nope' });
  });
});

describe('security headers', () => {
  test('every response carries CSP, nosniff and Referrer-Policy: same-origin', async () => {
    const responses = [await get('/'), await get('/style.css'), await get('/nope'), await get('/order'), await get('/signup')];
    for (const response of responses) assertSecurityHeaders(response);
  });

  test('HSTS is sent for a real host name but never for localhost or an IP literal', async () => {
    for (const host of ['localhost', 'localhost:8443', 'app.localhost:8443', '127.0.0.1:8443', '[::1]:8443']) {
      assert.equal((await get('/', { host })).headers['strict-transport-security'], undefined, host);
    }
    for (const host of ['example.com', 'shop.example.com:8443']) {
      assert.equal((await get('/', { host })).headers['strict-transport-security'], 'max-age=31536000', host);
    }
  });
});

describe('cross-site requests', () => {
  const post = (path: string, headers: Record<string, string>) =>
    send(`${server.origin}${path}`, server.ca, 'POST', { form: { username: 'csrf-victim', password: 'correct horse battery' }, headers });

  test('a cross-site or same-site form post is refused with 403, no cookie, and no account created', async () => {
    const host = new URL(server.origin).host;
    const refused: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: `https://${host}` },
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: `http://${host}` },
    ];
    for (const headers of refused) {
      const response = await post('/signup', headers);
      assert.equal(response.status, 403, JSON.stringify(headers));
      assert.deepEqual(response.setCookies, []);
      assert.equal(response.headers.vary, 'Origin, Sec-Fetch-Site');
    }
    const login = await send(`${server.origin}/login`, server.ca, 'POST', { form: { username: 'x', password: 'y' }, headers: { origin: 'null' } });
    assert.equal(login.status, 403);
    assert.equal((await server.browser().navigate('POST', '/login', { form: { username: 'csrf-victim', password: 'correct horse battery' } })).status, 401);
  });

  test('a refused sign-up or login shows the plain 403 page, not the form with the posted username in it', async () => {
    for (const path of ['/signup', '/login']) {
      const response = await post(path, { 'sec-fetch-site': 'cross-site' });
      assert.equal(response.status, 403, path);
      assert.match(response.body, /<h1>403 Forbidden<\/h1>/, path);
      assert.doesNotMatch(response.body, /csrf-victim|<form/, path);
    }
  });

  test('same-origin posts, direct navigations and clients without either header pass', async () => {
    const host = new URL(server.origin).host;
    assert.equal((await post('/signup', { 'sec-fetch-site': 'same-origin', origin: `https://${host}` })).status, 303);
    assert.equal((await send(`${server.origin}/session/logout`, server.ca, 'POST', { headers: { 'sec-fetch-site': 'none' } })).status, 303);
    assert.equal((await send(`${server.origin}/session/logout`, server.ca, 'POST', { headers: { origin: `https://${host}` } })).status, 303);
    assert.equal((await send(`${server.origin}/session/logout`, server.ca, 'POST')).status, 303);
  });
});
