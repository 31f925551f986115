/**
 * WebKit: Debian's WebKitGTK, through `WebKitWebDriver` (package webkit2gtk-driver), a classic W3C
 * WebDriver server that drives `MiniBrowser --automation`. The client is `webdriver`, the protocol
 * client of WebdriverIO: one method per command of the spec. MiniBrowser has no headless mode: it
 * draws into a virtual X display, an `Xvfb` (package xvfb) this file starts and stops with the browser.
 *
 * Classic WebDriver has no events: no console messages, no network log. The scenarios see
 * navigations and CSP reports at the server instead; console errors are the one stated gap.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import WebDriver, { ELEMENT_KEY, type Client } from 'webdriver';
import { COOKIE_STORE_PATHS, waitUntil, type Engine, type EngineBrowser, type Profile, type StoredCookie, type Tab, type Viewport } from './engine.ts';

const DRIVER = process.env.WEBKIT_WEBDRIVER_PATH || '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.WEBKIT_MINIBROWSER_PATH || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const XVFB = '/usr/bin/Xvfb';

/** The spec's code points for the special keys the scenarios press (WebDriver §17.4.2). */
const KEYS = { Tab: '\uE004', Enter: '\uE007' } as const;

export const webkit: Engine = {
  name: 'WebKit',
  needs: [
    { file: DRIVER, apt: 'webkit2gtk-driver' },
    { file: MINIBROWSER, apt: 'webkit2gtk-driver' },
    { file: XVFB, apt: 'xvfb' },
  ],
  gaps: ['console errors: classic WebDriver reports no console messages, and MiniBrowser under automation does not print them (CSP violations are still caught, by report)'],
  launch: launchWebKit,
};

async function launchWebKit(): Promise<EngineBrowser> {
  const display = await startXvfb();
  const drivers: ChildProcess[] = [];
  try {
    const ports = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      drivers.push(
        spawn(DRIVER, [`--port=${port}`], {
          env: {
            ...process.env,
            DISPLAY: `:${display.number}`,
            // WebKit's sandbox (bubblewrap) cannot start as root, as tests run in CI containers.
            WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS: '1',
          },
          stdio: 'ignore',
        }),
      );
      ports.push(port);
    }
    for (const port of ports) await waitUntil('WebKitWebDriver to listen', async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok);
    return new WebKitBrowser(ports, [...drivers, display.process]);
  } catch (error) {
    for (const child of [...drivers, display.process]) child.kill();
    throw error;
  }
}

