/**
 * Headers every response carries (OWASP HTTP Headers Cheat Sheet), built once rather than per request.
 */
import { isIP } from 'node:net';
import type { Hook } from '../http/listener.ts';
import type { ReplyHeaders } from '../http/reply.ts';

const ALWAYS: ReplyHeaders = Object.freeze({
  // Only our own files may run or style the page: an injected <script> or inline handler is refused
  // (XSS). frame-ancestors stops clickjacking; form-action and base-uri stop injected forms and
  // <base> tags from sending data elsewhere.
  'Content-Security-Policy':
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  // Not `no-referrer`: under it browsers send `Origin: null` even on same-origin form posts, and our
  // cross-site check would refuse our own forms. `same-origin` sends nothing to other sites.
  'Referrer-Policy': 'same-origin',
});

const WITH_HSTS: ReplyHeaders = Object.freeze({ ...ALWAYS, 'Strict-Transport-Security': 'max-age=31536000' });

/**
 * The security headers for a request to `host` (the Host header). HSTS is left out for `localhost`,
 * `*.localhost` and IP literals: HSTS applies to a host name on every port, so one visit would pin
 * all of the developer's local servers on `localhost` to HTTPS for a year.
 *
 * No Host at all is treated like a local one, no HSTS: HSTS pins a host name, and without one nothing
 * says which name this is. Only HTTP/1.0 may omit it; every browser sends it, and an HTTP/1.1 request
 * without it never gets here: the server refuses it with 400 (RFC 9112 §3.2, `requireHostHeader`).
 */
export function securityHeaders(host: string | undefined): ReplyHeaders {
  return host === undefined || isLocalHost(hostname(host)) ? ALWAYS : WITH_HSTS;
}

/** The host name of a Host header: `[::1]:8443` → `::1`, `example.com:443` → `example.com`. */
function hostname(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(1, end);
  }
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

function isLocalHost(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  return bare === 'localhost' || bare.endsWith('.localhost') || isIP(bare) !== 0;
}

/** The hook: every answer gets them; a handler's own header of the same name wins. */
export const addSecurityHeaders: Hook = (request, reply) => ({ ...reply, headers: { ...securityHeaders(request.req.headers.host), ...reply.headers } });
