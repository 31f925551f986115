/**
 * A page on another site opens `/session/refresh?next=/order` in a popup and closes it a few
 * milliseconds later (the round-2 popup attack): had the server rotated the token, the browser would
 * never receive the successor, and its own next refresh would present a replaced token and end the
 * session. It cannot: the refresh cookie is SameSite=Strict, so that navigation does not carry it, and
 * a navigation that started on another site is answered with a page to click through, which rotates
 * nothing even when a cookie does come along. Here the popup is a request with the headers a browser
 * sends on it, whose connection is cut as soon as it is written.
 *
 * A refresh of this site's own whose answer is lost (a dropped connection) is retried by the browser:
 * within the retry window that retry gets the same token again; after it, the token is a replaced one.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TestBrowser } from '../helpers/https_client.ts';
import { openTls } from '../../scripts/support/wire.ts';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';
import { DEFAULT_LIFETIMES } from '../../lib/sessions/rules.ts';

const JSON_ACCEPT = { accept: 'application/json' };
/** What a browser sends on a top-level navigation that another site started (a link, a popup). */
const FROM_ANOTHER_SITE = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

let server: LaunchedServer;
let browser: TestBrowser;
let counter = 0;
/** The refresh token the browser holds. */
let original: string;

before(async () => {
  server = await launchServer();
});
after(async () => {
  await server.stop();
});
beforeEach(async () => {
  browser = server.browser();
  await browser.signup(`popup-victim-${++counter}`);
  original = (await browser.cookie('__Secure-refresh', '/session/refresh'))!;
});

/** Sends GET /session/refresh with these headers and destroys the connection as soon as the request is written. */
async function refreshAndHangUp(headers: Record<string, string>): Promise<void> {
  const socket = await openTls(server);
  socket.on('error', () => {});
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  const request = `GET /session/refresh?next=/order HTTP/1.1\r\nHost: ${new URL(server.origin).host}\r\n${lines}\r\n`;
  await new Promise<void>((resolve) => socket.write(request, () => resolve()));
  socket.destroy();
}

/** Resolves once the server's log shows `line` for the `count`-th time: the request was answered. */
async function serverLogged(line: RegExp, count: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const seen = () => server.output().split('\n').filter((each) => line.test(each)).length;
  while (seen() < count) {
    if (Date.now() > deadline) throw new Error(`The server never logged ${line} ${count} times:\n${server.output()}`);
    await sleep(20);
  }
}

/** The browser's own refresh, once its access cookie has run out: through /session/refresh and back. */
async function browserRefreshes(): Promise<number> {
  await browser.expire('__Host-jwt');
  const response = await browser.navigate('GET', '/order');
  assert.deepEqual(response.hops, ['/order', '/session/refresh?next=/order', '/order']);
  return response.status;
}

const answeredSteps = () => server.output().split('\n').filter((line) => / GET \/session\/refresh 200 /.test(line)).length;

describe('a popup another site opens on /session/refresh and closes at once', () => {
  test('carries no refresh cookie (SameSite=Strict), is answered with a page to click through, and changes nothing', async () => {
    const before = answeredSteps();
    await refreshAndHangUp(FROM_ANOTHER_SITE);
    await serverLogged(/ GET \/session\/refresh 200 /, before + 1);
    assert.equal(await browser.cookie('__Secure-refresh', '/session/refresh'), original);
    assert.equal(await browserRefreshes(), 200, 'the browser\'s own refresh finds its token current');
  });

  test('rotates nothing even when a browser sends the cookie along, from another site or another port of this one', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const headers = { ...FROM_ANOTHER_SITE, 'sec-fetch-site': site };
      const step = await server.browser().request('GET', '/session/refresh?next=/order', { headers: { ...headers, cookie: `__Secure-refresh=${original}` } });
      assert.equal(step.status, 200, site);
      assert.deepEqual(step.setCookies, [], site);
      assert.match(step.body, /<a href="\/session\/refresh\?next=%2Forder">Continue to \/order<\/a>/, site);
      const before = answeredSteps();
      await refreshAndHangUp({ ...headers, cookie: `__Secure-refresh=${original}` });
      await serverLogged(/ GET \/session\/refresh 200 /, before + 1);
    }
    assert.equal(await browserRefreshes(), 200);
  });

  test('the page\'s link, followed from this site, renews the session and returns to next', async () => {
    const step = await browser.request('GET', '/session/refresh?next=/order', { headers: FROM_ANOTHER_SITE });
    const link = /<a href="([^"]+)">Continue/.exec(step.body)![1]!;
    await browser.expire('__Host-jwt');
    const response = await browser.navigate('GET', link.replaceAll('&amp;', '&'), { headers: { 'sec-fetch-site': 'same-origin' } });
    assert.deepEqual(response.hops, ['/session/refresh?next=%2Forder', '/order']);
    assert.equal(response.status, 200);
    assert.notEqual(await browser.cookie('__Secure-refresh', '/session/refresh'), original);
  });
});

describe('a refresh of this site\'s own whose answer is lost', () => {
  test('retried at once, as a browser reloading does, gets the same token and keeps the session', async () => {
    const before = server.output().split('\n').filter((line) => / GET \/session\/refresh 303 /.test(line)).length;
    await refreshAndHangUp({ cookie: `__Secure-refresh=${original}` });
    await serverLogged(/ GET \/session\/refresh 303 /, before + 1); // rotated; the browser never saw the answer
    assert.equal(await browserRefreshes(), 200);
    assert.equal((await browser.request('GET', '/order', { headers: JSON_ACCEPT })).status, 200);
  });

  test(`retried only after the ${DEFAULT_LIFETIMES.retryMs / 1000} s retry window, presents a replaced token: the session ends`, async () => {
    const before = server.output().split('\n').filter((line) => / GET \/session\/refresh 303 /.test(line)).length;
    await refreshAndHangUp({ cookie: `__Secure-refresh=${original}` });
    await serverLogged(/ GET \/session\/refresh 303 /, before + 1);
    await sleep(DEFAULT_LIFETIMES.retryMs + 1000);
    const replay = await browser.request('POST', '/session/refresh', { headers: JSON_ACCEPT });
    assert.equal(replay.status, 401);
    assert.match(String((replay.json as { error: string }).error), /used twice/);
    assert.equal((await browser.request('GET', '/order', { headers: JSON_ACCEPT })).status, 401);
  });
});
