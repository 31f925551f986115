/**
 * The session lifecycle with a clock the test moves: access expiry, the refresh dance, rotation, reuse
 * detection, the two-tab race, logout, and the refresh and absolute session limits. No sleeping.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TestBrowser } from '../helpers/https_client.ts';
import { manualClock, makeTempDir, startInProcess, type InProcessServer } from '../helpers/server.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const JSON_ACCEPT = { accept: 'application/json' };

const clock = manualClock();
let server: InProcessServer;
before(async () => {
  server = await startInProcess({ clock: clock.now });
});
after(async () => {
  await server.close();
});

let counter = 0;
let browser: TestBrowser;
beforeEach(async () => {
  browser = server.browser();
  const response = await browser.signup(`user${++counter}`);
  assert.deepEqual(response.hops, ['/signup', '/order']);
});

/** Sends /refresh with exactly this refresh token, as a second tab or a thief would. */
/** Everything one store keeps on disk (its snapshot and its journals), as one text. */
async function storeFiles(dataDir: string, store: 'users' | 'sessions'): Promise<string> {
  const names = (await readdir(dataDir)).filter((name) => name.startsWith(`${store}.`));
  return (await Promise.all(names.map((name) => readFile(path.join(dataDir, name), 'utf8')))).join('\n');
}

function refreshWith(token: string, method = 'GET') {
  return server.browser().request(method, '/refresh?next=/order', { headers: { cookie: `__Secure-refresh=${token}` } });
}

describe('the refresh dance', () => {
  test('an expired access token sends the browser through /refresh and back to /order, signed in', async () => {
    const oldRefresh = await browser.cookie('__Secure-refresh', '/refresh');
    clock.advance(16 * MINUTE);
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/refresh?next=/order', '/order']);
    assert.equal(response.status, 200);
    assert.match(response.body, /Hello, <span class="username">user\d+<\/span>/);
    assert.notEqual(await browser.cookie('__Secure-refresh', '/refresh'), oldRefresh, 'the refresh token was rotated');
  });

  test('a cookie the browser already dropped at Max-Age is refreshed the same way', async () => {
    await browser.expire('__Host-jwt');
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/refresh?next=/order', '/order']);
    assert.equal(response.status, 200);
  });

  test('the refresh cookie is sent to /refresh and nowhere else', async () => {
    assert.ok(await browser.cookie('__Secure-refresh', '/refresh'));
    assert.equal(await browser.cookie('__Secure-refresh', '/order'), undefined);
    assert.equal(await browser.cookie('__Secure-refresh', '/logout'), undefined);
  });

  test('a JSON client gets 401 at once and can POST /refresh for 204 and new cookies', async () => {
    clock.advance(16 * MINUTE);
    const order = await browser.request('GET', '/order', { headers: JSON_ACCEPT });
    assert.equal(order.status, 401);
    assert.deepEqual(order.json, { error: 'Your session has expired: sign in again' });

    const refreshed = await browser.request('POST', '/refresh', { headers: JSON_ACCEPT });
    assert.equal(refreshed.status, 204);
    assert.equal(refreshed.setCookies.length, 2);
    assert.equal((await browser.request('GET', '/order', { headers: JSON_ACCEPT })).status, 200);
  });

  test('without a refresh cookie, /refresh is a 401 page linking to the login with next', async () => {
    const response = await server.browser().request('GET', '/refresh?next=/order');
    assert.equal(response.status, 401);
    assert.match(response.body, /<a href="\/login\?next=%2Forder">Sign in<\/a>/);
    assert.equal((await server.browser().navigate('GET', '/order')).hops.at(-1), '/refresh?next=/order');
  });

  test('/refresh only redirects to a same-origin next', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    const response = await server.browser().request('GET', '/refresh?next=//evil.example/', { headers: { cookie: `__Secure-refresh=${token}` } });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order');
  });
});

