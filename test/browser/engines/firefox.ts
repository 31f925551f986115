/**
 * Firefox: Debian's `firefox-esr`, which speaks WebDriver BiDi itself, driven by puppeteer-core over
 * that protocol. puppeteer-core never downloads a browser; it starts the one at `FIREFOX_PATH`, headless,
 * with a fresh temporary profile it deletes on close. (Playwright's own Firefox is a patched build
 * that cannot be installed from Debian, so playwright-core cannot drive this one.)
 */
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import type { Engine, EngineBrowser, Profile, StoredCookie, Tab, Viewport } from './engine.ts';

const FIREFOX_PATH = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';

export const firefox: Engine = {
  name: 'Firefox',
  needs: [{ file: FIREFOX_PATH, apt: 'firefox-esr' }],
  gaps: [],
  async launch() {
    const browser = await puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath: FIREFOX_PATH,
      headless: true,
      // Firefox has no flag to pin one certificate's key, as Chromium's SPKI list does: this trusts any.
      acceptInsecureCerts: true,
      extraPrefsFirefox: {
        // No internet here: keep Firefox from reaching out for updates, telemetry and safe browsing.
        'app.update.enabled': false,
        'browser.safebrowsing.malware.enabled': false,
        'browser.safebrowsing.phishing.enabled': false,
        'datareporting.policy.dataSubmissionEnabled': false,
        'network.captive-portal-service.enabled': false,
      },
    });
    return new FirefoxBrowser(browser);
  },
};

class FirefoxBrowser implements EngineBrowser {
  private readonly browser: Browser;

  constructor(browser: Browser) {
    this.browser = browser;
  }

  async newProfile(options: { viewport?: Viewport } = {}): Promise<Profile> {
    const context = await this.browser.createBrowserContext();
    const profile = new FirefoxProfile(context, options.viewport);
    await profile.init();
    return profile;
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}

class FirefoxProfile implements Profile {
  private readonly seen: string[] = [];
  tab!: Tab;

  private readonly context: BrowserContext;
  private readonly viewport: Viewport | undefined;

  constructor(context: BrowserContext, viewport: Viewport | undefined) {
    this.context = context;
    this.viewport = viewport;
  }

  async init(): Promise<void> {
    this.tab = await this.openTab();
  }

  async openTab(): Promise<Tab> {
    const page = await this.context.newPage();
    if (this.viewport) await page.setViewport(this.viewport);
    // BiDi's log.entryAdded: console.error calls and uncaught exceptions.
    page.on('console', (message) => {
      if (message.type() === 'error') this.seen.push(`console error: ${message.text()} (${message.location().url ?? 'no url'})`);
    });
    page.on('pageerror', (error) => this.seen.push(`uncaught ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`));
    return new PuppeteerTab(page);
  }

  async cookies(origin: string): Promise<StoredCookie[]> {
    const { hostname } = new URL(origin);
    return (await this.context.cookies())
      .filter((cookie) => cookie.domain === hostname)
      .map(({ name, value, path, httpOnly = false, secure, sameSite = 'None' }) => ({ name, value, path, httpOnly, secure, sameSite }));
  }

  async clearCookies(origin: string): Promise<void> {
    const { hostname } = new URL(origin);
    const cookies = (await this.context.cookies()).filter((cookie) => cookie.domain === hostname);
    await this.context.deleteCookie(...cookies);
  }

  problems(): string[] {
    return this.seen;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

export class PuppeteerTab implements Tab {
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

  text(css: string): Promise<string> {
    return this.page.$eval(css, (element) => element.textContent?.trim() ?? '');
  }

  async fill(css: string, value: string): Promise<void> {
    await this.page.locator(css).fill(value);
  }

  async clickAndWait(css: string): Promise<void> {
    await Promise.all([this.page.waitForNavigation(), this.page.click(css)]);
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
    await this.page.screenshot({ path: file as `${string}.png` });
  }
}
