/**
 * How the pages look in a browser: readable on a narrow phone, light and dark, nothing loaded from
 * anywhere else. Also saves the screenshots the README shows.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { createSelfSigned } from '../../lib/startup/certificate.ts';
import { button, field, launchChromium, screenshot, skipWithoutChromium, withVisit } from './chromium.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';

/** Names for the accounts these tests create; they show in the screenshots. */
const NAMES = ['ada', 'grace', 'alan', 'barbara', 'edsger', 'margaret'];
let accounts = 0;

/** The pages a visitor meets, each reached the way a person would reach it. */
const PAGES: { name: string; file: string; open(page: Page, origin: string): Promise<void> }[] = [
  { name: 'sign-up', file: 'signup', open: (page, origin) => page.goto(`${origin}/`).then(() => undefined) },
  { name: 'sign-in', file: 'login', open: (page, origin) => page.goto(`${origin}/login`).then(() => undefined) },
  {
    name: 'sign-up with an error',
    file: 'signup-error',
    async open(page, origin) {
      await page.goto(`${origin}/`);
      await page.locator(field('Username')).fill('x');
      await Promise.all([page.waitForNavigation(), page.locator(button('Sign up')).click()]);
    },
  },
  {
    name: 'order',
    file: 'order',
    async open(page, origin) {
      await page.goto(`${origin}/`);
      await page.locator(field('Username')).fill(NAMES[accounts++ % NAMES.length]!);
      await page.locator(field('Password')).fill(PASSWORD);
      await Promise.all([page.waitForNavigation(), page.locator(button('Sign up')).click()]);
      assert.equal(page.url(), `${origin}/order`);
    },
  },
  {
    name: 'session ended',
    file: 'session-ended',
    async open(page, origin) {
      const context = page.browserContext();
      await context.deleteCookie(...(await context.cookies())); // as if the refresh cookie had run out
      await page.goto(`${origin}/order`);
      assert.equal(await page.$eval('h1', (heading) => heading.textContent), 'Please sign in');
    },
  },
  { name: 'not found', file: 'not-found', open: (page, origin) => page.goto(`${origin}/no-such-page`).then(() => undefined) },
];

/** Relative luminance (WCAG 2.x) of a computed `rgb(r, g, b)` colour. */
function luminance(rgb: string): number {
  const [r = 0, g = 0, b = 0] = (rgb.match(/\d+(\.\d+)?/g) ?? []).map(Number).map((channel) => {
    const c = channel / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

async function colours(page: Page): Promise<{ background: string; text: string }> {
  return page.$eval('main', (main) => ({ background: getComputedStyle(main).backgroundColor, text: getComputedStyle(main).color }));
}

describe('the pages in a browser', { skip: skipWithoutChromium(import.meta.url) }, () => {
  let server: InProcessServer;
  let browser: Browser;
  before(async () => {
    server = await startInProcess();
    browser = await launchChromium([server.ca]);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('every page fits a 320px-wide phone without sideways scrolling, and loads nothing from elsewhere', async () => {
    await withVisit(
      browser,
      async ({ page }) => {
        const elsewhere: string[] = [];
        page.on('request', (request) => {
          if (!request.url().startsWith(`${server.origin}/`)) elsewhere.push(request.url());
        });
        for (const { name, open } of PAGES) {
          await open(page, server.origin);
          const { scrollWidth, innerWidth, fontSize } = await page.evaluate(() => ({
            scrollWidth: document.documentElement.scrollWidth,
            innerWidth: window.innerWidth,
            fontSize: parseFloat(getComputedStyle(document.body).fontSize),
          }));
          assert.equal(innerWidth, 320, `${name}: the viewport meta makes the page as wide as the phone`);
          assert.ok(scrollWidth <= innerWidth, `${name}: ${scrollWidth}px of content in a ${innerWidth}px screen`);
          assert.ok(fontSize >= 16, `${name}: body text is ${fontSize}px`);
        }
        assert.deepEqual(elsewhere, []);
      },
      { viewport: { width: 320, height: 640 }, isMobile: true, hasTouch: true },
    );
  });

  for (const colorScheme of ['light', 'dark'] as const) {
    test(`in the ${colorScheme} scheme, text is readable on its background`, async () => {
      await withVisit(
        browser,
        async ({ page }) => {
          for (const { name, file, open } of PAGES) {
            await open(page, server.origin);
            await screenshot(page, `${file}-${colorScheme}`);
            const { background, text } = await colours(page);
            assert.equal(luminance(background) > 0.5, colorScheme === 'light', `${name}: background ${background}`);
            assert.ok(contrast(background, text) >= 7, `${name}: ${text} on ${background} is ${contrast(background, text).toFixed(1)}:1`);
          }
        },
        { colorScheme, viewport: { width: 720, height: 480 } },
      );
    });
  }

  test('the browser trusts the test server\'s certificate, and not just any certificate', async () => {
    const stranger = await createSelfSigned(); // valid for 127.0.0.1 too, but its key is not on the list
    const other = createServer({ cert: stranger.cert, key: stranger.key }, (_req, res) => res.end('should not be reached'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      await withVisit(browser, async ({ page }) => {
        assert.equal((await page.goto(`${server.origin}/`))?.status(), 200);
        await assert.rejects(page.goto(`https://127.0.0.1:${(other.address() as AddressInfo).port}/`), /ERR_CERT_AUTHORITY_INVALID/);
      });
    } finally {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });
  // Keyboard focus rings: the shared scenarios (scenarios.ts) tab through the form in every engine.
});