describe('refresh token rotation', () => {
  test('a rotated token presented again, once its successor was used and past the grace window, revokes the whole family', async () => {
    const first = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    for (let refresh = 0; refresh < 2; refresh++) {
      await browser.expire('__Host-jwt');
      assert.equal((await browser.navigate('GET', '/order')).status, 200);
    }
    const second = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    assert.notEqual(second, first);
    // The successor used too: the first token's exchange cannot have been one whose answer was lost.
    await browser.expire('__Host-jwt');
    assert.equal((await browser.navigate('GET', '/order')).status, 200);

    clock.advance(11_000);
    const replay = await refreshWith(first);
    assert.equal(replay.status, 401);
    assert.match(replay.body, /used twice/);
    assert.equal(replay.setCookies.length, 1, 'no new access token, only the refresh cookie cleared');
    assert.match(replay.setCookies[0]!, /^__Secure-refresh=; Path=\/refresh; Max-Age=0;/);

    // The legitimate holder's newer token died with the family: both must log in again, and the
    // access token issued with it stops opening /order at once, not when it expires.
    assert.equal((await refreshWith(second)).status, 401);
    const order = await browser.request('GET', '/order', { headers: JSON_ACCEPT });
    assert.equal(order.status, 401);
    assert.deepEqual(order.json, { error: 'This session was signed out: sign in again' });
  });

  test('a rotation whose answer never arrived does not end the session: the old token gets the same successor', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    const lost = await refreshWith(token); // the answer a dropped connection or a closed popup never delivered
    assert.equal(lost.status, 303);
    clock.advance(10 * MINUTE);

    await browser.expire('__Host-jwt');
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/refresh?next=/order', '/order']);
    assert.equal(response.status, 200);
    const lostToken = /__Secure-refresh=([\w-]+)/.exec(lost.setCookies.join('\n'))![1];
    assert.equal(await browser.cookie('__Secure-refresh', '/refresh'), lostToken);
  });

  test('two tabs refreshing with the same token at once both succeed with the same successor', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    const [tabA, tabB] = await Promise.all([refreshWith(token), refreshWith(token)]);
    assert.equal(tabA.status, 303);
    assert.equal(tabB.status, 303);
    const successor = (response: typeof tabA) => response.setCookies.find((cookie) => cookie.startsWith('__Secure-refresh='));
    assert.equal(successor(tabA), successor(tabB));

    clock.advance(5_000); // a slow third tab, still within the grace window
    assert.equal((await refreshWith(token)).status, 303);
  });

  test('a refresh token lasts 7 days', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    clock.advance(7 * DAY + MINUTE);
    assert.equal((await refreshWith(token)).status, 401);
  });

  test('a session ends 30 days after login however often it is refreshed', async () => {
    let token = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    for (let day = 6; day < 30; day += 6) {
      clock.advance(6 * DAY);
      const response = await refreshWith(token);
      assert.equal(response.status, 303, `day ${day}`);
      token = /__Secure-refresh=([\w-]+)/.exec(response.setCookies.join('\n'))![1]!;
    }
    clock.advance(6 * DAY);
    assert.equal((await refreshWith(token)).status, 401);
  });

  test('only hashes of refresh tokens are stored', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    await server.running.services.sessions.flush();
    const files = await storeFiles(server.dataDir, 'sessions');
    assert.match(files, /"hash":"[0-9a-f]{64}"/);
    assert.doesNotMatch(files, new RegExp(token));
  });
});

describe('logout', () => {
  test('clears both cookies with their own Path and attributes and answers 303 to /login', async () => {
    const response = await browser.request('POST', '/logout');
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/login');
    assert.deepEqual(response.setCookies, [
      '__Host-jwt=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax',
      '__Secure-refresh=; Path=/refresh; Max-Age=0; HttpOnly; Secure; SameSite=Lax',
    ]);
    assert.equal(await browser.cookie('__Host-jwt'), undefined);
    assert.equal(await browser.cookie('__Secure-refresh', '/refresh'), undefined);
  });

  test('the old access token no longer opens /order, even replayed by hand', async () => {
    const access = (await browser.cookie('__Host-jwt'))!;
    const refresh = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    const replayPage = () => server.browser().request('GET', '/order', { headers: { cookie: `__Host-jwt=${access}` } });
    assert.equal((await replayPage()).status, 200, 'before logout (and now the rendered page is remembered)');
    await browser.request('POST', '/logout');
    assert.equal((await replayPage()).status, 303, 'the remembered page is not served after logout');

    const replay = await server.browser().request('GET', '/order', { headers: { cookie: `__Host-jwt=${access}`, ...JSON_ACCEPT } });
    assert.equal(replay.status, 401);
    assert.deepEqual(replay.json, { error: 'This session was signed out: sign in again' });
    const thief = await refreshWith(refresh);
    assert.equal(thief.status, 401, 'the refresh token died with the session');
    assert.equal(thief.setCookies.some((cookie) => cookie.startsWith('__Host-jwt=') && !cookie.includes('Max-Age=0')), false);
  });

  test('works with an access token that has already expired', async () => {
    const refresh = (await browser.cookie('__Secure-refresh', '/refresh'))!;
    clock.advance(20 * MINUTE);
    assert.equal((await browser.request('POST', '/logout')).status, 303);
    assert.equal((await refreshWith(refresh)).status, 401);
  });

  test('after logout, /order leads to a 401 page that links to the login', async () => {
    await browser.request('POST', '/logout');
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/refresh?next=/order']);
    assert.equal(response.status, 401);
  });
});

