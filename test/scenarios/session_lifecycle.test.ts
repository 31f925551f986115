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

/** Everything one store keeps on disk (its snapshot and its journals), as one text. */
async function storeFiles(dataDir: string, store: 'users' | 'sessions-v3'): Promise<string> {
  const names = (await readdir(dataDir)).filter((name) => name.startsWith(`${store}.`));
  return (await Promise.all(names.map((name) => readFile(path.join(dataDir, name), 'utf8')))).join('\n');
}

/** A sign-out's answer: 303 to /login, both session cookies cleared with the Path and attributes they were set with. */
function assertSentToLoginWithCookiesCleared(response: { status: number; headers: Record<string, unknown>; setCookies: string[] }): void {
  assert.equal(response.status, 303);
  assert.equal(response.headers.location, '/login');
  assert.deepEqual(response.setCookies, [
    '__Host-jwt=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax',
    '__Secure-refresh=; Path=/session; Max-Age=0; HttpOnly; Secure; SameSite=Strict',
  ]);
}

/** Sends /session/refresh with exactly this refresh token, as a second tab or a thief would. */
function refreshWith(token: string, method = 'GET') {
  return server.browser().request(method, '/session/refresh?next=/order', { headers: { cookie: `__Secure-refresh=${token}` } });
}

describe('the refresh dance', () => {
  test('an expired access token sends the browser through /session/refresh and back to /order, signed in', async () => {
    const oldRefresh = await browser.cookie('__Secure-refresh', '/session/refresh');
    clock.advance(16 * MINUTE);
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/session/refresh?next=/order', '/order']);
    assert.equal(response.status, 200);
    assert.match(response.body, /Hello, <span class="username">user\d+<\/span>/);
    assert.notEqual(await browser.cookie('__Secure-refresh', '/session/refresh'), oldRefresh, 'the refresh token was rotated');
  });

  test('a cookie the browser already dropped at Max-Age is refreshed the same way', async () => {
    await browser.expire('__Host-jwt');
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/session/refresh?next=/order', '/order']);
    assert.equal(response.status, 200);
  });

  test('the refresh cookie is sent to the session\'s own requests, refresh and sign-out, and nowhere else', async () => {
    for (const path of ['/session/refresh', '/session/logout', '/session/logout-everywhere']) assert.ok(await browser.cookie('__Secure-refresh', path), path);
    for (const path of ['/order', '/', '/login', '/sessions']) assert.equal(await browser.cookie('__Secure-refresh', path), undefined, path);
  });

  test('a JSON client gets 401 at once and can POST /session/refresh for 204 and new cookies', async () => {
    clock.advance(16 * MINUTE);
    const order = await browser.request('GET', '/order', { headers: JSON_ACCEPT });
    assert.equal(order.status, 401);
    assert.deepEqual(order.json, { error: 'Your session has expired: sign in again' });

    const refreshed = await browser.request('POST', '/session/refresh', { headers: JSON_ACCEPT });
    assert.equal(refreshed.status, 204);
    assert.equal(refreshed.setCookies.length, 2);
    assert.equal((await browser.request('GET', '/order', { headers: JSON_ACCEPT })).status, 200);
  });

  test('without a refresh cookie, /session/refresh is a 401 page linking to the login with next', async () => {
    const response = await server.browser().request('GET', '/session/refresh?next=/order');
    assert.equal(response.status, 401);
    assert.match(response.body, /<a href="\/login\?next=%2Forder">Sign in<\/a>/);
    assert.match(response.body, /<a href="\/">Create an account<\/a>/, 'and, for a first-time visitor, to sign-up');
    assert.equal((await server.browser().navigate('GET', '/order')).hops.at(-1), '/session/refresh?next=/order');
  });

  test('/session/refresh only redirects to a same-origin next', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    const response = await server.browser().request('GET', '/session/refresh?next=//evil.example/', { headers: { cookie: `__Secure-refresh=${token}` } });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order');
  });
});

