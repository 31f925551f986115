/**
 * The cookie flow in a real browser, written once and run on every engine (`chromium.test.ts`,
 * `firefox.test.ts`, `webkit.test.ts`): sign up, stay signed in, refresh unseen, sign out (with the
 * access cookie expired too), sign back in with a `next` path, race a refresh in two tabs, refuse
 * cross-site forms, shrug off a popup another site opens on the refresh, use only the keyboard.
 *
 * What is asserted is what a person would see (the address bar, the page, the cookie store) and what
 * the server saw (each navigation's status, in order; any CSP violation a page reported). Every
 * scenario starts in a fresh profile and ends by checking that no page logged an error.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSelfSigned } from '../../lib/startup/certificate.ts';
import { html } from '../../lib/pages/html.ts';
import { send } from '../helpers/https_client.ts';
import { manualClock } from '../helpers/server.ts';
import { ARTIFACTS_DIR, missingPrograms, waitUntil, type Engine, type EngineBrowser, type Profile, type StoredCookie, type Tab, type Viewport } from './engines/engine.ts';
import { startWatched, type WatchedServer } from './watched_server.ts';

const PASSWORD = 'correct horse battery';

/** A scenario that takes longer has hung (a browser that never answers): fail it rather than wait for ever. */
const SCENARIO_TIMEOUT_MS = 180_000;

/**
 * The `skip` option of an engine's scenarios: `false` when the engine is installed, or when `CI=true`
 * (a missing browser must then fail the run, not pass it quietly); otherwise the reason, printed loudly.
 */
export function skipWithout(engine: Engine): string | false {
  const missing = missingPrograms(engine);
  if (missing === undefined || process.env.CI === 'true') return false;
  const reason = `SKIPPING THE ${engine.name.toUpperCase()} TESTS: ${missing}`;
  process.stderr.write(`\n!!! ${reason} !!!\n\n`);
  return reason;
}

