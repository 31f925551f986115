/**
 * Refusing cross-site requests that would change state (CSRF), before any work is done.
 *
 * This is the Fetch Metadata defence of the OWASP CSRF Prevention Cheat Sheet with its Origin
 * fallback, the same algorithm as Go's `http.CrossOriginProtection`. It needs no CSRF token: the
 * browser itself says where a request came from, in headers a page's script cannot set.
 */
import type { IncomingMessage } from 'node:http';
import type { Guard, Hook } from '../http/listener.ts';
import { CrossSiteError } from '../errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Responses to unsafe methods depend on these request headers; caches must key on them. */
export const CROSS_SITE_VARY = 'Origin, Sec-Fetch-Site';

/** The guard: a cross-site request learns nothing and changes nothing. */
export const refuseCrossSite: Guard = (request) => assertSameOrigin(request.req);

/** The hook: an answer to an unsafe method says it depends on where the request came from. */
export const varyOnOrigin: Hook = (request, reply) =>
  isUnsafeMethod(request.method) ? { ...reply, headers: { Vary: CROSS_SITE_VARY, ...reply.headers } } : reply;

export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/** Throws 403 when an unsafe request comes from another origin. */
export function assertSameOrigin(req: IncomingMessage): void {
  if (!isUnsafeMethod(req.method ?? 'GET')) return;

  // 1. Browsers since 2023 send Sec-Fetch-Site. "none" means the user typed or bookmarked the URL.
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return;
    throw new CrossSiteError(`Cannot accept this request: it came from another site (Sec-Fetch-Site: ${site})`);
  }

  // 2. Older browsers: Origin must be exactly our own. "null" (sandboxed frames, some redirects) is
  //    not our origin either.
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (origin === `https://${req.headers.host}`) return;
    throw new CrossSiteError(`Cannot accept this request: it came from another origin (${origin})`);
  }

  // 3. Neither header: not a browser (curl, scripts). They hold no victim's cookies, so no CSRF.
}
