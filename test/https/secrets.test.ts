/**
 * What an attacker can learn without guessing: whether an account exists (login failures must not
 * tell), what the server printed (no token, cookie, password or hash in any log line), and what other
 * local users can read (every secret file is mode 0600).
 */
import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { send, type TestResponse } from '../helpers/https_client.ts';
import { launchServer, makeTempDir, type LaunchedServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery staple';

let server: LaunchedServer;
/** Our own folder, so the files outlive the server for the last test. */
let dir: string;

before(async () => {
  dir = await makeTempDir();
  // No JWT_SECRET: the server generates one into DATA_DIR, so that file's mode can be checked too.
  server = await launchServer({ JWT_SECRET: '' }, dir);
  await server.browser().signup('alice', PASSWORD);
});

after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

function login(username: string, password: string, accept: string): Promise<TestResponse> {
  return send(`${server.origin}/login`, server.ca, 'POST', { form: { username, password }, headers: { accept } });
}

/** The headers a client could compare, without the one that differs by the clock. */
function comparableHeaders(response: TestResponse): Record<string, unknown> {
  const { date: _date, ...headers } = response.headers;
  return headers;
}

describe('login failures are identical for an unknown user and a wrong password', () => {
  test('as JSON: status, body and headers', async () => {
    const wrongPassword = await login('alice', 'not the password', 'application/json');
    const unknownUser = await login('nobody-here', 'not the password', 'application/json');
    assert.equal(wrongPassword.status, 401);
    assert.equal(unknownUser.status, wrongPassword.status);
    assert.equal(unknownUser.body, wrongPassword.body);
    assert.deepEqual(comparableHeaders(unknownUser), comparableHeaders(wrongPassword));
  });

  test('as the HTML page: the same but for the username the form echoes back', async () => {
    // Two names of one length, so even Content-Length must match.
    const wrongPassword = await login('alice', 'not the password', 'text/html');
    const unknownUser = await login('alicf', 'not the password', 'text/html');
    assert.equal(unknownUser.status, wrongPassword.status);
    assert.equal(unknownUser.body.replaceAll('alicf', 'NAME'), wrongPassword.body.replaceAll('alice', 'NAME'));
    assert.deepEqual(comparableHeaders(unknownUser), comparableHeaders(wrongPassword));
  });
});

test('a whole session lifecycle leaves no token, cookie value, password or hash in the log', async () => {
  const browser = server.browser();
  await browser.navigate('POST', '/login', { form: { username: 'alice', password: PASSWORD } });
  const access = (await browser.cookie('__Host-jwt'))!;
  const refresh = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
  assert.equal((await browser.request('GET', '/order')).status, 200);
  await browser.expire('__Host-jwt');
  assert.equal((await browser.navigate('GET', '/order')).status, 200, 'refreshed on the way');

  // Failures, and tokens pasted where they do not belong.
  await login('alice', 'a wrong password', 'text/html');
  await login('nobody', PASSWORD, 'application/json');
  await browser.request('POST', '/signup', { form: { username: 'alice', password: PASSWORD } });
  await browser.request('GET', `/order?token=${access}`);
  await browser.request('GET', `/${access}`);
  await browser.request('GET', `/session/refresh?next=/${refresh}`);
  await send(`${server.origin}/order`, server.ca, 'GET', { headers: { authorization: `Bearer ${access}` } });
  await send(`${server.origin}/order?refresh=${refresh}`, server.ca, 'GET', { headers: { cookie: `__Host-jwt=${access}x` } });
  assert.equal((await browser.request('POST', '/session/logout')).status, 303);
  await server.stop(); // stop before reading, so every line is flushed

  const users = JSON.parse(await readFile(path.join(server.dataDir, 'users.json'), 'utf8')) as { users: { passwordHash: string }[] };
  const cookieValues = browser.seenSetCookies.map((cookie) => cookie.slice(cookie.indexOf('=') + 1, cookie.indexOf(';'))).filter((value) => value !== '');
  const secrets = [
    PASSWORD,
    'a wrong password',
    (await readFile(path.join(server.dataDir, 'jwt-secret'), 'utf8')).trim(),
    ...cookieValues,
    // Each part of a JWT or a refresh token on its own, in case one were logged decoded or split (but
    // not a refresh token's generation, a small number that any log line may hold).
    ...cookieValues.flatMap((value) => value.split('.')).filter((part) => !/^\d+$/.test(part)),
    ...users.users.flatMap((user) => [user.passwordHash, user.passwordHash.split('$').at(-1)!]),
  ];
  assert.ok(cookieValues.length >= 6, 'the lifecycle handed out access and refresh cookies');

  const log = server.output();
  assert.match(log, /POST \/login 401/, 'the log was captured');
  for (const secret of secrets) assert.equal(log.includes(secret), false, `the log holds ${secret.slice(0, 12)}...`);
});

test('users.json, sessions-v3.json, jwt-secret and the TLS key are readable by their owner only', async () => {
  const dataDir = server.dataDir;
  const files = ['users.json', 'sessions-v3.json', 'jwt-secret'].map((name) => path.join(dataDir, name));
  files.push(path.join(path.dirname(dataDir), 'key.pem')); // where launchServer puts TLS_KEY
  for (const file of files) assert.equal((await stat(file)).mode & 0o777, 0o600, file);
  assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
});
