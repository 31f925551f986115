/**
 * A refresh whose answer never reached the client must not end the session. Another site can cause
 * one at will: it opens `/refresh?next=/order` in a popup (SameSite=Lax sends the refresh cookie on
 * that top-level navigation) and closes it a few milliseconds later. The server rotates the token, the
 * browser never receives the successor, and presents the old token again on its own next refresh,
 * well after the grace window for racing tabs. Here the client's connection is cut right after the
 * request is sent, which is what the closed popup does. A real replay must still be caught.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { TestBrowser } from '../helpers/https_client.ts';
import { openTls } from '../../scripts/support/wire.ts';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';
import { DEFAULT_LIFETIMES } from '../../lib/sessions/rules.ts';

const JSON_ACCEPT = { accept: 'application/json' };

let server: LaunchedServer;
let browser: TestBrowser;
/** The refresh token the browser held when the popup opened, and still holds. */
let original: string;

before(async () => {
  server = await launchServer();
  browser = server.browser();
  await browser.signup('popup-victim');
  original = (await browser.cookie('__Secure-refresh', '/refresh'))!;
});
after(async () => {
  await server.stop();
});

/** Sends GET /refresh with `token` and destroys the connection as soon as the request is written. */
async function refreshAndHangUp(token: string): Promise<void> {
  const socket = await openTls(server);
  socket.on('error', () => {});
  const request = `GET /refresh?next=/order HTTP/1.1\r\nHost: ${new URL(server.origin).host}\r\nCookie: __Secure-refresh=${token}\r\n\r\n`;
  await new Promise<void>((resolve) => socket.write(request, () => resolve()));
  socket.destroy();
}

/** Resolves once the server's log shows it answered `line`: the rotation is then done and stored. */
async function serverLogged(line: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!line.test(server.output())) {
    if (Date.now() > deadline) throw new Error(`The server never logged ${line}:\n${server.output()}`);
    await sleep(20);
  }
}

describe('a refresh cut off before its answer arrived', () => {
  test('does not end the session: the browser refreshes after the grace window and stays signed in', async () => {
    await refreshAndHangUp(original);
    await serverLogged(/GET \/refresh 303/); // the server rotated the token; the browser never saw the successor
    assert.equal(await browser.cookie('__Secure-refresh', '/refresh'), original);

    await sleep(DEFAULT_LIFETIMES.graceMs + 1000); // the browser's own refresh comes later than racing tabs would
    await browser.expire('__Host-jwt');
    const response = await browser.navigate('GET', '/order');
    assert.deepEqual(response.hops, ['/order', '/refresh?next=/order', '/order']);
    assert.equal(response.status, 200);
    assert.match(response.body, /popup-victim/);
    assert.notEqual(await browser.cookie('__Secure-refresh', '/refresh'), original, 'the browser now holds the successor');
  });

  test('a replay of the old token once its successor was used still revokes the session', async () => {
    await browser.expire('__Host-jwt');
    assert.equal((await browser.navigate('GET', '/order')).status, 200, 'the browser refreshes with the successor: it is used');

    const replay = await server.browser().request('GET', '/refresh?next=/order', { headers: { cookie: `__Secure-refresh=${original}` } });
    assert.equal(replay.status, 401);
    assert.match(replay.body, /used twice/);
    assert.equal((await browser.request('POST', '/refresh', { headers: JSON_ACCEPT })).status, 401, 'the browser\'s newer token died with the session');
    assert.equal((await browser.request('GET', '/order', { headers: JSON_ACCEPT })).status, 401);
  });
});