/** Starts Xvfb on a display number it picks itself (`-displayfd`), so parallel runs never collide. */
async function startXvfb(): Promise<{ number: number; process: ChildProcess }> {
  const xvfb = spawn(XVFB, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  xvfb.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const number = await new Promise<number>((resolve, reject) => {
    let written = '';
    xvfb.stdio[3]!.on('data', (chunk: Buffer) => {
      written += chunk;
      if (written.endsWith('\n')) resolve(Number(written.trim()));
    });
    xvfb.once('exit', (code) => reject(new Error(`Cannot start Xvfb: it exited with ${code}\n${stderr}`)));
  });
  return { number, process: xvfb };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * WebKitWebDriver holds one session at a time ("Maximum number of active sessions"), and each session
 * is a new MiniBrowser with its own ephemeral cookie store: a profile is a session. Starting one takes
 * seconds, so two drivers take turns: while a scenario runs in one, the other starts the next
 * scenario's browser.
 */
class WebKitBrowser implements EngineBrowser {
  private readonly processes: ChildProcess[];
  /** The session in use, and the next one starting on the other driver. */
  private current: Client | undefined;
  private next: Promise<Client>;
  /** Which driver starts the session after `next`: the one `current` runs in, once it has ended. */
  private readonly ports: number[];
  private turn = 1;

  constructor(ports: number[], processes: ChildProcess[]) {
    this.ports = ports;
    this.processes = processes;
    this.next = startSession(ports[0]!);
    this.next.catch(() => undefined); // a failure is reported to the profile that awaits it
  }

  async newProfile(options: { viewport?: Viewport } = {}): Promise<Profile> {
    const ending = this.current?.deleteSession().catch(() => undefined);
    const session = await this.next;
    this.current = session;
    const port = this.ports[this.turn]!;
    this.turn = 1 - this.turn;
    this.next = Promise.resolve(ending).then(() => startSession(port));
    this.next.catch(() => undefined); // a failure is reported to the profile that awaits it
    if (options.viewport) await setViewport(session, options.viewport);
    return new WebKitProfile(session, await session.getWindowHandle());
  }

  async close(): Promise<void> {
    await this.current?.deleteSession().catch(() => undefined);
    await this.next.then((spare) => spare.deleteSession()).catch(() => undefined);
    for (const child of this.processes) child.kill();
    await Promise.all(this.processes.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  }
}

/**
 * A new session: a new MiniBrowser. No `browserName`, so `webdriver` asks for no BiDi
 * (`webSocketUrl`), which WebKitWebDriver does not speak.
 */
function startSession(port: number): Promise<Client> {
  const capabilities = {
    // acceptInsecureCerts trusts every certificate: WebKitWebDriver has no way to pin ours.
    acceptInsecureCerts: true,
    // WebKitGTK's own capability, which @wdio/types does not list (hence a variable, not a literal).
    'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
  };
  return WebDriver.newSession({
    hostname: '127.0.0.1',
    port,
    capabilities,
    logLevel: 'silent', // a failed command is thrown to the scenario; its log would only repeat it
    connectionRetryCount: 0, // a command that failed is not sent again: a second click would click twice
  });
}

/** The element matching `css`. `webdriver` answers "no such element" with a value, not an error. */
async function find(session: Client, css: string): Promise<string> {
  const found: Record<string, string | undefined> = await session.findElement('css selector', css);
  const element = found[ELEMENT_KEY];
  if (element === undefined) throw new Error(`Cannot find "${css}" in ${await session.getUrl()}`);
  return element;
}

/** Presses and releases each key in turn, to whatever has the focus (WebDriver §15.7, "perform actions"). */
async function pressKeys(session: Client, keys: string): Promise<void> {
  const actions = [...keys].flatMap((value) => [
    { type: 'keyDown', value },
    { type: 'keyUp', value },
  ]);
  await session.performActions([{ type: 'key', id: 'keyboard', actions }]);
  await session.releaseActions();
}

/**
 * WebDriver sizes the window, and MiniBrowser's window has a header bar: resize once more by what the
 * page measures, so the viewport (what a screenshot shows) is the size asked for.
 */
async function setViewport(session: Client, { width, height }: Viewport): Promise<void> {
  await session.setWindowRect(null, null, width, height);
  const [innerWidth, innerHeight] = (await session.executeScript('return [innerWidth, innerHeight]', [])) as [number, number];
  if (innerWidth !== width || innerHeight !== height) await session.setWindowRect(null, null, 2 * width - innerWidth, 2 * height - innerHeight);
}

class WebKitProfile implements Profile {
  readonly tab: WebKitTab;
  /** Which window WebDriver commands go to now: a session has one "current" window at a time. */
  private focused: string;
  private readonly session: Client;

  constructor(session: Client, firstWindow: string) {
    this.session = session;
    this.focused = firstWindow;
    this.tab = new WebKitTab(session, () => this.focus(firstWindow));
  }

  private async focus(handle: string): Promise<void> {
    if (this.focused === handle) return;
    await this.session.switchToWindow(handle);
    this.focused = handle;
  }

  async openTab(): Promise<Tab> {
    const { handle } = await this.session.createWindow('tab');
    return new WebKitTab(this.session, () => this.focus(handle));
  }

  /**
   * Classic WebDriver lists only the cookies the current document would be sent (§14.1, "associated
   * cookies"), so `__Secure-refresh` (Path=/refresh) never shows from /order, nor `__Secure-device`
   * (Path=/login). A new tab opened on a page under each of those paths sees them all between them,
   * and changes nothing.
   */
  async cookies(origin: string): Promise<StoredCookie[]> {
    const found = new Map<string, StoredCookie>();
    await this.#onCookiePages(origin, async () => {
      for (const { name, value, path = '/', httpOnly = false, secure = false, sameSite } of await this.session.getAllCookies()) {
        found.set(`${name};${path}`, { name, value, path, httpOnly, secure, sameSite: sameSite ?? 'None' });
      }
    });
    return [...found.values()];
  }

  async clearCookies(origin: string): Promise<void> {
    // Deleting from a page under each cookie's path reaches it, for the reason above.
    await this.#onCookiePages(origin, () => this.session.deleteAllCookies());
  }

  /** Runs `body` in a new tab on each page of `COOKIE_STORE_PATHS`, then closes it and goes back. */
  async #onCookiePages(origin: string, body: () => Promise<void>): Promise<void> {
    const back = this.focused;
    const { handle } = await this.session.createWindow('tab');
    try {
      await this.focus(handle);
      for (const page of COOKIE_STORE_PATHS) {
        await this.session.navigateTo(`${origin}${page}`);
        await body();
      }
    } finally {
      await this.session.executeScript('window.close()', []);
      await this.focus(back);
    }
  }

  problems(): string[] {
    return []; // see `webkit.gaps`
  }

  async close(): Promise<void> {
    // The session ends when the next profile starts or the browser closes: WebKitWebDriver runs one.
  }
}

