/**
 * Chromium and Firefox through puppeteer-core, one adapter for both: over the Chrome DevTools
 * Protocol to Chromium, over WebDriver BiDi to Firefox. The engines differ only in how they are
 * launched (`chromium.ts`, `firefox.ts`); from there on, puppeteer's API is the same.
 */
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import type { EngineBrowser, Profile, StoredCookie, Tab, Viewport } from './engine.ts';

export class PuppeteerBrowser implements EngineBrowser {
  private readonly browser: Browser;

  constructor(browser: Browser) {
    this.browser = browser;
  }

  async newProfile(options: { viewport?: Viewport } = {}): Promise<Profile> {
    const profile = new PuppeteerProfile(await this.browser.createBrowserContext(), options.viewport);
    profile.tab = await profile.openTab();
    return profile;
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}

class PuppeteerProfile implements Profile {
  private readonly seen: string[] = [];
  tab!: Tab;

  private readonly context: BrowserContext;
  private readonly viewport: Viewport | undefined;

  constructor(context: BrowserContext, viewport: Viewport | undefined) {
    this.context = context;
    this.viewport = viewport;
  }

  async openTab(): Promise<Tab> {
    const page = await this.context.newPage();
    if (this.viewport) await page.setViewport(this.viewport);
    watchForErrors(page, this.seen);
    return new PuppeteerTab(page);
  }

  async cookies(origin: string): Promise<StoredCookie[]> {
    return (await this.cookiesOf(origin)).map(({ name, value, path, httpOnly = false, secure, sameSite = 'None' }) => ({ name, value, path, httpOnly, secure, sameSite }));
  }

  async clearCookies(origin: string): Promise<void> {
    await this.context.deleteCookie(...(await this.cookiesOf(origin)));
  }

  private async cookiesOf(origin: string) {
    const { hostname } = new URL(origin);
    return (await this.context.cookies()).filter((cookie) => cookie.domain === hostname);
  }

  problems(): string[] {
    return this.seen;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

/**
 * Adds the page's console errors and uncaught exceptions to `problems`, as they happen: CDP's console
 * and log events on Chromium, BiDi's `log.entryAdded` on Firefox.
 */
export function watchForErrors(page: Page, problems: string[]): void {
  /** Status of each document the tab loaded, to recognise Chromium's note about an error status. */
  const documentStatus = new Map<string, number>();
  page.on('response', (response) => {
    if (response.request().isNavigationRequest()) documentStatus.set(response.url(), response.status());
  });
  page.on('pageerror', (error) => problems.push(`uncaught ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location().url ?? 'no url';
    // Chromium logs any 4xx document as "Failed to load resource". A 409 or 403 page is the answer
    // we expect here, not a defect of the page; the same note about a stylesheet would be one.
    const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text())?.[1];
    if (status !== undefined && documentStatus.get(url) === Number(status)) return;
    problems.push(`console error: ${message.text()} (${url})`);
  });
}

class PuppeteerTab implements Tab {
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