describe('refresh token rotation', () => {
  /** The token in a 303's refresh cookie. */
  const tokenIn = (response: { setCookies: string[] }) => /__Secure-refresh=([^;]+)/.exec(response.setCookies.join('\n'))![1]!;

  test('a replaced token presented past the retry window ends the session: the holder of the newer token must sign in too', async () => {
    const first = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    await browser.expire('__Host-jwt');
    assert.equal((await browser.navigate('GET', '/order')).status, 200);
    const second = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    assert.notEqual(second, first);

    clock.advance(11_000);
    const replay = await refreshWith(first);
    assert.equal(replay.status, 401);
    assert.match(replay.body, /used twice/);
    assert.equal(replay.setCookies.length, 1, 'no new access token, only the refresh cookie cleared');
    assert.match(replay.setCookies[0]!, /^__Secure-refresh=; Path=\/session; Max-Age=0;/);

    // The legitimate holder's newer token died with the session: both must log in again, and the
    // access token issued with it stops opening /order at once, not when it expires.
    assert.equal((await refreshWith(second)).status, 401);
    const order = await browser.request('GET', '/order', { headers: JSON_ACCEPT });
    assert.equal(order.status, 401);
    assert.deepEqual(order.json, { error: 'This session was signed out: sign in again' });
  });

  test('a rotation whose answer never arrived, retried within the retry window, gets the same token and keeps the session', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    const lost = await refreshWith(token); // the answer a dropped connection never delivered
    assert.equal(lost.status, 303);
    clock.advance(5_000);

    await browser.expire('__Host-jwt');
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/session/refresh?next=/order', '/order']);
    assert.equal(response.status, 200);
    assert.equal(await browser.cookie('__Secure-refresh', '/session/refresh'), tokenIn(lost));
  });

  test('a repeat and a rotation look alike: the same status, Location, headers, cookie attributes and Max-Age, and body', async () => {
    const other = server.browser();
    await other.signup(`other${counter}`);
    const mine = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    const theirs = (await other.cookie('__Secure-refresh', '/session/refresh'))!;
    await refreshWith(mine); // replaced now; presented again below, within the window
    clock.advance(3_000);
    const [repeat, rotation] = [await refreshWith(mine), await refreshWith(theirs)];
    const shape = (response: typeof repeat) => ({
      status: response.status,
      headers: Object.keys(response.headers).filter((name) => name !== 'date').sort(),
      location: response.headers.location,
      cookies: response.setCookies.map((cookie) => cookie.replace(/=[^;]*/, '=…')),
      body: response.body,
    });
    assert.deepEqual(shape(repeat), shape(rotation));
    assert.match(repeat.setCookies.join('\n'), /__Secure-refresh=[^;]+; Path=\/session; Max-Age=604800;/);
  });

  test('a made-up token naming a real session (its id is on /order) is refused and ends nothing', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    const [sessionId] = token.split('.');
    for (const generation of [0, 1, 2]) {
      const forged = await refreshWith(`${sessionId}.${generation}.${'A'.repeat(43)}`);
      assert.equal(forged.status, 401);
      assert.doesNotMatch(forged.body, /used twice/);
    }
    clock.advance(11_000);
    assert.equal((await refreshWith(token)).status, 303, 'the session goes on');
  });

  test('two tabs refreshing with the same token at once both succeed with the same successor', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    const [tabA, tabB] = await Promise.all([refreshWith(token), refreshWith(token)]);
    assert.equal(tabA.status, 303);
    assert.equal(tabB.status, 303);
    const successor = (response: typeof tabA) => response.setCookies.find((cookie) => cookie.startsWith('__Secure-refresh='));
    assert.equal(successor(tabA), successor(tabB));

    clock.advance(5_000); // a slow third tab, still within the retry window
    assert.equal((await refreshWith(token)).status, 303);
    clock.advance(6_000); // a fourth, past it
    assert.equal((await refreshWith(token)).status, 401);
  });

  test('a refresh token lasts 7 days', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    clock.advance(7 * DAY + MINUTE);
    assert.equal((await refreshWith(token)).status, 401);
  });

  test('a session ends 30 days after login however often it is refreshed', async () => {
    let token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    for (let day = 6; day < 30; day += 6) {
      clock.advance(6 * DAY);
      const response = await refreshWith(token);
      assert.equal(response.status, 303, `day ${day}`);
      token = tokenIn(response);
    }
    clock.advance(6 * DAY);
    assert.equal((await refreshWith(token)).status, 401);
  });

  test('no refresh token is stored, nor its HMAC: only each session\'s generation', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    await server.running.services.sessions.flush();
    const files = await storeFiles(server.dataDir, 'sessions-v3');
    assert.match(files, /"generation":0/);
    assert.ok(!files.includes(token.split('.')[2]!));
  });
});

