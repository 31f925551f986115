import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';
import { storedUsers as readStoredUsers } from '../helpers/stored_users.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchServer();
});
after(async () => {
  await server.stop();
});

const JSON_ACCEPT = { accept: 'application/json' };

async function storedUsers(): Promise<{ username: string; passwordHash: string }[]> {
  return readStoredUsers(server.dataDir);
}

describe('POST /signup', () => {
  test('answers 303 to /order with the access cookie, and the browser is signed in there', async () => {
    const browser = server.browser();
    const response = await browser.request('POST', '/signup', { form: { username: 'alice', password: 'correct horse battery' } });

    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order');
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.body, '');
    const access = response.setCookies.find((cookie) => cookie.startsWith('__Host-jwt='));
    assert.match(access ?? '', /^__Host-jwt=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=900; HttpOnly; Secure; SameSite=Lax$/);
    const refresh = response.setCookies.find((cookie) => cookie.startsWith('__Secure-refresh='));
    assert.match(refresh ?? '', /^__Secure-refresh=[\w-]{36}\.0\.[\w-]{43}; Path=\/session; Max-Age=604800; HttpOnly; Secure; SameSite=Strict$/);

    const order = await browser.request('GET', '/order');
    assert.equal(order.status, 200);
    assert.match(order.body, /Hello, <span class="username">alice<\/span>/);
  });

  test('sets a cookie whose Max-Age equals the token lifetime exp - iat', async () => {
    const response = await server.browser().request('POST', '/signup', { form: { username: 'maxage', password: 'correct horse battery' } });
    const access = response.setCookies.find((cookie) => cookie.startsWith('__Host-jwt='))!;
    const token = access.slice('__Host-jwt='.length, access.indexOf(';'));
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    const maxAge = Number(/Max-Age=(\d+)/.exec(access)![1]);
    assert.equal(maxAge, claims.exp - claims.iat);
    assert.deepEqual(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
  });

  test('stores an argon2id hash, never the password, in files only their owner can read', async () => {
    await server.browser().signup('bob', 'a very secret phrase');
    const users = await storedUsers();
    assert.doesNotMatch(JSON.stringify(users), /a very secret phrase/);
    assert.match(users.find((user) => user.username === 'bob')?.passwordHash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    for (const name of await readdir(server.dataDir)) assert.equal((await stat(path.join(server.dataDir, name))).mode & 0o777, 0o600, name);
  });

  test('has the user on disk by the time the 303 arrives', async () => {
    const response = await server.browser().request('POST', '/signup', { form: { username: 'durable', password: 'correct horse battery' } });
    assert.equal(response.status, 303);
    assert.ok((await storedUsers()).some((user) => user.username === 'durable'));
  });

  test('accepts a JSON body as well as a form', async () => {
    const browser = server.browser();
    const response = await browser.request('POST', '/signup', { json: { username: 'jason', password: 'correct horse battery' } });
    assert.equal(response.status, 303);
    assert.equal((await browser.request('GET', '/order')).status, 200);
  });

  test('refuses a name that is taken, compared case-insensitively after NFKC, with 409 and no cookie', async () => {
    await server.browser().signup('Carol');
    for (const username of ['carol', 'CAROL', 'ｃａｒｏｌ']) {
      const response = await send(`${server.origin}/signup`, server.ca, 'POST', { form: { username, password: 'another password' }, headers: JSON_ACCEPT });
      assert.equal(response.status, 409, username);
      assert.deepEqual(response.json, { error: `The username "${username.normalize('NFKC')}" is taken: choose another`, field: 'username' });
      assert.deepEqual(response.setCookies, []);
    }
    assert.equal((await storedUsers()).filter((user) => user.username.toLowerCase() === 'carol').length, 1);
  });

  test('refuses a look-alike of a taken name with 409, and a name mixing scripts or with stray marks with 400', async () => {
    const cases: [taken: string, lookAlikes: string[]][] = [
      ['strasse', ['straße', 'STRAẞE']],
      ['istanbul', ['İstanbul', 'ıstanbul']],
    ];
    for (const [taken, lookAlikes] of cases) {
      assert.equal((await server.browser().signup(taken)).status, 200, taken);
      for (const username of lookAlikes) {
        const response = await send(`${server.origin}/signup`, server.ca, 'POST', { form: { username, password: 'another password' }, headers: JSON_ACCEPT });
        assert.equal(response.status, 409, username);
        assert.deepEqual(response.setCookies, []);
      }
    }
    await server.browser().signup('alice-look');
    for (const username of ['\u0430lice-look', 'b\u0300ob', 'bo\u034fb']) {
      const response = await send(`${server.origin}/signup`, server.ca, 'POST', { form: { username, password: 'another password' }, headers: JSON_ACCEPT });
      assert.equal(response.status, 400, username);
      assert.equal((response.json as { field: string }).field, 'username');
    }
    // Names that only look related are different people.
    for (const username of ['bób', 'müller', 'mueller']) assert.equal((await server.browser().signup(username)).status, 200, username);
  });

  // Round 3, finding 4: names of one script that look like another's, and letters of no script in particular.
  const wholeScript: [taken: string, lookAlike: string][] = [
    ['ace', '\u0430\u0441\u0435'], // Cyrillic асе
    ['pop', '\u0440\u043e\u0440'], // Cyrillic рор
    ['yes', '\u0443\u0435\u0455'], // Cyrillic уеѕ
    ['hope', '\u04bb\u043e\u0440\u0435'], // Cyrillic һоре
    ['eddy', '\u0435\u0501\u0501\u0443'], // Cyrillic еԁԁу
    ['kim', '\u039a\u0399\u039c'], // Greek ΚΙΜ
    ['topa', '\u03a4\u039f\u03a1\u0391'], // Greek ΤΟΡΑ
    ['cat', '\u13df\u13aa\u13a2'], // Cherokee ᏟᎪᎢ
    ['hou', '\u0570\u0585\u057d'], // Armenian հօս
    ['\u30b9\u30fc\u30d1\u30fc', '\u30b9\u4e00\u30d1\u30fc'], // ス一パー (Han 一) beside スーパー
  ];
  for (const [taken, lookAlike] of wholeScript) {
    test(`refuses ${lookAlike}, written in one script, beside ${taken} with 409 (UTS #39 skeleton)`, async () => {
      assert.equal((await server.browser().signup(taken)).status, 200, taken);
      const response = await send(`${server.origin}/signup`, server.ca, 'POST', { form: { username: lookAlike, password: 'another password' }, headers: JSON_ACCEPT });
      assert.equal(response.status, 409);
      assert.deepEqual(response.setCookies, []);
    });
  }

  test('refuses a name holding a letter of no particular script with 400: ˑ ʹ ʼ, the Arabic tatweel', async () => {
    assert.equal((await server.browser().signup('\u0639\u0644\u064a')).status, 200, 'علي');
    for (const username of ['ab\u02d1c', 'ab\u02b9c', 'ab\u02bcc', '\u0639\u0644\u0640\u064a']) {
      const response = await send(`${server.origin}/signup`, server.ca, 'POST', { form: { username, password: 'another password' }, headers: JSON_ACCEPT });
      assert.equal(response.status, 400, username);
      assert.equal((response.json as { field: string }).field, 'username');
    }
  });

  test('gives exactly one of many concurrent sign-ups of one name the account', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 6 }, () => send(`${server.origin}/signup`, server.ca, 'POST', { form: { username: 'racer', password: 'correct horse battery' } })),
    );
    assert.deepEqual(attempts.map((response) => response.status).sort(), [303, 409, 409, 409, 409, 409]);
    assert.equal((await storedUsers()).filter((user) => user.username === 'racer').length, 1);
  });

  const invalid: [name: string, body: Record<string, string>, status: number, message: RegExp][] = [
    ['a missing username', { password: 'correct horse battery' }, 400, /Missing field "username"/],
    ['a missing password', { username: 'dave' }, 400, /Missing field "password"/],
    ['a two-character username', { username: 'ab', password: 'correct horse battery' }, 400, /Username must be 3 to 32 characters/],
    ['a 33-character username', { username: 'x'.repeat(33), password: 'correct horse battery' }, 400, /Username must be 3 to 32 characters/],
    ['a username with a space', { username: 'da ve', password: 'correct horse battery' }, 400, /Username may only hold/],
    ['a username with markup', { username: '<b>dave</b>', password: 'correct horse battery' }, 400, /Username may only hold/],
    ['a seven-character password', { username: 'dave', password: '1234567' }, 400, /Password must be at least 8 characters/],
    ['a 1025-character password', { username: 'dave', password: 'p'.repeat(1025) }, 400, /Password must be at most 1024 characters/],
  ];
  for (const [name, body, status, message] of invalid) {
    test(`refuses ${name} with ${status} and a message saying what is wrong`, async () => {
      const response = await send(`${server.origin}/signup`, server.ca, 'POST', { form: body, headers: JSON_ACCEPT });
      assert.equal(response.status, status);
      assert.match((response.json as { error: string }).error, message);
      assert.deepEqual(response.setCookies, []);
    });
  }

  test('shows a form error next to its field on the page, keeping the typed username', async () => {
    const response = await send(`${server.origin}/signup`, server.ca, 'POST', { form: { username: 'erin', password: 'short' } });
    assert.equal(response.status, 400);
    assert.match(response.headers['content-type'] ?? '', /^text\/html/);
    assert.match(response.body, /<input id="username" name="username" [^>]*value="erin"/);
    assert.match(response.body, /<input id="password" [^>]*aria-describedby="password-error password-hint" aria-invalid="true"/);
    assert.match(response.body, /<p id="password-error" class="error" role="alert">Password must be at least 8 characters<\/p>/);
  });

  test('refuses a body over 16 KiB with 413', async () => {
    const response = await send(`${server.origin}/signup`, server.ca, 'POST', {
      form: { username: 'big', password: 'x'.repeat(17 * 1024) },
      headers: JSON_ACCEPT,
    });
    assert.equal(response.status, 413);
  });

  test('refuses other content types with 415 and accepts a UTF-8 charset parameter', async () => {
    const url = `${server.origin}/signup`;
    const plain = await send(url, server.ca, 'POST', { body: 'username=x', headers: { 'content-type': 'text/plain', ...JSON_ACCEPT } });
    assert.equal(plain.status, 415);
    const multipart = await send(url, server.ca, 'POST', { body: 'x', headers: { 'content-type': 'multipart/form-data; boundary=x', ...JSON_ACCEPT } });
    assert.equal(multipart.status, 415);
    const latin1 = await send(url, server.ca, 'POST', { form: { username: 'latin', password: 'correct horse battery' }, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1', ...JSON_ACCEPT } });
    assert.equal(latin1.status, 415);
    const utf8 = await send(url, server.ca, 'POST', { form: { username: 'utf8er', password: 'correct horse battery' }, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } });
    assert.equal(utf8.status, 303);
  });

  test('refuses a repeated field and invalid UTF-8 with 400', async () => {
    const url = `${server.origin}/signup`;
    const form = { 'content-type': 'application/x-www-form-urlencoded', ...JSON_ACCEPT };
    const repeated = await send(url, server.ca, 'POST', { body: 'username=a1a&username=b2b&password=correct+horse', headers: form });
    assert.equal(repeated.status, 400);
    assert.match((repeated.json as { error: string }).error, /field "username" is repeated/);
    const badUtf8 = await send(url, server.ca, 'POST', { body: 'username=%FF%FE&password=correct+horse', headers: form });
    assert.equal(badUtf8.status, 400);
    assert.match((badUtf8.json as { error: string }).error, /percent-escape is malformed or not UTF-8/);
    const nonString = await send(url, server.ca, 'POST', { json: { username: ['x'], password: 'correct horse battery' }, headers: JSON_ACCEPT });
    assert.equal(nonString.status, 400);
    assert.match((nonString.json as { error: string }).error, /field "username" must be a string/);
  });
});