describe('login', () => {
  test('starts a new session with new tokens and answers 303 to next', async () => {
    const before = { access: await browser.cookie('__Host-jwt'), refresh: await browser.cookie('__Secure-refresh', '/refresh') };
    const username = `user${counter}`;
    const response = await browser.request('POST', '/login', { form: { username, password: 'correct horse battery', next: '/order?from=login' } });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order?from=login');
    assert.notEqual(await browser.cookie('__Host-jwt'), before.access);
    assert.notEqual(await browser.cookie('__Secure-refresh', '/refresh'), before.refresh);
    // A new family: the session from sign-up lives on separately until it is logged out.
    assert.equal((await refreshWith(before.refresh!)).status, 303);
  });

  test('accepts the username in any case and width', async () => {
    const username = `USER${counter}`.replace('1', '１');
    assert.equal((await server.browser().request('POST', '/login', { form: { username, password: 'correct horse battery' } })).status, 303);
  });

  test('answers 401 with one message for a wrong password and an unknown user, keeping the typed name', async () => {
    const wrong = await server.browser().request('POST', '/login', { form: { username: `user${counter}`, password: 'not the password' } });
    const unknown = await server.browser().request('POST', '/login', { form: { username: 'nobody-here', password: 'not the password' } });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.match(wrong.body, /role="alert">Wrong username or password</);
    assert.equal(unknown.body.replace('nobody-here', `user${counter}`), wrong.body);
    assert.deepEqual(wrong.setCookies, []);
  });

  const nextTable: [next: string, location: string][] = [
    ['/order', '/order'],
    ['/order?tab=2', '/order?tab=2'],
    ['//evil.example', '/order'],
    ['/\\evil.example', '/order'],
    ['https://evil.example/', '/order'],
    ['/%0d%0aSet-Cookie:%20x=y', '/order'],
    ['/%2F%2Fevil.example', '/order'],
    ['/%5Cevil.example', '/order'],
    ['/\r\nSet-Cookie: x=y', '/order'],
    ['/.//evil.com', '/order'],
    ['/./\\evil', '/order'],
    ['/%2e/%2fevil.com', '/order'],
    ['/a/..//evil.com', '/order'],
    ['/a/../order?tab=2', '/order?tab=2'],
    ['javascript:alert(1)', '/order'],
    ['', '/order'],
  ];
  for (const [next, location] of nextTable) {
    test(`login with next=${JSON.stringify(next)} redirects to ${location}`, async () => {
      const response = await server.browser().request('POST', '/login', { form: { username: `user${counter}`, password: 'correct horse battery', next } });
      assert.equal(response.status, 303);
      assert.equal(response.headers.location, location);
    });
  }
});

describe('rehash on login', () => {
  test('a hash made with weaker parameters is replaced by one at the current policy', async () => {
    const dir = await makeTempDir();
    const weak = await startInProcess({ dir, passwords: { params: { memoryCost: 1024, timeCost: 1, parallelism: 1 } } });
    await weak.browser().signup('legacy');
    await weak.close();

    const current = await startInProcess({ dir, passwords: { params: { memoryCost: 2048, timeCost: 2, parallelism: 1 } } });
    try {
      const users = () => storeFiles(current.dataDir, 'users');
      assert.match(await users(), /m=1024,t=1,p=1/);
      const response = await current.browser().request('POST', '/login', { form: { username: 'legacy', password: 'correct horse battery' } });
      assert.equal(response.status, 303);
      assert.match(await users(), /"op":"setPasswordHash".*m=2048,t=2,p=1/);
      assert.equal((await current.browser().request('POST', '/login', { form: { username: 'legacy', password: 'correct horse battery' } })).status, 303);
    } finally {
      await current.close();
    }
  });
});
