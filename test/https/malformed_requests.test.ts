/**
 * Requests no browser sends, written byte for byte on a raw TLS socket, and cross-site requests a
 * browser does send on an attacker's behalf. The server answers each with a 4xx, never a 500, sets no
 * cookie it should not, and keeps answering everybody else.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { openTls, rawRequest, readUntilClosed } from '../../scripts/support/wire.ts';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';
import { storedUsers } from '../helpers/stored_users.ts';

let server: LaunchedServer;
let host: string;
const PASSWORD = 'correct horse battery';

before(async () => {
  server = await launchServer();
  host = new URL(server.origin).host;
  await server.browser().signup('alice', PASSWORD);
});

after(async () => {
  await server.stop();
});

/** Another client, unrelated to the abuse, still gets the sign-up page. */
async function assertStillServing(): Promise<void> {
  const response = await send(server.origin, server.ca, 'GET');
  assert.equal(response.status, 200);
}

/** A POST to `target` with the given extra header lines and raw body, closing the connection after. */
function post(target: string, headerLines: string[], body = ''): string {
  return [`POST ${target} HTTP/1.1`, `Host: ${host}`, 'Connection: close', ...headerLines, '', body].join('\r\n');
}

/** The same, with a Content-Length that matches the body (one byte per character). */
function postBody(target: string, contentType: string, body: string): string {
  return post(target, [contentType, `Content-Length: ${Buffer.byteLength(body, 'latin1')}`], body);
}

const FORM = 'Content-Type: application/x-www-form-urlencoded';
const JSON_TYPE = 'Content-Type: application/json';

const signupForm = (username: string) => `username=${username}&password=${encodeURIComponent(PASSWORD)}`;
const signupJson = (username: string) => JSON.stringify({ username, password: PASSWORD });
const extraFields = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`extra${i}`, '1']));

function chunked(...chunks: string[]): string {
  return [...chunks.map((chunk) => `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`), '0\r\n\r\n'].join('');
}

