/**
 * POST /signup on the minimal server: the 303 that carries the JWT in its cookie, the browser following
 * it to /order with the cookie, what is stored, and the names and passwords it refuses.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from '../../scripts/support/forge_jwt.ts';
import { send } from '../helpers/https_client.ts';
import { MINIMAL_ISSUER, launchMinimalServer, minimalUsers } from '../helpers/minimal_server.ts';
import { RUNTIME, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchMinimalServer();
});
after(async () => {
  await server.stop();
});

const PASSWORD = 'correct horse battery';
const postSignup = (form: Record<string, string>) => send(`${server.origin}/signup`, server.ca, 'POST', { form });

describe(`POST /signup (${RUNTIME})`, () => {
  test('answers 303 to /order, with no body, the JWT in a __Host- cookie with every attribute, and no-store', async () => {
    const response = await postSignup({ username: 'alice', password: PASSWORD });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order');
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.body, '');
    assert.equal(response.setCookies.length, 1);
    assert.match(response.setCookies[0]!, /^__Host-jwt=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=900; HttpOnly; Secure; SameSite=Lax$/);
  });

  test('signs an HS256 token naming the user, with iat, exp, iss, aud and jti, and a Max-Age of exp - iat', async () => {
    const response = await postSignup({ username: 'maxage', password: PASSWORD });
    const setCookie = response.setCookies[0]!;
    const { header, payload } = decodeJwt(setCookie.slice('__Host-jwt='.length, setCookie.indexOf(';')));
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
    assert.equal(payload.sub, 'maxage');
    assert.equal(payload.iss, MINIMAL_ISSUER);
    assert.equal(payload.aud, MINIMAL_ISSUER);
    assert.equal(Number(/Max-Age=(\d+)/.exec(setCookie)![1]), (payload.exp as number) - (payload.iat as number));
  });

  test('a browser follows the 303 with a GET, sends the cookie back on its own, and /order names the user', async () => {
    const browser = server.browser();
    const landed = await browser.signup('bob', PASSWORD);
    assert.deepEqual(landed.hops, ['/signup', '/order']);
    assert.equal(landed.status, 200);
    assert.equal(landed.headers['cache-control'], 'no-store');
    assert.match(landed.body, /Hello, <span class="username">bob<\/span>/);
    assert.ok(await browser.cookie('__Host-jwt'));
  });

  test('stores an argon2id hash at OWASP cost in users.json, never the password, readable by its owner only', async () => {
    await postSignup({ username: 'carol', password: 'a very secret phrase' });
    const file = path.join(server.dataDir, 'users.json');
    assert.doesNotMatch(await readFile(file, 'utf8'), /a very secret phrase/);
    const carol = (await minimalUsers(server.dataDir)).find((user) => user.username === 'carol');
    assert.match(carol?.passwordHash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  test('refuses a taken name with 409, compared case-insensitively after NFKC, and sets no cookie', async () => {
    assert.equal((await postSignup({ username: 'Dave', password: PASSWORD })).status, 303);
    for (const username of ['Dave', 'dave', 'DAVE', 'ｄａｖｅ']) {
      const response = await postSignup({ username, password: 'another password' });
      assert.equal(response.status, 409, username);
      assert.match(response.body, new RegExp(`The username &quot;${username.normalize('NFKC')}&quot; is taken`));
      assert.deepEqual(response.setCookies, []);
    }
    assert.equal((await minimalUsers(server.dataDir)).filter((user) => user.username.toLowerCase() === 'dave').length, 1);
  });

  test('refuses a name or password the rules do not allow with 400 and a message, storing nothing and setting no cookie', async () => {
    const cases: { form: Record<string, string>; message: RegExp }[] = [
      { form: { username: 'ab', password: PASSWORD }, message: /Username must be 3 to 32 letters, digits/ },
      { form: { username: 'x'.repeat(33), password: PASSWORD }, message: /Username must be 3 to 32 letters, digits/ },
      { form: { username: '<b>x</b>', password: PASSWORD }, message: /Username must be 3 to 32 letters, digits/ },
      { form: { username: 'no spaces', password: PASSWORD }, message: /Username must be 3 to 32 letters, digits/ },
      { form: { username: 'shorty', password: 'seven77' }, message: /Password must be at least 8 characters/ },
      { form: { password: PASSWORD }, message: /Username must be/ },
      { form: { username: 'nopassword' }, message: /Password must be/ },
    ];
    for (const { form, message } of cases) {
      const response = await postSignup(form);
      assert.equal(response.status, 400, JSON.stringify(form));
      assert.match(response.body, message);
      assert.deepEqual(response.setCookies, []);
    }
    const names = (await minimalUsers(server.dataDir)).map((user) => user.username);
    assert.ok(!names.includes('shorty') && !names.includes('nopassword'), names.join(', '));
  });
});
