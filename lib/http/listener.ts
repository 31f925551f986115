/**
 * The request listener: judge cross-site requests, route, run the handler, turn any failure into a
 * response, add the security headers, write the whole response at once, log one line.
 */
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { CROSS_SITE_VARY, assertSameOrigin, isUnsafeMethod } from './cross_site.ts';
import { hangUp, isLastRequest } from './connection_limits.ts';
import { assertHeaderLinesUnderCap } from './header_limit.ts';
import { lintSetCookie } from '../cookies/cookie_lint.ts';
import { StorageError } from '../storage/durable_file.ts';
import type { Fields } from './body.ts';
import type { SafeHtml } from '../pages/html.ts';
import { HttpError } from './http_error.ts';
import type { Logger } from '../support/log.ts';
import { errorPage } from '../pages/pages.ts';
import { NO_STORE, htmlReply, jsonReply, type Reply } from './reply.ts';
import type { Router } from './router.ts';
import { securityHeaders } from './security_headers.ts';

/** What a handler knows about its request. */
export interface RequestContext {
  readonly req: IncomingMessage;
  /** The path of the request target, exactly as sent (no decoding). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The client asked for JSON (`Accept: application/json`): errors come as `{"error": ...}`. */
  readonly wantsJson: boolean;
  /** The body's fields once a handler has read them, so its error page can show the form as filled. */
  fields?: Fields;
}

export interface Route {
  handle(ctx: RequestContext): Promise<Reply> | Reply;
  /** Renders this route's failures as its own page, such as the form with the error beside a field;
   *  `undefined` leaves the error to the generic page. */
  errorPage?(error: HttpError, ctx: RequestContext): SafeHtml | undefined;
}

/** Responses to unsafe methods depend on the request's Origin and Sec-Fetch-Site headers. */
const VARY = Object.freeze({ Vary: CROSS_SITE_VARY });

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface ListenerOptions {
  /** Lint every Set-Cookie before it is sent and log a warning for each broken rule (development only). */
  lintCookies?: boolean;
}

export function createRequestListener(router: Router<Route>, log: Logger, options: ListenerOptions = {}): RequestListener {
  // Decided once here, so production pays nothing per response.
  const check = options.lintCookies ? (reply: Reply) => warnAboutCookies(reply, log) : undefined;
  return (req, res) => {
    respond(router, log, req, res, check).catch((error: unknown) => {
      // What runs outside respond()'s own try can get here: building the error page, linting, writing
      // (a header value Node refuses, a socket already gone). Without this catch the rejection would be
      // unhandled, and Node ends the whole process on it: one bad response would take every client down.
      log.error(`Cannot answer ${req.method}: the response could not be built or written`, error);
      if (!res.headersSent) {
        res.writeHead(500, { ...securityHeaders(req.headers.host), ...NO_STORE, 'Content-Length': 0, Connection: 'close' });
      }
      res.end();
    });
  };
}

/** Logs each rule a Set-Cookie of this reply breaks; the cookie itself is never logged, only its rule. */
function warnAboutCookies(reply: Reply, log: Logger): void {
  const setCookie = reply.headers['Set-Cookie'];
  if (setCookie === undefined) return;
  for (const cookie of typeof setCookie === 'string' ? [setCookie] : setCookie) {
    for (const violation of lintSetCookie(cookie)) log.warn(`Set-Cookie breaks the "${violation.rule}" rule: ${violation.message}`);
  }
}

async function respond(
  router: Router<Route>,
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  check: ((reply: Reply) => void) | undefined,
): Promise<void> {
  const started = performance.now();
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  const queryAt = target.indexOf('?');
  const ctx: RequestContext = {
    req,
    path: queryAt === -1 ? target : target.slice(0, queryAt),
    query: new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1)),
    wantsJson: (req.headers.accept ?? '').includes('application/json'),
  };

  let route: Route | undefined;
  let reply: Reply;
  try {
    assertHeaderLinesUnderCap(req); // before anything reads a header the runtime may have dropped
    assertSameOrigin(req); // before routing, so a cross-site request learns nothing and changes nothing
    route = router.match(method, ctx.path);
    reply = await route.handle(ctx);
  } catch (error) {
    reply = errorReply(error, ctx, route, log);
  }
  check?.(reply);

  // One object, filled in order of precedence (a handler's own headers win), rather than spreading
  // three objects into a fourth: this runs for every response, including every /order.
  const headers: OutgoingHttpHeaders = Object.assign({}, securityHeaders(req.headers.host), isUnsafeMethod(method) ? VARY : undefined, reply.headers);
  // A 204 or 304 has no body, and a 304's Content-Length would describe the 200 it stands for.
  if (reply.status !== 204 && reply.status !== 304) headers['Content-Length'] = Buffer.byteLength(reply.body);
  // The server hangs up after this answer, and says so, when:
  // - the request's body was not read (a route that takes none, an error answered first): a client
  //   declaring 1 GB and trickling it held the connection until Node's 30 s request timeout, and for
  //   ever under Deno. Node parses the rest of a packet a moment after the handler starts, so a small
  //   body that has already arrived gets that moment before it counts as unread;
  // - it is the connection's last allowed request, so no connection queues answers without end
  //   (see connection_limits.ts).
  if (!req.complete) await new Promise((resolve) => setImmediate(resolve));
  const last = !req.complete || isLastRequest(req.socket);
  if (last) headers['Connection'] = 'close';
  res.writeHead(reply.status, headers);
  res.end(method === 'HEAD' ? '' : reply.body); // HEAD: the GET's headers, Content-Length included, no body
  if (last) res.once('finish', () => hangUp(req.socket));
  // Only the paths we serve are logged: anything else may be a token pasted into a URL.
  log.request(method, router.has(ctx.path) ? ctx.path : '-', reply.status, performance.now() - started);
}

/** The one place a failure becomes a response. */
function errorReply(error: unknown, ctx: RequestContext, route: Route | undefined, log: Logger): Reply {
  const httpError = toHttpError(error);
  if (httpError === undefined) {
    log.error(`${ctx.req.method} ${ctx.path} failed`, error);
    const message = 'Something went wrong on our side';
    return ctx.wantsJson ? jsonReply(500, { error: message }, NO_STORE) : htmlReply(500, errorPage(500, 'Internal Server Error', message), NO_STORE);
  }
  // A failure underneath (a disk that refused a write) is the operator's to see, not the client's.
  if (httpError.status >= 500 && httpError.cause !== undefined) log.error(`${ctx.req.method} ${ctx.path} answered ${httpError.status}`, httpError.cause);
  const headers = { ...NO_STORE, ...httpError.headers };
  if (ctx.wantsJson) {
    return jsonReply(httpError.status, { error: httpError.message, ...(httpError.field && { field: httpError.field }) }, headers);
  }
  const page = route?.errorPage?.(httpError, ctx) ?? errorPage(httpError.status, STATUS_CODES[httpError.status] ?? 'Error', httpError.message);
  return htmlReply(httpError.status, page, headers);
}

function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof StorageError) {
    // Nothing was acknowledged that did not reach the disk; the client may simply try again.
    return new HttpError(503, 'Cannot save right now: storage is unavailable, try again shortly', {
      cause: error,
      headers: { 'Retry-After': '5' },
    });
  }
  return undefined;
}
