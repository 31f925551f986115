/**
 * A classic W3C WebDriver client: plain JSON over HTTP, nothing else (https://www.w3.org/TR/webdriver2/).
 *
 * Hand-written rather than a library (selenium-webdriver, webdriverio) for the same reason the
 * project's router is: the protocol is small enough to read whole, and every command below is one
 * `fetch` whose path and body are in the spec. It covers what the shared browser scenarios need.
 */

/** The JSON object the spec uses to name an element (§12.1, "web element identifier"). */
const ELEMENT_KEY = 'element-6066-11e4-a52e-4f735466cecf';

/** The spec's code points for special keys (§17.4.2, "keyboard actions"). */
export const KEYS = { Tab: '\uE004', Enter: '\uE007' } as const;

export type ElementId = string;

/** A cookie as WebDriver serializes it (§14, "Cookies"). */
export interface WebDriverCookie {
  name: string;
  value: string;
  path: string;
  domain: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: 'Lax' | 'Strict' | 'None';
  expiry?: number;
}

export class WebDriverError extends Error {
  override readonly name = 'WebDriverError';
  readonly code = 'ERR_WEBDRIVER';
  /** The spec's error code, e.g. `no such element` (§6.6). */
  readonly error: string;

  constructor(command: string, error: string, message: string) {
    super(`Cannot ${command}: ${error}${message ? ` (${message})` : ''}`);
    this.error = error;
  }
}

/** One WebDriver session: one browser, its windows, its cookie store. */
export class WebDriverSession {
  /** The session's URL: every command is a path under it. */
  private readonly base: string;

  private constructor(base: string) {
    this.base = base;
  }

  /** POST /session (§8.1). `capabilities` goes in `alwaysMatch`. */
  static async create(server: string, capabilities: Record<string, unknown>): Promise<WebDriverSession> {
    const { sessionId } = await send<{ sessionId: string }>('create a session', 'POST', `${server}/session`, { capabilities: { alwaysMatch: capabilities } });
    return new WebDriverSession(`${server}/session/${sessionId}`);
  }

  private command<T>(what: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return send<T>(what, method, `${this.base}${path}`, body);
  }

  /** Navigates and, with the default page load strategy, returns once the new page has loaded. */
  navigate(url: string): Promise<void> {
    return this.command('navigate', 'POST', '/url', { url });
  }

  url(): Promise<string> {
    return this.command('get the URL', 'GET', '/url');
  }

  title(): Promise<string> {
    return this.command('get the title', 'GET', '/title');
  }

  /** Runs `body` as a function body in the page; `arguments` holds `args`. */
  execute<T>(body: string, args: unknown[] = []): Promise<T> {
    return this.command('execute a script', 'POST', '/execute/sync', { script: body, args });
  }

  async find(css: string): Promise<ElementId> {
    const found = await this.command<Record<string, string>>(`find "${css}"`, 'POST', '/element', { using: 'css selector', value: css });
    return found[ELEMENT_KEY]!;
  }

  /** Clicks as a pointer would; a click that navigates returns once the new page has loaded. */
  click(element: ElementId): Promise<void> {
    return this.command('click', 'POST', `/element/${element}/click`, {});
  }

  clear(element: ElementId): Promise<void> {
    return this.command('clear', 'POST', `/element/${element}/clear`, {});
  }

  sendKeys(element: ElementId, text: string): Promise<void> {
    return this.command('send keys', 'POST', `/element/${element}/value`, { text });
  }

  /** Presses and releases each key in turn, to whatever has the focus (§15.7, "perform actions"). */
  async pressKeys(keys: string): Promise<void> {
    const actions = [...keys].flatMap((value) => [
      { type: 'keyDown', value },
      { type: 'keyUp', value },
    ]);
    await this.command('press keys', 'POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions }] });
    await this.command('release keys', 'DELETE', '/actions');
  }

  /** The cookies of the current page's document (§14.2): what it would send, HttpOnly ones included. */
  cookies(): Promise<WebDriverCookie[]> {
    return this.command('get the cookies', 'GET', '/cookie');
  }

  deleteCookies(): Promise<void> {
    return this.command('delete the cookies', 'DELETE', '/cookie');
  }

  /** A PNG of the window's viewport. */
  async screenshot(): Promise<Buffer> {
    return Buffer.from(await this.command<string>('take a screenshot', 'GET', '/screenshot'), 'base64');
  }

  setWindowSize(width: number, height: number): Promise<unknown> {
    return this.command('resize the window', 'POST', '/window/rect', { width, height });
  }

  windowHandle(): Promise<string> {
    return this.command('get the window handle', 'GET', '/window');
  }

  async newWindow(): Promise<string> {
    const { handle } = await this.command<{ handle: string }>('open a window', 'POST', '/window/new', { type: 'tab' });
    return handle;
  }

  switchToWindow(handle: string): Promise<void> {
    return this.command('switch windows', 'POST', '/window', { handle });
  }

  end(): Promise<void> {
    return this.command('end the session', 'DELETE', '');
  }
}

/** Every answer is `{ value }`; an error's value is `{ error, message }` (§6.6). */
async function send<T>(what: string, method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const { value } = (await response.json()) as { value: unknown };
  if (!response.ok) {
    const { error = `HTTP ${response.status}`, message = '' } = (value ?? {}) as { error?: string; message?: string };
    throw new WebDriverError(what, error, message);
  }
  return value as T;
}
