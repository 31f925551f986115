/**
 * Reading the `Cookie` header and writing `Set-Cookie` (RFC 6265bis, draft-ietf-httpbis-rfc6265bis).
 *
 * Parsing is lenient and never throws, as a server should be with what browsers send; serialising is
 * strict and throws on a bad name, value or attribute, because that is a bug in our code.
 */

/** `SameSite` values (RFC 6265bis §4.1.2.7). */
export type SameSite = 'Strict' | 'Lax' | 'None';

/** The attributes this project sets; `Max-Age` is in seconds, `0` deletes the cookie. */
export interface CookieAttributes {
  path: string;
  maxAge: number;
  domain?: string;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: SameSite;
}

// cookie-name = token (RFC 9110 §5.6.2): tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
//   / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
// cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E  (no space, DQUOTE, comma, semicolon, backslash)
const COOKIE_VALUE = /^("?)[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*\1$/;

// path-value = *av-octet; av-octet = any CHAR except CTLs or ";"
const PATH_VALUE = /^[\x20-\x3A\x3C-\x7E]*$/;

// domain-value = <subdomain> (RFC 1034 §3.5), as letters, digits, hyphens and dots
const DOMAIN_VALUE = /^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** Every `name=value` pair of a `Cookie` header, in the order sent (RFC 6265bis §5.4, lenient). */
function* cookiePairs(header: string): Generator<[name: string, value: string]> {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue; // a pair without "=" carries nothing a server can use
    const name = part.slice(0, eq).trim();
    if (name === '') continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    yield [name, value];
  }
}

/**
 * Parses a `Cookie` header into an object without a prototype, so `__proto__` is just a name.
 * The first of a repeated name wins, as in the major browsers' ordering (longest path first).
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null);
  if (header === undefined) return cookies;
  for (const [name, value] of cookiePairs(header)) {
    if (!(name in cookies)) cookies[name] = value;
  }
  return cookies;
}

/**
 * Every value sent under `name`. More than one means another cookie with the same name reached us
 * (from another path, or tossed in by a sibling subdomain), so a caller that must be sure which one
 * is meant can refuse instead of guessing.
 */
export function getCookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined) return [];
  const values: string[] = [];
  for (const [pairName, value] of cookiePairs(header)) {
    if (pairName === name) values.push(value);
  }
  return values;
}

/**
 * Serialises a `Set-Cookie` value, refusing anything a browser would reject or misread.
 *
 * The name prefixes are enforced here because browsers enforce them too (RFC 6265bis §4.1.3):
 * `__Secure-` needs `Secure`; `__Host-` needs `Secure`, `Path=/` and no `Domain`, which pins the
 * cookie to exactly this host so a sibling subdomain cannot set or overwrite it ("cookie tossing").
 */
export function serializeSetCookie(name: string, value: string, attributes: CookieAttributes): string {
  if (!COOKIE_NAME.test(name)) throw new TypeError(`Cannot serialise cookie: invalid name ${JSON.stringify(name)}`);
  if (!COOKIE_VALUE.test(value)) throw new TypeError(`Cannot serialise cookie ${name}: invalid value`);
  if (!attributes.path.startsWith('/') || !PATH_VALUE.test(attributes.path)) {
    throw new TypeError(`Cannot serialise cookie ${name}: invalid path ${JSON.stringify(attributes.path)}`);
  }
  if (!Number.isInteger(attributes.maxAge) || attributes.maxAge < 0) {
    throw new TypeError(`Cannot serialise cookie ${name}: Max-Age must be a whole number of seconds, got ${attributes.maxAge}`);
  }
  if (attributes.domain !== undefined && !DOMAIN_VALUE.test(attributes.domain)) {
    throw new TypeError(`Cannot serialise cookie ${name}: invalid domain ${JSON.stringify(attributes.domain)}`);
  }
  if ((name.startsWith('__Secure-') || name.startsWith('__Host-')) && !attributes.secure) {
    throw new TypeError(`Cannot serialise cookie ${name}: the prefix requires Secure`);
  }
  if (name.startsWith('__Host-') && (attributes.path !== '/' || attributes.domain !== undefined)) {
    throw new TypeError(`Cannot serialise cookie ${name}: the __Host- prefix requires Path=/ and no Domain`);
  }
  if (attributes.sameSite === 'None' && !attributes.secure) {
    throw new TypeError(`Cannot serialise cookie ${name}: SameSite=None requires Secure`);
  }

  return [`${name}=${value}`, ...formatCookieAttributes(attributes)].join('; ');
}

/** The attributes as `Set-Cookie` writes them: `Path=/`, `Max-Age=900`, `HttpOnly`… */
export function formatCookieAttributes(attributes: CookieAttributes): string[] {
  const formatted = [`Path=${attributes.path}`, `Max-Age=${attributes.maxAge}`];
  if (attributes.domain !== undefined) formatted.push(`Domain=${attributes.domain}`);
  if (attributes.httpOnly) formatted.push('HttpOnly');
  if (attributes.secure) formatted.push('Secure');
  if (attributes.sameSite !== undefined) formatted.push(`SameSite=${attributes.sameSite}`);
  return formatted;
}

/** A parsed `Set-Cookie`: attribute names lower-cased, the last of a repeated attribute wins (§5.6). */
export interface ParsedSetCookie {
  name: string;
  value: string;
  attributes: Map<string, string>;
}

/** Splits `name=value; Attr=x; Flag` the way a browser does (RFC 6265bis §5.6), never throwing. */
export function parseSetCookie(setCookie: string): ParsedSetCookie | undefined {
  const [pair = '', ...rest] = setCookie.split(';');
  const eq = pair.indexOf('=');
  if (eq === -1) return undefined;
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const at = part.indexOf('=');
    const key = (at === -1 ? part : part.slice(0, at)).trim().toLowerCase();
    if (key !== '') attributes.set(key, at === -1 ? '' : part.slice(at + 1).trim());
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}