describe('malformed requests get a 4xx and the server keeps serving', () => {
  afterEach(assertStillServing);

  const cases: { name: string; request: () => string; status: number }[] = [
    { name: 'a request line that is not HTTP', request: () => 'HELLO THERE\r\n\r\n', status: 400 },
    { name: 'an unknown HTTP version', request: () => `GET / HTTP/9.9\r\nHost: ${host}\r\n\r\n`, status: 400 },
    { name: 'a space inside the request target', request: () => `GET /or der HTTP/1.1\r\nHost: ${host}\r\n\r\n`, status: 400 },
    { name: 'no Host header', request: () => 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', status: 400 },
    { name: 'headers over the size limit', request: () => `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431 },
    { name: 'a chunk size that is not hexadecimal', request: () => post('/signup', [JSON_TYPE, 'Transfer-Encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n'), status: 400 },
    { name: 'a chunk longer than its declared size', request: () => post('/signup', [JSON_TYPE, 'Transfer-Encoding: chunked'], '2\r\n{"a":"b"}\r\n0\r\n\r\n'), status: 400 },
    {
      name: 'both Content-Length and Transfer-Encoding (request smuggling)',
      request: () => post('/signup', [JSON_TYPE, 'Content-Length: 4', 'Transfer-Encoding: chunked'], '0\r\n\r\nGET /order HTTP/1.1\r\n\r\n'),
      status: 400,
    },
    { name: 'two different Content-Length headers', request: () => post('/signup', [JSON_TYPE, 'Content-Length: 2', 'Content-Length: 3'], '{}'), status: 400 },
    { name: 'a Content-Length shorter than the body', request: () => post('/signup', [JSON_TYPE, 'Content-Length: 5'], '{"username":"x","password":"y"}'), status: 400 },
    { name: 'a Content-Length over the body limit', request: () => post('/signup', [JSON_TYPE, 'Content-Length: 1000000'], '{}'), status: 413 },
    { name: 'a chunked body that grows over the limit (refused as chunked)', request: () => post('/signup', [JSON_TYPE, 'Transfer-Encoding: chunked'], chunked(...Array(5).fill('a'.repeat(4096)))), status: 411 },
    // Each body below is a good sign-up but for the one flaw, so only the defence stands between it and a 303.
    { name: 'Content-Encoding: gzip', request: () => postBody('/signup', `${JSON_TYPE}\r\nContent-Encoding: gzip`, signupJson('gzip')), status: 415 },
    { name: 'Content-Type: text/plain', request: () => postBody('/signup', 'Content-Type: text/plain', signupJson('plain')), status: 415 },
    { name: 'a charset other than UTF-8', request: () => postBody('/signup', `${FORM}; charset=iso-8859-1`, signupForm('latin')), status: 415 },
    { name: 'a form of 21 fields', request: () => postBody('/signup', FORM, `${signupForm('many')}&${new URLSearchParams(extraFields(19))}`), status: 400 },
    { name: 'a JSON object of 21 fields', request: () => postBody('/signup', JSON_TYPE, JSON.stringify({ username: 'manyjson', password: PASSWORD, ...extraFields(19) })), status: 400 },
    { name: 'a repeated form field', request: () => postBody('/signup', FORM, `${signupForm('twice')}&username=twice2`), status: 400 },
    { name: 'a broken percent-escape', request: () => postBody('/login', FORM, 'username=%E0%A4%A&'), status: 400 },
    { name: 'a body that is not UTF-8', request: () => postBody('/login', FORM, 'username=\xff\xfe'), status: 400 },
  ];

  for (const { name, request, status } of cases) {
    test(`${name}: ${status}`, async () => {
      const response = await rawRequest(server, Buffer.from(request(), 'latin1'));
      assert.equal(response.status, status, response.raw.slice(0, 200));
    });
  }

  test('a 413 closes the connection, so the rest of an oversized upload is never read', async () => {
    const response = await rawRequest(server, post('/signup', [JSON_TYPE, 'Content-Length: 1000000'], '{}'));
    assert.equal(response.status, 413);
    assert.deepEqual(response.headers.get('connection'), ['close']);
  });

  test('a Content-Length longer than the body, then a hang-up: the server drops the request quietly', async () => {
    const socket = await openTls(server);
    const closed = readUntilClosed(socket);
    socket.end(post('/signup', [JSON_TYPE, 'Content-Length: 500'], '{"username":"x"'));
    assert.doesNotMatch(await closed, /^HTTP\/1\.1 5/);
  });

  test('paths that try to leave the route table get 404, never a file', async () => {
    for (const target of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/style.css/..%2f..%2fpackage.json', '/./order', '//order', '/order%00', '/ORDER']) {
      const response = await rawRequest(server, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(response.status, 404, target);
      assert.doesNotMatch(response.body, /root:|"name": "jwt-cookie-redirect"/);
    }
  });
});

describe('__proto__ and constructor field names', () => {
  test('a form sign-up carrying them succeeds and stores only the fields a user has', async () => {
    const body = `__proto__%5Bpolluted%5D=yes&constructor%5Bprototype%5D%5Bpolluted%5D=yes&username=mallory&password=${encodeURIComponent(PASSWORD)}`;
    const response = await send(`${server.origin}/signup`, server.ca, 'POST', { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(response.status, 303);
    const users = await storedUsers(server.dataDir);
    for (const user of users) assert.deepEqual(Object.keys(user).sort(), ['createdAt', 'deviceIds', 'id', 'passwordHash', 'username']);
  });

  test('a JSON sign-up with "__proto__" as a string field succeeds, one with an object under it is refused', async () => {
    const plain = await send(`${server.origin}/signup`, server.ca, 'POST', { body: `{"__proto__":"x","constructor":"y","username":"trudy","password":"${PASSWORD}"}`, headers: { 'content-type': 'application/json' } });
    assert.equal(plain.status, 303);
    const nested = await send(`${server.origin}/signup`, server.ca, 'POST', {
      body: `{"__proto__":{"polluted":"yes"},"username":"trudy2","password":"${PASSWORD}"}`,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
    });
    assert.equal(nested.status, 400);
  });

  test('afterwards, a normal sign-up works and its answers carry no polluted field', async () => {
    const browser = server.browser();
    const signup = await browser.signup('victor');
    assert.equal(signup.status, 200);
    assert.doesNotMatch(signup.body, /polluted|yes/);
    const failure = await send(`${server.origin}/login`, server.ca, 'POST', {
      json: { username: 'victor', password: 'wrong password' },
      headers: { accept: 'application/json' },
    });
    assert.deepEqual(failure.json, { error: 'Wrong username or password' });
  });
});

describe('CR/LF smuggled into next never reaches a header', () => {
  const loginWithNext = (encodedNext: string) => `username=alice&password=${encodeURIComponent(PASSWORD)}&next=${encodedNext}`;
  const noEvilCookie = (cookies: string[] = []) => cookies.every((cookie) => !cookie.startsWith('evil'));

  const smuggled: [label: string, encodedNext: string][] = [
    ['CR/LF percent-encoded in the form', '/a%0D%0ASet-Cookie:%20evil=1'],
    ['a lone LF percent-encoded in the form', '/a%0ASet-Cookie:%20evil=1'],
    ['raw CR/LF bytes in the form body', '/a\r\nSet-Cookie: evil=1'],
  ];
  for (const [label, encodedNext] of smuggled) {
    test(`login with ${label}: 303 to /order, no injected header`, async () => {
      const response = await rawRequest(server, postBody('/login', FORM, loginWithNext(encodedNext)));
      assert.equal(response.status, 303);
      assert.deepEqual(response.headers.get('location'), ['/order']);
      assert.ok(noEvilCookie(response.headers.get('set-cookie')));
    });
  }

  test('a raw CR/LF in the request target ends the request line there: what follows is no response header', async () => {
    const response = await rawRequest(server, `GET /login?next=/a\r\nSet-Cookie: evil=1 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.ok(response.status < 500, response.raw.slice(0, 200));
    assert.ok(noEvilCookie(response.headers.get('set-cookie')));
    assert.doesNotMatch(response.body, /evil/);
  });

  test('a next whose CR/LF is percent-encoded (a form field encoded twice) is refused for /order', async () => {
    const response = await rawRequest(server, postBody('/login', FORM, loginWithNext('/a%250D%250ASet-Cookie:%2520evil=1')));
    assert.equal(response.status, 303);
    assert.deepEqual(response.headers.get('location'), ['/order']);
    assert.ok(noEvilCookie(response.headers.get('set-cookie')));
  });

  test('a percent-encoded CR/LF in GET /session/refresh?next= stays out of every header', async () => {
    const browser = server.browser();
    await browser.navigate('POST', '/login', { form: { username: 'alice', password: PASSWORD } });
    const response = await browser.request('GET', '/session/refresh?next=/a%0d%0aSet-Cookie:%20evil=1');
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order');
    assert.ok(response.setCookies.every((cookie) => !cookie.startsWith('evil')));
  });
});

describe('cross-site requests are refused before any work', () => {
  const methods = ['POST', 'PUT', 'PATCH', 'DELETE'];
  const paths = ['/signup', '/login', '/session/logout', '/session/refresh', '/order', '/', '/no-such-page'];
  const crossSite: [label: string, headers: () => Record<string, string>][] = [
    ['Origin: null', () => ({ origin: 'null' })],
    ['a foreign Origin', () => ({ origin: 'https://evil.example' })],
    ['our Origin over http', () => ({ origin: `http://${host}` })],
    ['Sec-Fetch-Site: cross-site', () => ({ 'sec-fetch-site': 'cross-site' })],
    ['Sec-Fetch-Site: same-site', () => ({ 'sec-fetch-site': 'same-site' })],
    ['Sec-Fetch-Site: cross-site with our own Origin', () => ({ 'sec-fetch-site': 'cross-site', origin: `https://${host}` })],
    ['Sec-Fetch-Site: same-site with a sibling Origin', () => ({ 'sec-fetch-site': 'same-site', origin: 'https://sub.localhost' })],
  ];

  test('every unsafe method on every route: 403, no Set-Cookie, Vary: Origin, Sec-Fetch-Site', async () => {
    const client = keepAliveClient(server);
    try {
      let n = 0;
      for (const method of methods) {
        for (const target of paths) {
          for (const [label, headers] of crossSite) {
            // Good credentials for a fresh account: without the check, /signup and /login would set cookies.
            const body = new URLSearchParams({ username: target === '/login' ? 'alice' : `csrf${n++}`, password: PASSWORD }).toString();
            const response = await client.send(method, target, { ...headers(), 'content-type': 'application/x-www-form-urlencoded' }, body);
            const what = `${method} ${target} with ${label}`;
            assert.equal(response.status, 403, what);
            assert.equal(response.headers['set-cookie'], undefined, what);
            assert.equal(response.headers.vary, 'Origin, Sec-Fetch-Site', what);
          }
        }
      }
    } finally {
      client.close();
    }
    const users = await storedUsers(server.dataDir);
    assert.equal(users.filter((user) => user.username.startsWith('csrf')).length, 0);
  });

  test('same-origin, user-initiated and header-less requests pass, and carry the same Vary', async () => {
    const passing: Record<string, string>[] = [
      { 'sec-fetch-site': 'same-origin', origin: `https://${host}` },
      { 'sec-fetch-site': 'none' },
      { origin: `https://${host}` },
      {},
    ];
    for (const headers of passing) {
      const response = await send(`${server.origin}/login`, server.ca, 'POST', { headers, form: { username: 'alice', password: PASSWORD } });
      assert.equal(response.status, 303, JSON.stringify(headers));
      assert.equal(response.headers.vary, 'Origin, Sec-Fetch-Site');
    }
  });
});

test('nothing above made the server answer 500 or log an error', () => {
  assert.doesNotMatch(server.output(), / 500 |error:/);
});