/** Defines the whole scenario list for one engine. */
export function runScenarios(engine: Engine): void {
  // Each scenario is skipped, not the suite, so a run without the engine counts every test it missed.
  const skip = skipWithout(engine);
  const scenarioOptions = { timeout: SCENARIO_TIMEOUT_MS, skip };
  describe(`the cookie flow in ${engine.name}`, () => {
    const clock = manualClock();
    let server: WatchedServer;
    let browser: EngineBrowser;
    /** The attackers' servers and origins, by name, for the cross-site scenarios. */
    const attackers: Server[] = [];
    const attackerOrigins = new Map<Attacker, string>();

    before(async () => {
      if (skip) return;
      const missing = missingPrograms(engine);
      if (missing !== undefined) throw new Error(`Cannot run the ${engine.name} tests: ${missing}`);
      for (const gap of engine.gaps) process.stderr.write(`note: ${engine.name} cannot show the tests ${gap}\n`);
      server = await startWatched({ clock: clock.now });
      const otherSite = createHttpServer(attackerPages(server.origin));
      // Its own certificate, as a real other origin would have; the browser is told to trust it too.
      const sameSiteTls = await createSelfSigned();
      const sameSite = createHttpsServer({ cert: sameSiteTls.cert, key: sameSiteTls.key }, attackerPages(server.origin));
      attackers.push(otherSite, sameSite);
      attackerOrigins.set('another site', `http://localhost:${await listen(otherSite)}`);
      attackerOrigins.set('the same site on another port', `https://127.0.0.1:${await listen(sameSite)}`);
      browser = await engine.launch([server.ca, sameSiteTls.cert]);
    });
    after(async () => {
      await browser?.close();
      for (const attacker of attackers) attacker.closeAllConnections();
      await Promise.all(attackers.map((attacker) => new Promise((resolve) => attacker.close(resolve))));
      await server?.close();
    });

    /**
     * Runs `body` in a fresh profile, then asserts, for every scenario alike, that no page logged a
     * console error (where the engine reports them) or reported a CSP violation.
     */
    async function visit(body: (profile: Profile, tab: Tab) => Promise<void>, viewport?: Viewport): Promise<void> {
      const profile = await browser.newProfile({ viewport });
      server.hops.length = 0;
      server.cspReports.length = 0;
      try {
        await body(profile, profile.tab);
        assert.deepEqual(profile.problems(), [], 'no console errors or uncaught exceptions');
        assert.deepEqual(server.cspReports, [], 'no CSP violations');
      } finally {
        await profile.close();
      }
    }

    /** Fills the sign-up form as a person would and waits for the page the 303 leads to. */
    async function signUp(tab: Tab, username: string): Promise<void> {
      await tab.goto(`${server.origin}/`);
      await tab.fill('#username', username);
      await tab.fill('#password', PASSWORD);
      await tab.clickAndWait('button[type=submit]');
      assert.equal(await tab.url(), `${server.origin}/order`);
    }

    const cookie = (cookies: StoredCookie[], name: string) => cookies.find((each) => each.name === name)?.value;
    const screenshotFile = async (name: string) => {
      await mkdir(ARTIFACTS_DIR, { recursive: true });
      return path.join(ARTIFACTS_DIR, `${name}-${engine.name.toLowerCase()}.png`);
    };

    test('signing up ends at /order naming the user, with HttpOnly cookies page script cannot read', scenarioOptions, async () => {
      await visit(async (profile, tab) => {
        await tab.goto(`${server.origin}/`);
        await tab.fill('#username', 'alice');
        await tab.fill('#password', PASSWORD);
        await tab.screenshot(await screenshotFile('signup'));
        await tab.clickAndWait('button[type=submit]');

        assert.deepEqual(server.hops, ['200 /', '303 /signup', '200 /order']);
        assert.equal(await tab.url(), `${server.origin}/order`);
        assert.equal(await tab.text('h1'), 'Hello, alice');
        assert.equal(await tab.title(), 'Your order');
        await tab.screenshot(await screenshotFile('order'));

        const store = await profile.cookies(server.origin);
        const jwt = cookie(store, '__Host-jwt');
        assert.match(jwt ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the cookie store holds __Host-jwt');
        assert.deepEqual(
          store.map(({ name, path, httpOnly, secure, sameSite }) => ({ name, path, httpOnly, secure, sameSite })).sort((a, b) => a.name.localeCompare(b.name)),
          [
            { name: '__Host-jwt', path: '/', httpOnly: true, secure: true, sameSite: 'Lax' },
            { name: '__Secure-device', path: '/login', httpOnly: true, secure: true, sameSite: 'Strict' },
            { name: '__Secure-refresh', path: '/session', httpOnly: true, secure: true, sameSite: 'Strict' },
          ],
        );
        // HttpOnly: an injected script (XSS) reading document.cookie finds no token to steal.
        const visibleToScript = await tab.evaluate<string>('return document.cookie');
        assert.doesNotMatch(visibleToScript, /__Host-jwt|__Secure-refresh|__Secure-device/);
        assert.equal(visibleToScript.includes(jwt!), false);

        // And the cookie keeps the user signed in on the next visit.
        server.hops.length = 0;
        await tab.goto(`${server.origin}/order`);
        assert.deepEqual(server.hops, ['200 /order']);
        assert.equal(await tab.text('h1'), 'Hello, alice');
      }, { width: 720, height: 480 });
    });

    test('once the access token has expired, /order goes through /session/refresh and back without the user noticing', scenarioOptions, async () => {
      await visit(async (profile, tab) => {
        await signUp(tab, 'returning');
        const before = await profile.cookies(server.origin);
        // Sixteen minutes later by the server's clock: the 15-minute access token is past its `exp`.
        // (The browser still sends the cookie, its Max-Age counts real time; the server must refuse it.)
        clock.advance(16 * 60 * 1000);
        server.hops.length = 0;

        await tab.goto(`${server.origin}/order`);

        assert.deepEqual(server.hops, ['303 /order', '303 /session/refresh?next=/order', '200 /order']);
        assert.equal(await tab.url(), `${server.origin}/order`);
        assert.equal(await tab.text('h1'), 'Hello, returning');
        const after = await profile.cookies(server.origin);
        assert.notEqual(cookie(after, '__Host-jwt'), cookie(before, '__Host-jwt'), 'a fresh access token');
        assert.notEqual(cookie(after, '__Secure-refresh'), cookie(before, '__Secure-refresh'), 'a rotated refresh token');
      });
    });

    /** Signs up in one tab, opens /order in a second, and lets the access token expire. */
    async function twoSignedInTabs(profile: Profile, first: Tab, username: string): Promise<Tab[]> {
      await signUp(first, username);
      const second = await profile.openTab();
      await second.goto(`${server.origin}/order`);
      clock.advance(16 * 60 * 1000);
      server.hops.length = 0;
      return [first, second];
    }

    test('two tabs refreshing at the same moment both stay signed in, each back on its own page', scenarioOptions, async () => {
      await visit(async (profile, first) => {
        const tabs = await twoSignedInTabs(profile, first, 'twotabs');
        const pages = ['/order?tab=1', '/order?tab=2'];

        // The server holds the first /session/refresh until the second has arrived, so both present the
        // same refresh token: the race the retry window exists for.
        const raced = server.holdRefreshes(2);
        for (const [i, tab] of tabs.entries()) await tab.startGoing(`${server.origin}/session/refresh?next=${encodeURIComponent(pages[i]!)}`);
        assert.equal(await raced, 2, 'both tabs were at /session/refresh together');

        for (const [i, tab] of tabs.entries()) {
          await waitUntil(`tab ${i + 1} to be back at ${pages[i]}`, async () => (await tab.url()) === `${server.origin}${pages[i]}` && (await tab.text('h1')) === 'Hello, twotabs');
        }
        assert.deepEqual(server.hops.filter((hop) => hop.startsWith('200')).sort(), ['200 /order?tab=1', '200 /order?tab=2']);

        // The token both tabs were given is good: neither refresh was taken for a stolen token's reuse.
        server.hops.length = 0;
        for (const [i, tab] of tabs.entries()) await tab.goto(`${server.origin}${pages[i]}`);
        assert.deepEqual(server.hops, ['200 /order?tab=1', '200 /order?tab=2']);
      });
    });

    test(`two tabs reloading /order at once: ${IDENTICAL_LOADS[engine.name]}`, scenarioOptions, async () => {
      await visit(async (profile, first) => {
        const tabs = await twoSignedInTabs(profile, first, 'samepage');
        // Both tabs are redirected to the same URL, /session/refresh?next=/order. Wait a little for the second
        // request at the barrier: it comes at once, or only after the first is answered.
        const raced = server.holdRefreshes(2, 5_000);
        for (const tab of tabs) await tab.startGoing(`${server.origin}/order`);
        assert.equal(await raced, IDENTICAL_LOADS_RACE[engine.name] ? 2 : 1, IDENTICAL_LOADS[engine.name]);

        for (const [i, tab] of tabs.entries()) {
          await waitUntil(`tab ${i + 1} to be back at /order`, async () => (await tab.url()) === `${server.origin}/order` && (await tab.text('h1')) === 'Hello, samepage');
        }
        assert.deepEqual(server.hops.filter((hop) => hop.includes('/session/refresh')), ['303 /session/refresh?next=/order', '303 /session/refresh?next=/order']);
      });
    });

    test('after signing out, /order leads to sign-in, and signing in returns to /order', scenarioOptions, async () => {
      await visit(async (profile, tab) => {
        await signUp(tab, 'leaver');
        await tab.clickAndWait('form[action="/session/logout"] button');
        assert.equal(await tab.url(), `${server.origin}/login`);
        assert.equal(await tab.text('h1'), 'Sign in');
        // Sign-out keeps the device cookie: it opens no session, it only marks a browser that signed in before.
        // Firefox may show its cookie store a moment after the page that cleared the cookies has loaded.
        const names = async () => (await profile.cookies(server.origin)).map((stored) => stored.name).sort();
        await waitUntil('the session cookies to leave the store', async () => (await names()).join() === '__Secure-device', 2_000).catch(() => {});
        assert.deepEqual(await names(), ['__Secure-device'], 'both session cookies are gone from the store');

        server.hops.length = 0;
        await tab.goto(`${server.origin}/order`);
        assert.deepEqual(server.hops, ['303 /order', '401 /session/refresh?next=/order']);
        assert.equal(await tab.text('h1'), 'Please sign in');

        await tab.clickAndWait('main a[href^="/login"]');
        assert.equal(await tab.url(), `${server.origin}/login?next=%2Forder`);
        await tab.fill('#username', 'leaver');
        await tab.fill('#password', PASSWORD);
        server.hops.length = 0;
        await tab.clickAndWait('button[type=submit]');
        assert.deepEqual(server.hops, ['303 /login', '200 /order']);
        assert.equal(await tab.url(), `${server.origin}/order`);
        assert.equal(await tab.text('h1'), 'Hello, leaver');
      });
    });

    test('signing out once the browser has dropped the expired access cookie still ends the session on the server', scenarioOptions, async () => {
      // A server of its own whose access tokens last 2 s, so the browser drops the cookie (its Max-Age
      // counts real time) while the page is open; the same certificate, which the browser trusts.
      const shortLived = await startWatched({ accessSeconds: 2, env: { TLS_CERT: server.config.tlsCertFile, TLS_KEY: server.config.tlsKeyFile } });
      const profile = await browser.newProfile();
      try {
        const tab = profile.tab;
        await tab.goto(`${shortLived.origin}/`);
        await tab.fill('#username', 'dropped');
        await tab.fill('#password', PASSWORD);
        await tab.clickAndWait('button[type=submit]');
        assert.equal(await tab.url(), `${shortLived.origin}/order`);
        const refresh = cookie(await profile.cookies(shortLived.origin), '__Secure-refresh')!;
        await new Promise((resolve) => setTimeout(resolve, 3_000)); // past the access cookie's Max-Age

        shortLived.hops.length = 0;
        await tab.clickAndWait('form[action="/session/logout"] button');
        assert.deepEqual(shortLived.hops, ['303 /session/logout', '200 /login']);
        assert.deepEqual(shortLived.cookiesSent.get('/session/logout'), ['__Secure-refresh'], 'the browser sent the refresh cookie only');
        const again = await send(`${shortLived.origin}/session/refresh`, shortLived.ca, 'POST', { headers: { cookie: `__Secure-refresh=${refresh}`, accept: 'application/json' } });
        assert.equal(again.status, 401, 'the old refresh token is refused: the session ended');
        assert.deepEqual(profile.problems(), []);
      } finally {
        await profile.close();
        await shortLived.close();
      }
    });

    for (const closeAfterMs of [0, 1_500]) {
      const when = closeAfterMs === 0 ? 'at once' : 'once it has loaded';
      test(`a popup another site opens on /session/refresh and closes ${when} rotates nothing: the user's own refresh goes through`, scenarioOptions, async () => {
        await visit(async (profile, tab) => {
          await signUp(tab, `popup-${closeAfterMs}`);
          const before = cookie(await profile.cookies(server.origin), '__Secure-refresh');
          clock.advance(16 * 60 * 1000); // the access token has expired: a refresh is due
          server.hops.length = 0;

          await tab.goto(`${attackerOrigins.get('another site')}/popup?close=${closeAfterMs}`);
          await tab.clickAndWait('#prize'); // a click, so that no engine blocks the popup
          assert.match(await tab.url(), /\/closed\?opened=true$/, 'the popup was opened');
          // Closed at once, the request may never have left; left open a moment, it got the page to click through.
          const popupHops = server.hops.filter((hop) => hop.includes('/session/refresh'));
          if (closeAfterMs > 0) assert.deepEqual(popupHops, ['200 /session/refresh?next=/order']);
          else assert.ok(popupHops.every((hop) => hop === '200 /session/refresh?next=/order'), popupHops.join());
          assert.equal(cookie(await profile.cookies(server.origin), '__Secure-refresh'), before, 'the refresh token was not rotated');

          clock.advance(60 * 1000); // well past the retry window
          server.hops.length = 0;
          await tab.goto(`${server.origin}/order`);
          assert.deepEqual(server.hops, ['303 /order', '303 /session/refresh?next=/order', '200 /order']);
          assert.equal(await tab.text('h1'), `Hello, popup-${closeAfterMs}`);
        });
      });
    }

    test('a link from another site, with the access token expired, leads to a page whose one click renews the session and returns', scenarioOptions, async () => {
      await visit(async (profile, tab) => {
        await signUp(tab, 'linked');
        clock.advance(16 * 60 * 1000);
        await tab.goto(`${attackerOrigins.get('another site')}/link`);
        server.hops.length = 0;
        await tab.clickAndWait('a');
        // The SameSite=Strict refresh cookie did not come along on a navigation from another site.
        assert.deepEqual(server.hops, ['303 /order', '200 /session/refresh?next=/order']);
        assert.equal(await tab.text('h1'), 'Continue');
        const before = cookie(await profile.cookies(server.origin), '__Secure-refresh');

        server.hops.length = 0;
        await tab.clickAndWait('main a[href^="/session/refresh"]');
        assert.deepEqual(server.hops, ['303 /session/refresh?next=%2Forder', '200 /order']);
        assert.equal(await tab.text('h1'), 'Hello, linked');
        assert.notEqual(cookie(await profile.cookies(server.origin), '__Secure-refresh'), before, 'renewed by the click');
      });
    });

    test('signing in with a next path returns to that path', scenarioOptions, async () => {
      await visit(async (profile, tab) => {
        await signUp(tab, 'wanderer');
        await profile.clearCookies(server.origin);
        await tab.goto(`${server.origin}/login?next=${encodeURIComponent('/order?from=bookmark')}`);
        await tab.fill('#username', 'wanderer');
        await tab.fill('#password', PASSWORD);
        server.hops.length = 0;
        await tab.clickAndWait('button[type=submit]');
        assert.deepEqual(server.hops, ['303 /login', '200 /order?from=bookmark']);
        assert.equal(await tab.url(), `${server.origin}/order?from=bookmark`);
        assert.equal(await tab.text('h1'), 'Hello, wanderer');
      });
    });

    test('the keyboard alone reaches every control, with a visible focus ring, and signs up', scenarioOptions, async () => {
      await visit(async (_profile, tab) => {
        await tab.goto(`${server.origin}/`);
        const seen: string[] = [];
        for (let i = 0; i < 4; i++) {
          await tab.press('Tab');
          const focused = await tab.evaluate<{ what: string; outline: string }>(`
            const element = document.activeElement;
            const style = getComputedStyle(element);
            return { what: element.tagName.toLowerCase() + (element.id ? '#' + element.id : ''), outline: style.outlineStyle + ' ' + style.outlineWidth };`);
          assert.match(focused.outline, /^solid [2-9]/, `${focused.what} shows a focus ring (outline: ${focused.outline})`);
          seen.push(focused.what);
        }
        assert.deepEqual(seen, ['input#username', 'input#password', 'button', 'a']);

        await tab.goto(`${server.origin}/`);
        await tab.press('Tab');
        await tab.type('keys');
        await tab.press('Tab');
        await tab.type(PASSWORD);
        await tab.pressEnterAndWait();
        // The second visit of / may be a revalidation: the page is a static file with an ETag (304).
        assert.match(server.hops.at(-3) ?? '', /^(200|304) \/$/);
        assert.deepEqual(server.hops.slice(-2), ['303 /signup', '200 /order']);
        assert.equal(await tab.text('h1'), 'Hello, keys');
      });
    });

    for (const { attacker, expectedSite } of ATTACKERS) {
      /** Opens the attacker's page, whose form posts to the app at once, and waits for the app's answer. */
      const visitAttacker = async (tab: Tab, formPath: '/signup' | '/session/logout'): Promise<void> => {
        await tab.goto(`${attackerOrigins.get(attacker)}${formPath}`).catch(() => undefined); // the form's post interrupts this load
        await waitUntil(`the answer to the forged ${formPath}`, async () => (await tab.url()) === `${server.origin}${formPath}` && (await tab.evaluate<string>('return document.readyState')) === 'complete');
      };

      test(`a form on ${attacker} cannot sign anyone up`, scenarioOptions, async () => {
        await visit(async (profile, tab) => {
          await visitAttacker(tab, '/signup');
          assert.deepEqual(server.hops, ['403 /signup']);
          assert.equal(await tab.text('h1'), '403 Forbidden');
          assert.match(await tab.text('[role=alert]'), new RegExp(`Sec-Fetch-Site: ${expectedSite}`));
          assert.deepEqual(await profile.cookies(server.origin), [], 'no cookie was set');
          assert.equal(await server.running.services.users.findByName('mallory'), undefined, 'no account was created');
        });
      });

      test(`a form on ${attacker} cannot sign the user out`, scenarioOptions, async () => {
        const victim = `victim-${expectedSite}`;
        await visit(async (profile, tab) => {
          await signUp(tab, victim);
          const before = snapshot(await profile.cookies(server.origin));
          assert.equal(before.length, 3); // access, refresh and device cookies
          server.hops.length = 0;

          await visitAttacker(tab, '/session/logout');
          assert.deepEqual(server.hops, ['403 /session/logout']);
          assert.match(await tab.text('[role=alert]'), new RegExp(`Sec-Fetch-Site: ${expectedSite}`));
          assert.deepEqual(snapshot(await profile.cookies(server.origin)), before, 'no cookie was cleared or replaced');

          // And the session itself was not ended on the server: the same cookies still open /order.
          await tab.goto(`${server.origin}/order`);
          assert.equal(await tab.url(), `${server.origin}/order`);
          assert.equal(await tab.text('h1'), `Hello, ${victim}`);
        });
      });
    }

    test('the watch itself notices a CSP violation, so "no violations" above means something', scenarioOptions, async () => {
      const profile = await browser.newProfile();
      try {
        await profile.tab.goto(`${server.origin}/`);
        server.cspReports.length = 0;
        // The script runs outside the CSP; the <script> it inserts is judged by it, and refused.
        await profile.tab.evaluate(`
          const script = document.createElement('script');
          script.textContent = 'document.title = "pwned"';
          document.body.append(script);`);
        assert.equal(await profile.tab.title(), 'Sign up');
        await waitUntil('the CSP report', () => Promise.resolve(server.cspReports.length > 0));
        assert.match(server.cspReports[0]!, /^script-src(-elem)? refused inline/);
      } finally {
        await profile.close();
      }
    });
  });
}

/**
 * Whether an engine sends two loads of one URL at the same time, or holds the second until the first
 * is answered (request collapsing in its HTTP cache; see docs/browsers.md).
 */
const IDENTICAL_LOADS_RACE: Record<Engine['name'], boolean> = { Chromium: false, Firefox: false, WebKit: true };

const IDENTICAL_LOADS: Record<Engine['name'], string> = Object.fromEntries(
  Object.entries(IDENTICAL_LOADS_RACE).map(([name, races]) => [
    name,
    races ? 'both requests reach /refresh together, with the same refresh token' : 'the HTTP cache holds the second /refresh until the first is answered',
  ]),
) as Record<Engine['name'], string>;

type Attacker = 'another site' | 'the same site on another port';

/**
 * Who attacks, and what the browser tells the server about where the form came from. The app runs at
 * https://127.0.0.1:PORT.
 * - Another site, http://localhost:OTHER: SameSite=Lax already keeps the cookies off its POSTs; the
 *   server's check (Sec-Fetch-Site: cross-site) refuses them anyway.
 * - The same site on another port, https://127.0.0.1:OTHER: a site ignores the port, so the browser
 *   does send the Lax cookies along here: only the server's check stands between this page and the
 *   victim's session.
 */
const ATTACKERS: { attacker: Attacker; expectedSite: string }[] = [
  { attacker: 'another site', expectedSite: 'cross-site' },
  { attacker: 'the same site on another port', expectedSite: 'same-site' },
];

/**
 * The attacker's site: `/signup` and `/session/logout` each serve a page whose form posts to that path of
 * the app as soon as it loads. No CSP here: an attacker's page runs whatever script it likes.
 */
function attackerPages(target: string): RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://attacker');
    const page = attackerPage(url, target);
    if (page === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page.toString());
  };
}

