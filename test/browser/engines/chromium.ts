/**
 * Chromium: Debian's `chromium`, driven by playwright-core over the Chrome DevTools Protocol (see
 * `../chromium.ts`, which starts it trusting exactly the test servers' certificates).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROME_PATH, launchChromium } from '../chromium.ts';
import type { Engine, EngineBrowser, Profile, StoredCookie, Tab, Viewport } from './engine.ts';

export const chromium: Engine = {
  name: 'Chromium',
  needs: [{ file: CHROME_PATH, apt: 'chromium' }],
  gaps: [],
  launch: async (trust) => new ChromiumBrowser(await launchChromium(trust)),
};

class ChromiumBrowser implements EngineBrowser {
  private readonly browser: Browser;

  constructor(browser: Browser) {
    this.browser = browser;
  }

  async newProfile(options: { viewport?: Viewport } = {}): Promise<Profile> {
    const context = await this.browser.newContext(options.viewport ? { viewport: options.viewport } : {});
    const profile = new ChromiumProfile(context);
    profile.tab = await profile.openTab();
    return profile;
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}

class ChromiumProfile implements Profile {
  private readonly seen: string[] = [];
  tab!: Tab;

  private readonly context: BrowserContext;

  constructor(context: BrowserContext) {
    this.context = context;
  }

  async openTab(): Promise<Tab> {
    const page = await this.context.newPage();
    this.watch(page);
    return new PlaywrightTab(page);
  }

  private watch(page: Page): void {
    /** Status of each document the tab loaded, to recognise Chromium's note about an error status. */
    const documentStatus = new Map<string, number>();
    page.on('response', (response) => {
      if (response.request().isNavigationRequest()) documentStatus.set(response.url(), response.status());
    });
    page.on('pageerror', (error) => this.seen.push(`uncaught ${error.name}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      // Chromium logs any 4xx document as "Failed to load resource". A 409 or 403 page is the answer
      // we expect here, not a defect of the page; the same note about a stylesheet would be one.
      const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text())?.[1];
      if (status !== undefined && documentStatus.get(message.location().url) === Number(status)) return;
      this.seen.push(`console error: ${message.text()} (${message.location().url})`);
    });
  }

  async cookies(origin: string): Promise<StoredCookie[]> {
    const { hostname } = new URL(origin);
    return (await this.context.cookies())
      .filter((cookie) => cookie.domain === hostname)
      .map(({ name, value, path, httpOnly, secure, sameSite }) => ({ name, value, path, httpOnly, secure, sameSite }));
  }

  async clearCookies(origin: string): Promise<void> {
    await this.context.clearCookies({ domain: new URL(origin).hostname });
  }

  problems(): string[] {
    return this.seen;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

class PlaywrightTab implements Tab {
  private readonly page: Page;

  constructor(page: Page) {
    this.page = page;
  }

  async goto(url: string): Promise<void> {
    await this.page.goto(url);
  }

  async startGoing(url: string): Promise<void> {
    await this.page.evaluate((target) => void setTimeout(() => location.assign(target), 0), url);
  }

  url(): Promise<string> {
    return Promise.resolve(this.page.url());
  }

  title(): Promise<string> {
    return this.page.title();
  }

  async text(css: string): Promise<string> {
    return ((await this.page.locator(css).first().textContent()) ?? '').trim();
  }

  fill(css: string, value: string): Promise<void> {
    return this.page.locator(css).fill(value);
  }

  async clickAndWait(css: string): Promise<void> {
    await Promise.all([this.page.waitForNavigation(), this.page.locator(css).click()]);
  }

  press(key: 'Tab'): Promise<void> {
    return this.page.keyboard.press(key);
  }

  async pressEnterAndWait(): Promise<void> {
    await Promise.all([this.page.waitForNavigation(), this.page.keyboard.press('Enter')]);
  }

  type(text: string): Promise<void> {
    return this.page.keyboard.type(text);
  }

  evaluate<T>(body: string): Promise<T> {
    // A function built from text, as WebDriver's Execute Script does: the scenarios are engine-neutral.
    return this.page.evaluate(`(() => { ${body} })()`) as Promise<T>;
  }

  async screenshot(file: string): Promise<void> {
    await this.page.screenshot({ path: file, animations: 'disabled' });
  }
}
