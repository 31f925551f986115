/**
 * Cross-site request forgery, tried by a real browser: pages on other origins auto-submit forms to the
 * app. Each attempt must end in a 403 that creates nothing and leaves the browser's cookies as they were.
 *
 * The app runs at https://127.0.0.1:PORT. The attackers:
 * - another site, http://localhost:OTHER. SameSite=Lax already keeps the cookies off its POSTs; the
 *   server's check (Sec-Fetch-Site: cross-site) refuses them anyway.
 * - the same site on another port, https://127.0.0.1:OTHER. A site ignores the port, so the browser
 *   does send the Lax cookies along here: only the server's check (Sec-Fetch-Site: same-site) stands
 *   between this page and the victim's session.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Cookie, Page } from 'playwright-core';
import { createSelfSigned } from '../../lib/http/certificate.ts';
import { html } from '../../lib/pages/html.ts';
import { launchChromium, skipWithoutChromium, withVisit } from './chromium.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';

/**
 * The attacker's site: `/signup` and `/logout` each serve a page whose form posts to that path of the
 * app as soon as it loads. No CSP here: an attacker's page runs whatever script it likes.
 */
function attackerPages(target: string): RequestListener {
  return (req, res) => {
    const path = req.url === '/signup' || req.url === '/logout' ? req.url : undefined;
    if (path === undefined) {
      res.writeHead(404).end();
      return;
    }
    const fields = path === '/signup' ? html`<input name="username" value="mallory"><input name="password" value="${PASSWORD}">` : '';
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html`<!doctype html>
<title>You won a prize</title>
<form method="post" action="${target}${path}">${fields}</form>
<script>document.forms[0].submit()</script>
`.toString());
  };
}

async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return String((server.address() as AddressInfo).port);
}

/** The cookies as a person could list them in the browser's settings, minus what time changes. */
function snapshot(cookies: Cookie[]): string[] {
  return cookies.map((cookie) => `${cookie.name}=${cookie.value}; Path=${cookie.path}`).sort();
}

/** Who attacks, and what the browser tells the server about where the form came from. */
const ATTACKERS = [
  { attacker: 'another site', expectedSite: 'cross-site' },
  { attacker: 'the same site on another port', expectedSite: 'same-site' },
] as const;

describe('cross-site forms in a browser', { skip: skipWithoutChromium(import.meta.url) }, () => {
  let app: InProcessServer;
  let browser: Browser;
  /** The attackers' origins, by name, once their servers listen. */
  const origins = new Map<string, string>();
  const servers: Server[] = [];

  before(async () => {
    app = await startInProcess();
    const otherSite = createHttpServer(attackerPages(app.origin));
    // Its own certificate, as a real other origin would have; the browser is told to trust it too.
    const sameSiteTls = await createSelfSigned();
    const sameSite = createHttpsServer({ cert: sameSiteTls.cert, key: sameSiteTls.key }, attackerPages(app.origin));
    servers.push(otherSite, sameSite);
    origins.set('another site', `http://localhost:${await listen(otherSite, '127.0.0.1')}`);
    origins.set('the same site on another port', `https://127.0.0.1:${await listen(sameSite, '127.0.0.1')}`);
    browser = await launchChromium([app.ca, sameSiteTls.cert]);
  });
  after(async () => {
    await browser?.close();
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await app?.close();
  });

  /** Opens the attacker's page and waits for its form's answer from the app. */
  async function visitAttacker(page: Page, origin: string, path: '/signup' | '/logout'): Promise<number> {
    const answer = page.waitForResponse((response) => response.url() === `${app.origin}${path}` && response.request().method() === 'POST');
    await page.goto(`${origin}${path}`);
    const status = (await answer).status();
    await page.waitForURL(`${app.origin}${path}`);
    return status;
  }

  for (const { attacker, expectedSite } of ATTACKERS) {
    test(`a form on ${attacker} cannot sign anyone up`, async () => {
      const origin = origins.get(attacker)!;
      await withVisit(browser, async ({ page, cookies }) => {
        assert.deepEqual(await cookies(), []);
        assert.equal(await visitAttacker(page, origin, '/signup'), 403);

        assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), '403 Forbidden');
        assert.match((await page.getByRole('alert').textContent()) ?? '', new RegExp(`Sec-Fetch-Site: ${expectedSite}`));
        assert.deepEqual(await cookies(), [], 'no cookie was set');
        assert.equal((await app.running.services.users.findByName('mallory')), undefined, 'no account was created');
      });
    });

    test(`a form on ${attacker} cannot sign the user out`, async () => {
      const origin = origins.get(attacker)!;
      const victim = `victim-${expectedSite}`;
      await withVisit(browser, async ({ page, cookies }) => {
        await page.goto(`${app.origin}/`);
        await page.getByLabel('Username').fill(victim);
        await page.getByLabel('Password').fill(PASSWORD);
        await Promise.all([page.waitForURL(`${app.origin}/order`), page.getByRole('button', { name: 'Sign up' }).click()]);
        const before = snapshot(await cookies());
        assert.equal(before.length, 3); // access, refresh and device cookies

        assert.equal(await visitAttacker(page, origin, '/logout'), 403);
        assert.match((await page.getByRole('alert').textContent()) ?? '', new RegExp(`Sec-Fetch-Site: ${expectedSite}`));
        assert.deepEqual(snapshot(await cookies()), before, 'no cookie was cleared or replaced');

        // And the session itself was not ended on the server: the same cookies still open /order.
        await page.goto(`${app.origin}/order`);
        assert.equal(page.url(), `${app.origin}/order`);
        assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), `Hello, ${victim}`);
      });
    });
  }
});
