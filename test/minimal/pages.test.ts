/**
 * The minimal server's static files and its router: public/ served byte for byte, 404 for a path it
 * does not know (never a file from the disk), 405 with Allow for a method a path does not take.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { httpsRequest } from '../../scripts/support/https_client.ts';
import { rawRequest } from '../../scripts/support/wire.ts';
import { send } from '../helpers/https_client.ts';
import { launchMinimalServer } from '../helpers/minimal_server.ts';
import { PROJECT_ROOT, RUNTIME, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchMinimalServer();
});
after(async () => {
  await server.stop();
});

const request = (method: string, urlPath: string) => send(`${server.origin}${urlPath}`, server.ca, method);

describe(`static files (${RUNTIME})`, () => {
  const files = [
    { urlPath: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
    { urlPath: '/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
    { urlPath: '/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
  ];
  for (const { urlPath, file, type } of files) {
    test(`GET ${urlPath} is public/${file} byte for byte, as ${type}`, async () => {
      const response = await request('GET', urlPath);
      const bytes = await readFile(path.join(PROJECT_ROOT, 'public', file));
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], type);
      assert.equal(response.headers['content-length'], String(bytes.length));
      assert.ok(Buffer.from(response.body).equals(bytes));
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    });
  }

  test('the sign-up page posts username and password to /signup, and links only files that are served', async () => {
    const { body } = await request('GET', '/');
    assert.match(body, /<form method="post" action="\/signup"/);
    for (const [, link] of body.matchAll(/<link [^>]*href="(\/[^"]+)"/g)) assert.equal((await request('GET', link!)).status, 200, link);
  });

  test('HEAD / answers like GET /, without the body', async () => {
    const response = await httpsRequest(`${server.origin}/`, { ca: server.ca, method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-length'], String((await readFile(path.join(PROJECT_ROOT, 'public', 'index.html'))).length));
    assert.equal(response.body, '');
  });
});

describe(`the router (${RUNTIME})`, () => {
  test('answers 404 for a path it does not know, and /index.html is no second address of /', async () => {
    for (const urlPath of ['/nowhere', '/index.html', '/order/', '/ORDER', '/signup/x']) assert.equal((await request('GET', urlPath)).status, 404, urlPath);
  });

  test('never reaches the disk: paths that try to leave public/ get 404', async () => {
    const host = new URL(server.origin).host;
    for (const target of ['/../package.json', '/%2e%2e/package.json', '/style.css/../../package.json', '//etc/passwd']) {
      const response = await rawRequest(server, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.equal(response.status, 404, target);
      assert.doesNotMatch(response.body, /"name": "jwt-cookie-redirect"|root:/);
    }
  });

  test('answers 405 with Allow for a method the path does not take', async () => {
    const cases = [
      { method: 'GET', urlPath: '/signup', allow: 'POST' },
      { method: 'POST', urlPath: '/order', allow: 'GET, HEAD' },
      { method: 'DELETE', urlPath: '/', allow: 'GET, HEAD' },
      { method: 'PUT', urlPath: '/style.css', allow: 'GET, HEAD' },
    ];
    for (const { method, urlPath, allow } of cases) {
      const response = await request(method, urlPath);
      assert.equal(response.status, 405, `${method} ${urlPath}`);
      assert.equal(response.headers.allow, allow);
    }
  });

  test('a query string does not change the route', async () => {
    assert.equal((await request('GET', '/?utm_source=mail')).status, 200);
    assert.equal((await request('GET', '/order?x=1')).status, 401);
  });
});