describe('logout', () => {
  test('clears both cookies with their own Path and attributes and answers 303 to /login', async () => {
    const response = await browser.request('POST', '/session/logout');
    assertSentToLoginWithCookiesCleared(response);
    assert.equal(await browser.cookie('__Host-jwt'), undefined);
    assert.equal(await browser.cookie('__Secure-refresh', '/session/refresh'), undefined);
  });

  test('the old access token no longer opens /order, even replayed by hand', async () => {
    const access = (await browser.cookie('__Host-jwt'))!;
    const refresh = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    const replayPage = () => server.browser().request('GET', '/order', { headers: { cookie: `__Host-jwt=${access}` } });
    assert.equal((await replayPage()).status, 200, 'before logout (and now the rendered page is remembered)');
    await browser.request('POST', '/session/logout');
    assert.equal((await replayPage()).status, 303, 'the remembered page is not served after logout');

    const replay = await server.browser().request('GET', '/order', { headers: { cookie: `__Host-jwt=${access}`, ...JSON_ACCEPT } });
    assert.equal(replay.status, 401);
    assert.deepEqual(replay.json, { error: 'This session was signed out: sign in again' });
    const thief = await refreshWith(refresh);
    assert.equal(thief.status, 401, 'the refresh token died with the session');
    assert.equal(thief.setCookies.some((cookie) => cookie.startsWith('__Host-jwt=') && !cookie.includes('Max-Age=0')), false);
  });

  test('works with only an access token that has already expired, authentic: it names the session', async () => {
    const access = (await browser.cookie('__Host-jwt'))!;
    const refresh = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    clock.advance(20 * MINUTE);
    const response = await server.browser().request('POST', '/session/logout', { headers: { cookie: `__Host-jwt=${access}` } });
    assert.equal(response.status, 303);
    assert.equal((await refreshWith(refresh)).status, 401);
  });

  test('ends the session on the server even once the browser has dropped the expired access cookie', async () => {
    const refresh = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    clock.advance(20 * MINUTE);
    await browser.expire('__Host-jwt'); // its Max-Age ran out: the browser sends no access cookie
    assert.equal((await browser.request('POST', '/session/logout')).status, 303);
    assert.equal((await refreshWith(refresh)).status, 401, 'the refresh token no longer renews the session');
  });

  test('a made-up refresh cookie naming a real session ends nothing, and is answered like any sign-out', async () => {
    const token = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
    const [sessionId] = token.split('.');
    const response = await server.browser().request('POST', '/session/logout', { headers: { cookie: `__Secure-refresh=${sessionId}.0.${'A'.repeat(43)}` } });
    assert.equal(response.status, 303);
    assert.equal((await browser.request('GET', '/order', { headers: JSON_ACCEPT })).status, 200, 'the session goes on');
  });

  test('after logout, /order leads to a 401 page that links to the login', async () => {
    await browser.request('POST', '/session/logout');
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/session/refresh?next=/order']);
    assert.equal(response.status, 401);
  });
});