class WebKitTab implements Tab {
  private readonly session: Client;
  /** Makes this tab's window the session's current one, which every command below acts on. */
  private readonly focus: () => Promise<void>;

  constructor(session: Client, focus: () => Promise<void>) {
    this.session = session;
    this.focus = focus;
  }

  async goto(url: string): Promise<void> {
    await this.focus();
    await this.session.navigateTo(url);
  }

  async startGoing(url: string): Promise<void> {
    await this.focus();
    await this.session.executeScript('setTimeout(() => location.assign(arguments[0]), 0)', [url]);
  }

  async url(): Promise<string> {
    await this.focus();
    return this.session.getUrl();
  }

  async title(): Promise<string> {
    await this.focus();
    return this.session.getTitle();
  }

  text(css: string): Promise<string> {
    return this.evaluate(`return document.querySelector(${JSON.stringify(css)})?.textContent.trim() ?? ''`);
  }

  async fill(css: string, value: string): Promise<void> {
    await this.focus();
    const field = await find(this.session, css);
    await this.session.elementClear(field);
    await this.session.elementSendKeys(field, value);
  }

  /**
   * Element Click waits for a navigation it starts only when the navigation begins at once; a form
   * post answered by a 303 may still be loading. So the old document is marked first, and the new
   * one is recognised by not carrying the mark.
   */
  async clickAndWait(css: string): Promise<void> {
    await this.focus();
    await this.markDocument();
    await this.session.elementClick(await find(this.session, css));
    await this.waitForNewDocument();
  }

  async press(key: 'Tab'): Promise<void> {
    await this.focus();
    await pressKeys(this.session, KEYS[key]);
  }

  async pressEnterAndWait(): Promise<void> {
    await this.focus();
    await this.markDocument();
    await pressKeys(this.session, KEYS.Enter);
    await this.waitForNewDocument();
  }

  async type(text: string): Promise<void> {
    await this.focus();
    await pressKeys(this.session, text);
  }

  async evaluate<T>(body: string): Promise<T> {
    await this.focus();
    return (await this.session.executeScript(body, [])) as T;
  }

  async screenshot(file: string): Promise<void> {
    await this.focus();
    await writeFile(file, Buffer.from(await this.session.takeScreenshot(), 'base64'));
  }

  private async markDocument(): Promise<void> {
    await this.session.executeScript('window.__leaving = true', []);
  }

  /** Waits until the marked document is gone and its successor has loaded. */
  async waitForNewDocument(): Promise<void> {
    await waitUntil('the next page to load', () => this.session.executeScript("return window.__leaving !== true && document.readyState === 'complete'", []));
  }
}
