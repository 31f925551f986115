/**
 * What the shared browser scenarios need from a browser engine, and nothing more: open a fresh profile,
 * drive its tabs as a person would, read its cookie store. Chromium and Firefox implement it in one
 * file, `puppeteer.ts` (puppeteer-core, over CDP and WebDriver BiDi), WebKit in `webkit.ts` (`webdriver`,
 * over classic WebDriver), so the scenarios in `../scenarios.ts` are written once.
 *
 * Everything the scenarios assert is observable on every engine: navigations and CSP reports are seen
 * by the test server (`../watched_server.ts`), the rest through this interface. Where an engine cannot
 * observe something (WebKit's console), it says so in `gaps`, and the suite prints it.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../helpers/server.ts';

export type EngineName = 'Chromium' | 'Firefox' | 'WebKit';

/** Where the tests save screenshots: git-ignored; the docs' copies live in docs/screenshots/. */
export const ARTIFACTS_DIR = path.join(PROJECT_ROOT, 'test', 'artifacts');

/**
 * Paths under `/session` and `/login` that the app answers with 404: between them, tabs opened there
 * see every cookie of the site, `__Secure-refresh` (Path=/session) and `__Secure-device` (Path=/login)
 * included, which classic WebDriver lists only from such pages. The watched server leaves requests
 * under `/test-only/` out of its navigations.
 */
export const COOKIE_STORE_PATHS = ['/session/test-only/cookie-store', '/login/test-only/cookie-store'] as const;

export interface Engine {
  readonly name: EngineName;
  /** The programs this engine needs, each with the Debian package that installs it. */
  readonly needs: readonly { file: string; apt: string }[];
  /** What this engine cannot show the tests, said once per run rather than silently not checked. */
  readonly gaps: readonly string[];
  /** Starts the browser. `trust` holds the PEM certificates of the test servers it will visit. */
  launch(trust: readonly string[]): Promise<EngineBrowser>;
}

export interface EngineBrowser {
  /** A fresh profile (no cookies, no cache) with one tab open on nothing. */
  newProfile(options?: { viewport?: Viewport }): Promise<Profile>;
  close(): Promise<void>;
}

export interface Viewport {
  width: number;
  height: number;
}

/** A cookie in the browser's store, as a person could list it in the browser's settings. */
export interface StoredCookie {
  name: string;
  value: string;
  path: string;
  httpOnly: boolean;
  secure: boolean;
  sameSite: string;
}

export interface Profile {
  /** The tab the profile opened with. */
  readonly tab: Tab;
  /** Another tab in the same profile: same cookies. */
  openTab(): Promise<Tab>;
  /** Every cookie the store holds for `origin`, whatever its Path. */
  cookies(origin: string): Promise<StoredCookie[]>;
  clearCookies(origin: string): Promise<void>;
  /** Console errors and uncaught exceptions so far, on engines that report them (see `gaps`). */
  problems(): string[];
  close(): Promise<void>;
}

export interface Tab {
  /** Navigates as the address bar would, and returns once the page (after any redirects) has loaded. */
  goto(url: string): Promise<void>;
  /** Starts a navigation and returns at once: for tabs that must load at the same time. */
  startGoing(url: string): Promise<void>;
  url(): Promise<string>;
  title(): Promise<string>;
  /** The text of the first element matching `css`, trimmed. */
  text(css: string): Promise<string>;
  /** Types `value` into the field matching `css`, replacing what was there. */
  fill(css: string, value: string): Promise<void>;
  /** Clicks the element and, when the click navigates, returns once the new page has loaded. */
  clickAndWait(css: string): Promise<void>;
  /** Presses a key on the keyboard, to whatever has the focus. */
  press(key: 'Tab'): Promise<void>;
  /** Presses Enter, which submits the focused form, and returns once the answer has loaded. */
  pressEnterAndWait(): Promise<void>;
  /** Types text into whatever has the focus, key by key. */
  type(text: string): Promise<void>;
  /** Runs a function body in the page and returns its (JSON) result. Not subject to the page's CSP. */
  evaluate<T>(body: string): Promise<T>;
  /** Saves a PNG of the viewport. */
  screenshot(file: string): Promise<void>;
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The install hint when a program the engine needs is missing, or undefined when all are there. */
export function missingPrograms(engine: Engine): string | undefined {
  const missing = engine.needs.filter(({ file }) => !isExecutable(file));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map(({ apt }) => apt))].join(' ');
  return `no ${missing.map(({ file }) => file).join(', ')}: install with \`apt-get install ${packages}\``;
}

/** Polls `check` every 25 ms until it returns true, or fails with `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error; // a page in the middle of a navigation cannot answer yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`Cannot go on: timed out waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`);
}
