/**
 * A real browser through the whole session: sign up, stay signed in, refresh unseen, sign out, sign
 * back in. What is asserted is what a person would see: the address bar, the page, and the cookie store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot, skipWithoutChromium, withVisit } from './chromium.ts';
import { manualClock, startInProcess, type InProcessServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';

/** Fills the sign-up form as a person would and waits for the page the 303 leads to. */
async function signUp(page: Page, origin: string, username: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL(`${origin}/order`), page.getByRole('button', { name: 'Sign up' }).click()]);
}

describe('a browser through the session', { skip: skipWithoutChromium(import.meta.url) }, () => {
  const clock = manualClock();
  let server: InProcessServer;
  let browser: Browser;
  before(async () => {
    server = await startInProcess({ clock: clock.now });
    browser = await launchChromium([server.ca]);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('signing up ends at /order naming the user, with an HttpOnly cookie page script cannot read', async () => {
    await withVisit(browser, async ({ page, hops, cookies }) => {
      await page.goto(`${server.origin}/`);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(PASSWORD);
      await screenshot(page, 'signup');
      await Promise.all([page.waitForURL(`${server.origin}/order`), page.getByRole('button', { name: 'Sign up' }).click()]);

      assert.deepEqual(hops, ['200 /', '303 /signup', '200 /order']);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Hello, alice');
      assert.equal(await page.title(), 'Your order');

      const store = await cookies();
      const jwt = store.find((cookie) => cookie.name === '__Host-jwt');
      assert.ok(jwt, 'the cookie store holds __Host-jwt');
      assert.match(jwt.value, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.deepEqual(
        store.map(({ name, path, httpOnly, secure, sameSite }) => ({ name, path, httpOnly, secure, sameSite })).sort((a, b) => a.name.localeCompare(b.name)),
        [
          { name: '__Host-jwt', path: '/', httpOnly: true, secure: true, sameSite: 'Lax' },
          { name: '__Secure-device', path: '/login', httpOnly: true, secure: true, sameSite: 'Strict' },
          { name: '__Secure-refresh', path: '/refresh', httpOnly: true, secure: true, sameSite: 'Lax' },
        ],
      );
      // HttpOnly: an injected script (XSS) reading document.cookie finds no token to steal.
      const visibleToScript = await page.evaluate(() => document.cookie);
      assert.doesNotMatch(visibleToScript, /__Host-jwt|__Secure-refresh|__Secure-device/);
      assert.equal(visibleToScript.includes(jwt.value), false);
      await screenshot(page, 'order');
    }, { viewport: { width: 720, height: 480 } });
  });

  test('reloading /order keeps the user signed in', async () => {
    await withVisit(browser, async ({ page, hops }) => {
      await signUp(page, server.origin, 'reloader');
      await page.reload();
      assert.equal(page.url(), `${server.origin}/order`);
      assert.equal(hops.at(-1), '200 /order');
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Hello, reloader');
    });
  });

  test('once the access token has expired, /order goes through /refresh and back without the user noticing', async () => {
    await withVisit(browser, async ({ page, hops, cookies }) => {
      await signUp(page, server.origin, 'returning');
      const before = await cookies();
      // Sixteen minutes later by the server's clock: the 15-minute access token is past its `exp`.
      // (The browser still sends the cookie, its Max-Age counts real time; the server must refuse it.)
      clock.advance(16 * 60 * 1000);
      hops.length = 0;

      await page.goto(`${server.origin}/order`);

      assert.deepEqual(hops, ['303 /order', '303 /refresh?next=/order', '200 /order']);
      assert.equal(page.url(), `${server.origin}/order`);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Hello, returning');
      const after = await cookies();
      const value = (cookies: typeof before, name: string) => cookies.find((cookie) => cookie.name === name)?.value;
      assert.notEqual(value(after, '__Host-jwt'), value(before, '__Host-jwt'), 'a fresh access token');
      assert.notEqual(value(after, '__Secure-refresh'), value(before, '__Secure-refresh'), 'a rotated refresh token');
    });
  });

  test('after signing out, /order leads to sign-in, and signing in returns to /order', async () => {
    await withVisit(browser, async ({ page, hops, cookies }) => {
      await signUp(page, server.origin, 'leaver');
      await Promise.all([page.waitForURL(`${server.origin}/login`), page.getByRole('button', { name: 'Sign out' }).click()]);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
      // Sign-out keeps the device cookie: it opens no session, it only marks a browser that signed in before.
      assert.deepEqual((await cookies()).map((cookie) => cookie.name), ['__Secure-device'], 'both session cookies are gone from the store');

      hops.length = 0;
      await page.goto(`${server.origin}/order`);
      assert.deepEqual(hops, ['303 /order', '401 /refresh?next=/order']);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Please sign in');

      await Promise.all([page.waitForURL(`${server.origin}/login?next=%2Forder`), page.getByRole('link', { name: 'Sign in' }).click()]);
      await page.getByLabel('Username').fill('leaver');
      await page.getByLabel('Password').fill(PASSWORD);
      hops.length = 0;
      await Promise.all([page.waitForURL(`${server.origin}/order`), page.getByRole('button', { name: 'Sign in' }).click()]);
      assert.deepEqual(hops, ['303 /login', '200 /order']);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Hello, leaver');
    });
  });

  test('signing in with a next path returns to that path', async () => {
    await withVisit(browser, async ({ page, hops }) => {
      await signUp(page, server.origin, 'wanderer');
      await page.context().clearCookies();
      await page.goto(`${server.origin}/login?next=${encodeURIComponent('/order?from=bookmark')}`);
      await page.getByLabel('Username').fill('wanderer');
      await page.getByLabel('Password').fill(PASSWORD);
      hops.length = 0;
      await Promise.all([page.waitForURL(`${server.origin}/order?from=bookmark`), page.getByRole('button', { name: 'Sign in' }).click()]);
      assert.deepEqual(hops, ['303 /login', '200 /order?from=bookmark']);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Hello, wanderer');
    });
  });

  test('the page watch itself notices a CSP violation, so "no problems" above means something', async () => {
    await assert.rejects(
      withVisit(browser, async ({ page }) => {
        await page.goto(`${server.origin}/`);
        // page.evaluate runs outside the CSP; the <script> it inserts is judged by it, and refused.
        await page.evaluate(() => {
          const script = document.createElement('script');
          script.textContent = 'document.title = "pwned"';
          document.body.append(script);
        });
        assert.equal(await page.title(), 'Sign up');
      }),
      /CSP violation: script-src-elem refused inline/,
    );
  });
});
