/**
 * A real browser for tests: the system's Chromium driven by puppeteer-core, trusting exactly the
 * test servers' certificates, and watching every page for console errors and CSP violations.
 *
 * puppeteer-core never downloads a browser; it drives the one at `CHROME_PATH` (default
 * `/usr/bin/chromium`, Debian's `apt-get install chromium`).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type BrowserContext, type Cookie, type Page } from 'puppeteer-core';
import { ARTIFACTS_DIR, isExecutable, type Viewport } from './engines/engine.ts';
import { watchForErrors } from './engines/puppeteer.ts';

export const CHROME_PATH = process.env.CHROME_PATH || '/usr/bin/chromium';

const INSTALL_HINT = `no Chromium at ${CHROME_PATH}: install it with \`apt-get install chromium\` (or set CHROME_PATH)`;

/**
 * The `skip` option for a browser suite: `false` when Chromium is there, or when `CI=true` (a missing
 * browser must then fail the run, not pass it quietly); otherwise the reason. `testFile` is the
 * caller's `import.meta.url`: only the first browser test file prints the reason as a banner, so a run
 * without Chromium says so once, loudly (each file runs in its own process and cannot tell the others).
 */
export function skipWithoutChromium(testFile: string): string | false {
  if (isExecutable(CHROME_PATH) || process.env.CI === 'true') return false;
  const reason = `SKIPPING THE BROWSER TESTS: ${INSTALL_HINT}`;
  const here = fileURLToPath(testFile);
  const first = readdirSync(path.dirname(here)).filter((name) => name.endsWith('.test.ts')).sort()[0];
  if (path.basename(here) === first) process.stderr.write(`\n!!! ${reason} !!!\n\n`);
  return reason;
}

/**
 * The base64 SHA-256 of a certificate's SubjectPublicKeyInfo: the form Chromium's
 * `--ignore-certificate-errors-spki-list` takes. Pinning the key this way trusts exactly our test
 * servers, where `acceptInsecureCerts` would accept any certificate at all.
 */
export function spkiFingerprint(certificatePem: string): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * Starts headless Chromium trusting the given certificates. puppeteer's `launch` gives it a fresh
 * temporary profile (its own `--user-data-dir`, which the SPKI flag needs) and deletes it on close.
 */
export async function launchChromium(trustedCertificates: readonly string[]): Promise<Browser> {
  if (!isExecutable(CHROME_PATH)) throw new Error(`Cannot run the browser tests: ${INSTALL_HINT}`);
  return puppeteer.launch({
    browser: 'chrome',
    executablePath: CHROME_PATH,
    headless: true,
    args: [
      '--no-sandbox', // tests run as root in CI containers, where Chromium's sandbox cannot start
      // No internet here: without these, Chromium keeps reaching for Google services in the background.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-gpu',
      '--disable-quic',
      `--ignore-certificate-errors-spki-list=${trustedCertificates.map(spkiFingerprint).join(',')}`,
    ],
  });
}

/** A browser context (one fresh profile: no cookies, no cache) with one page, watched. */
export interface Visit {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors, uncaught exceptions and CSP violations on any page so far. */
  readonly problems: string[];
  /** Every cookie in this context's store, whatever its site or Path. */
  cookies(): Promise<Cookie[]>;
}

/** The device a visit emulates: the page's size, a phone's touch screen, the colour scheme. */
export interface VisitOptions {
  viewport?: Viewport;
  isMobile?: boolean;
  hasTouch?: boolean;
  deviceScaleFactor?: number;
  colorScheme?: 'light' | 'dark';
}

/**
 * Runs `body` in a fresh context and then asserts, for every scenario alike, that no page logged a
 * console error or a CSP violation. The context is closed whatever happens.
 */
export async function withVisit(browser: Browser, body: (visit: Visit) => Promise<void>, options: VisitOptions = {}): Promise<void> {
  const context = await browser.createBrowserContext();
  try {
    const visit = await watch(context, options);
    await body(visit);
    if (visit.problems.length > 0) throw new Error(`The pages reported problems:\n  ${visit.problems.join('\n  ')}`);
  } finally {
    await context.close();
  }
}

async function watch(context: BrowserContext, { viewport, isMobile, hasTouch, deviceScaleFactor, colorScheme }: VisitOptions): Promise<Visit> {
  const problems: string[] = [];
  const page = await context.newPage();
  if (viewport) await page.setViewport({ ...viewport, isMobile, hasTouch, deviceScaleFactor });
  if (colorScheme) await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: colorScheme }]);
  watchForErrors(page, problems);

  // A CSP violation fires `securitypolicyviolation` in the page. Page script cannot run under our CSP,
  // but a script evaluated on each new document is injected by the browser itself, and the exposed
  // function carries the event out.
  await page.exposeFunction('reportCspViolation', (text: string) => problems.push(`CSP violation: ${text}`));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener(
      'securitypolicyviolation',
      (event) => {
        const report = (window as unknown as { reportCspViolation(text: string): void }).reportCspViolation;
        void report(`${event.violatedDirective} refused ${event.blockedURI || 'inline code'} on ${event.documentURI}`);
      },
      true,
    );
  });

  return { context, page, problems, cookies: () => context.cookies() };
}

/** Saves a full-page screenshot under `test/artifacts/` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file as `${string}.png`, fullPage: true });
  return file;
}

/** The text a screen reader reads as an element's description: its `aria-describedby` targets. */
export async function describedBy(page: Page, selector: string): Promise<string[]> {
  return page.$eval(selector, (element) =>
    (element.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent?.trim() ?? `(no element #${id})`)
      .filter(Boolean),
  );
}

/** The form field a person finds by its label, as a screen reader names it (puppeteer's ARIA query). */
export function field(label: string): string {
  return `::-p-aria([name="${label}"][role="textbox"])`;
}

/** The button a person finds by its text, as a screen reader names it. */
export function button(name: string): string {
  return `::-p-aria([name="${name}"][role="button"])`;
}
