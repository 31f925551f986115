/**
 * The tests' HTTPS client: the shared request (`scripts/support/https_client.ts`) with every
 * `Set-Cookie` linted, and a real RFC 6265 cookie jar (tough-cookie) that follows redirects the way a
 * browser does.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { CookieJar } from 'tough-cookie';
import { lintSetCookie } from '../../lib/defences/cookie_lint.ts';
import { httpsRequest } from '../../scripts/support/https_client.ts';

export interface TestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every `Set-Cookie` header, in order. */
  setCookies: string[];
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
}

export interface RequestOptions {
  headers?: OutgoingHttpHeaders;
  /** Sent as `application/x-www-form-urlencoded`, as an HTML form would. */
  form?: Record<string, string>;
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as is. */
  body?: string | Buffer;
}

/**
 * One HTTPS request; no cookies, no redirects. Every `Set-Cookie` in the response is linted
 * (`lib/defences/cookie_lint.ts`): a cookie that breaks a rule rejects the request, and so fails the test.
 */
export async function send(url: string, ca: string, method: string, options: RequestOptions = {}): Promise<TestResponse> {
  const headers: OutgoingHttpHeaders = { ...options.headers };
  let body = options.body;
  if (options.form !== undefined) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await httpsRequest(url, { ca, method, headers, body });
  const violations = response.setCookies.flatMap((setCookie) => lintSetCookie(setCookie));
  if (violations.length > 0) {
    throw new Error(`${method} ${url}: Set-Cookie breaks the cookie rules:\n${violations.map((v) => `  ${v.rule}: ${v.message}`).join('\n')}`);
  }
  const json: unknown = (response.headers['content-type'] ?? '').startsWith('application/json') ? JSON.parse(response.body) : undefined;
  return { status: response.status, headers: response.headers, setCookies: response.setCookies, body: response.body, json };
}

/**
 * A client with a cookie jar, standing in for one browser profile. It sends the jar's cookies for
 * each URL, stores every `Set-Cookie`, and can follow redirects as a browser would.
 */
export class TestBrowser {
  readonly origin: string;
  readonly ca: string;
  readonly jar = new CookieJar(undefined, { prefixSecurity: 'strict', rejectPublicSuffixes: false });
  /** Every `Set-Cookie` this client received, for checks that look at all of them. */
  readonly seenSetCookies: string[] = [];

  constructor(origin: string, ca: string) {
    this.origin = origin;
    this.ca = ca;
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const url = new URL(path, this.origin).href;
    const cookie = await this.jar.getCookieString(url);
    const headers = { ...(cookie && { cookie }), ...options.headers };
    const response = await send(url, this.ca, method, { ...options, headers });
    for (const setCookie of response.setCookies) {
      this.seenSetCookies.push(setCookie);
      await this.jar.setCookie(setCookie, url);
    }
    return response;
  }

  /**
   * Sends a request and follows redirects (303 and 302 become GET, as browsers do); returns the
   * final response and the path of each hop.
   */
  async navigate(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse & { hops: string[] }> {
    const hops = [path];
    let response = await this.request(method, path, options);
    while (response.status >= 300 && response.status < 400 && response.headers.location !== undefined) {
      if (hops.length > 10) throw new Error(`Too many redirects: ${hops.join(' -> ')}`);
      const next = new URL(response.headers.location, new URL(hops.at(-1)!, this.origin));
      if (next.origin !== this.origin) throw new Error(`Redirected off-site to ${next.href}`);
      hops.push(next.pathname + next.search);
      response = await this.request('GET', next.pathname + next.search, { headers: options.headers?.accept ? { accept: options.headers.accept } : {} });
    }
    return { ...response, hops };
  }

  /** The value the jar would send for `name` to `path`, or undefined. */
  async cookie(name: string, path = '/'): Promise<string | undefined> {
    const cookies = await this.jar.getCookies(new URL(path, this.origin).href);
    return cookies.find((cookie) => cookie.key === name)?.value;
  }

  /** Removes a cookie from the jar, as a browser does when its Max-Age runs out. */
  async expire(name: string): Promise<void> {
    const store = this.jar.store;
    const cookies = await this.jar.getCookies(this.origin, { allPaths: true });
    for (const cookie of cookies) {
      if (cookie.key === name) await store.removeCookie(cookie.domain!, cookie.path!, cookie.key!);
    }
  }

  async signup(username: string, password = 'correct horse battery'): Promise<TestResponse & { hops: string[] }> {
    return this.navigate('POST', '/signup', { form: { username, password } });
  }
}