/**
 * - `/signup`, `/session/logout`: a form that posts to that path of the app as soon as it loads;
 * - `/popup?close=<ms>`: a prize button that opens the app's `/session/refresh?next=/order` in a popup,
 *   closes it `ms` later, and goes on to `/closed?opened=<whether the popup opened>`;
 * - `/link`: a link to the app's `/order`.
 * Each page names an empty icon, so that no browser asks this server for a favicon it does not have.
 */
function attackerPage(url: URL, target: string): ReturnType<typeof html> | undefined {
  if (url.pathname === '/signup' || url.pathname === '/session/logout') {
    const fields = url.pathname === '/signup' ? html`<input name="username" value="mallory"><input name="password" value="${PASSWORD}">` : '';
    return html`<!doctype html>
<title>You won a prize</title>
<form method="post" action="${target}${url.pathname}">${fields}</form>
<script>document.forms[0].submit()</script>
`;
  }
  if (url.pathname === '/popup') {
    // The script is fixed text; what it needs comes from the button's data attributes.
    return html`<!doctype html>
<title>You won a prize</title>
<link rel="icon" href="data:,">
<button id="prize" data-target="${target}/session/refresh?next=/order" data-close-after="${url.searchParams.get('close') ?? '0'}">Claim your prize</button>
<script>
const prize = document.getElementById('prize');
prize.onclick = () => {
  const popup = window.open(prize.dataset.target, 'prize');
  setTimeout(() => {
    if (popup) popup.close();
    location.assign('/closed?opened=' + Boolean(popup));
  }, Number(prize.dataset.closeAfter));
};
</script>
`;
  }
  if (url.pathname === '/link') return html`<!doctype html>
<title>Your order is ready</title>
<link rel="icon" href="data:,">
<a href="${target}/order">See your order</a>
`;
  if (url.pathname === '/closed') return html`<!doctype html>
<title>Thanks</title>
<link rel="icon" href="data:,">
`;
  return undefined;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return String((server.address() as AddressInfo).port);
}

/** The cookies as a person could list them in the browser's settings. */
function snapshot(cookies: StoredCookie[]): string[] {
  return cookies.map((cookie) => `${cookie.name}=${cookie.value}; Path=${cookie.path}`).sort();
}