describe('sign out everywhere', () => {
  /** Another browser signed in to the same account. */
  async function secondBrowser() {
    const other = server.browser();
    assert.equal((await other.request('POST', '/login', { form: { username: `user${counter}`, password: 'correct horse battery' } })).status, 303);
    return other;
  }

  test('/order lists the account\'s live sessions, this one marked, and a POST from it ends every one of them', async () => {
    const other = await secondBrowser();
    const stranger = server.browser();
    await stranger.signup(`stranger${counter}`);
    const page = await browser.request('GET', '/order');
    assert.equal((page.body.match(/<tr( class="current")?><td>/g) ?? []).length, 2, 'two sessions listed');
    assert.equal((page.body.match(/<tr class="current">/g) ?? []).length, 1, 'one marked as this browser\'s');
    assert.match(page.body, /<form method="post" action="\/session\/logout-everywhere">/);

    const response = await browser.request('POST', '/session/logout-everywhere');
    assertSentToLoginWithCookiesCleared(response);
    assert.equal((await other.request('GET', '/order', { headers: JSON_ACCEPT })).status, 401, 'the other browser is signed out at once');
    assert.equal((await other.request('POST', '/session/refresh', { headers: JSON_ACCEPT })).status, 401, 'and cannot refresh');
    assert.equal((await stranger.request('GET', '/order', { headers: JSON_ACCEPT })).status, 200, 'another account goes on');
    const account = await server.running.services.users.findByName(`user${counter}`);
    assert.deepEqual(account?.deviceIds, [], 'and the browsers the account trusted are forgotten: a thief\'s device cookie counts with everyone else');
  });

  test('works once the browser has dropped its expired access cookie: the refresh cookie proves the session', async () => {
    const other = await secondBrowser();
    clock.advance(20 * MINUTE);
    await browser.expire('__Host-jwt');
    assert.equal((await browser.request('POST', '/session/logout-everywhere')).status, 303);
    assert.equal((await other.request('POST', '/session/refresh', { headers: JSON_ACCEPT })).status, 401);
  });

  test('without a session, it is refused with a 401 page, and ends nothing', async () => {
    const other = await secondBrowser();
    const response = await server.browser().request('POST', '/session/logout-everywhere');
    assert.equal(response.status, 401);
    assert.match(response.body, /<a href="\/login\?next=%2Forder">Sign in<\/a>/);
    assert.equal((await other.request('GET', '/order', { headers: JSON_ACCEPT })).status, 200);
  });

  test('from another site it is refused with 403 before anything is done', async () => {
    const response = await browser.request('POST', '/session/logout-everywhere', { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(response.status, 403);
    assert.equal((await browser.request('GET', '/order', { headers: JSON_ACCEPT })).status, 200);
  });

  test('the session list on /order is never served stale: a refresh or a sign-out elsewhere shows at the next load', async () => {
    const other = await secondBrowser();
    const rows = async () => (await browser.request('GET', '/order')).body.match(/<tr( class="current")?><td>[^<]*<\/td><td>[^<]*/g) ?? [];
    const before = await rows();
    assert.equal(before.length, 2);
    clock.advance(MINUTE); // this browser's cookies, and so its Cookie header, stay the same
    assert.equal((await other.request('POST', '/session/refresh')).status, 204, 'the other browser refreshes');
    const afterRefresh = await rows();
    assert.equal(afterRefresh.length, 2);
    assert.notDeepEqual(afterRefresh, before, 'the other session\'s last refresh is shown');
    assert.equal((await other.request('POST', '/session/logout')).status, 303);
    assert.equal((await rows()).length, 1, 'the other session is gone from the list');
  });
});

describe('login', () => {
  test('starts a new session with new tokens and answers 303 to next', async () => {
    const before = { access: await browser.cookie('__Host-jwt'), refresh: await browser.cookie('__Secure-refresh', '/session/refresh') };
    const username = `user${counter}`;
    const response = await browser.request('POST', '/login', { form: { username, password: 'correct horse battery', next: '/order?from=login' } });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/order?from=login');
    assert.notEqual(await browser.cookie('__Host-jwt'), before.access);
    assert.notEqual(await browser.cookie('__Secure-refresh', '/session/refresh'), before.refresh);
    // A new session: the one from sign-up lives on separately until it is logged out.
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
