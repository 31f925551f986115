/**
 * Just enough of a browser to show what one does with cookies (RFC 6265bis §5.7 storing, §5.8
 * sending): it keeps each cookie by name and Path until its Max-Age runs out, and sends a cookie only
 * to paths its Path covers. It sends `Origin` and `Sec-Fetch-Site` on a POST, as browsers do.
 */
import { parseSetCookie } from '../lib/http/cookies.ts';
import type { Target } from './target.ts';
import { exchange, setCookies, type Exchange, type HeaderList } from './support/wire.ts';

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** ms since the epoch, by the target's clock; undefined: until the browser closes. */
  expiresAt: number | undefined;
}

/** RFC 6265bis §5.1.4: `/refresh` covers `/refresh` and `/refresh/x`, not `/refreshments` or `/order`. */
export function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  return requestPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/');
}

export class Browser {
  readonly target: Target;
  readonly #cookies = new Map<string, StoredCookie>();

  constructor(target: Target) {
    this.target = target;
  }

  /** Stores (or, with Max-Age=0, deletes) a cookie; one with the same name and Path is replaced. */
  store(setCookie: string): void {
    const parsed = parseSetCookie(setCookie);
    if (parsed === undefined) return;
    const path = parsed.attributes.get('path') ?? '/';
    const key = `${parsed.name};${path}`;
    const maxAge = parsed.attributes.has('max-age') ? Number(parsed.attributes.get('max-age')) : undefined;
    if (maxAge !== undefined && maxAge <= 0) {
      this.#cookies.delete(key);
      return;
    }
    const expiresAt = maxAge === undefined ? undefined : this.target.now() + maxAge * 1000;
    this.#cookies.set(key, { name: parsed.name, value: parsed.value, path, expiresAt });
  }

  /** The `Cookie` header for a request to `path`: live cookies whose Path covers it, longest Path first. */
  cookieHeader(path: string): string | undefined {
    const requestPath = path.split('?')[0] ?? path;
    const now = this.target.now();
    for (const [key, cookie] of this.#cookies) if (cookie.expiresAt !== undefined && now >= cookie.expiresAt) this.#cookies.delete(key);
    const sent = [...this.#cookies.values()]
      .filter((cookie) => pathMatches(requestPath, cookie.path))
      .sort((a, b) => b.path.length - a.path.length);
    return sent.length === 0 ? undefined : sent.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }

  /** The value of a stored cookie. */
  cookie(name: string): string | undefined {
    return [...this.#cookies.values()].find((cookie) => cookie.name === name)?.value;
  }

  /** Forgets a cookie, as the browser does when its Max-Age runs out. */
  drop(name: string): void {
    for (const [key, cookie] of this.#cookies) if (cookie.name === name) this.#cookies.delete(key);
  }

  /** A top-level GET (following a link or a redirect), with the cookies that apply. */
  get(path: string, headers: HeaderList = []): Promise<Exchange> {
    return this.#send('GET', path, headers, '');
  }

  /** A form POST from one of this site's own pages. */
  post(path: string, form: Record<string, string>, headers: HeaderList = []): Promise<Exchange> {
    const browserHeaders: HeaderList = [
      ['Origin', this.target.origin],
      ['Sec-Fetch-Site', 'same-origin'],
      ['Content-Type', 'application/x-www-form-urlencoded'],
      ...headers,
    ];
    return this.#send('POST', path, browserHeaders, new URLSearchParams(form).toString());
  }

  async #send(method: string, path: string, headers: HeaderList, body: string): Promise<Exchange> {
    const cookie = this.cookieHeader(path);
    const result = await exchange(this.target, method, path, [...headers, ...(cookie === undefined ? [] : [['Cookie', cookie] as [string, string]])], body);
    for (const setCookie of setCookies(result)) this.store(setCookie);
    return result;
  }
}
