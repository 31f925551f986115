import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchServer();
});
after(async () => {
  await server.stop();
});

describe('POST /signup', () => {
  test('answers 303 to /order with the access cookie, and the browser is signed in there', async () => {
    const browser = server.browser();
    const response = await browser.request('POST', '/signup', { form: { username: 'alice', password: 'correct horse battery' } });

    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order');
    assert.equal(response.headers['cache-control'], 'no-store');
    const access = response.setCookies.find((cookie) => cookie.startsWith('__Host-jwt='));
    assert.match(access ?? '', /^__Host-jwt=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=900; HttpOnly; Secure; SameSite=Lax$/);

    const order = await browser.request('GET', '/order');
    assert.equal(order.status, 200);
    assert.match(order.body, /Hello, <span class="username">alice<\/span>/);
  });

  test('stores an argon2id hash, never the password, in a users.json only its owner can read', async () => {
    await server.browser().signup('bob', 'a very secret phrase');
    const file = path.join(server.dataDir, 'users.json');
    const text = await readFile(file, 'utf8');
    assert.doesNotMatch(text, /a very secret phrase/);
    const users = JSON.parse(text).users as { username: string; passwordHash: string }[];
    assert.match(users.find((user) => user.username === 'bob')?.passwordHash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });
});
