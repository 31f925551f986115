/**
 * The request listener, the core of the server: route, run the handler, turn a failure into an answer,
 * write the whole answer at once, log one line.
 *
 * Every defence is composed around it from the wiring (`../start_server.ts`): guards run before the
 * handler and refuse a request by throwing; hooks see every answer, failures included, before it is
 * written. Nothing here knows which defences there are.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { SafeHtml } from '../pages/html.ts';
import type { Logger } from '../support/log.ts';
import { readFields, type Fields } from './body.ts';
import { errorReply, type ClientError } from './error_reply.ts';
import { hangUp } from './hang_up.ts';
import { NO_STORE, type Reply } from './reply.ts';
import type { Router } from './router.ts';

/** What guards and hooks know about a request. */
export interface Request {
  readonly req: IncomingMessage;
  readonly method: string;
  /** The path of the request target, exactly as sent (no decoding). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The client asked for JSON (`Accept: application/json`): errors come as `{"error": ...}`. */
  readonly wantsJson: boolean;
}

/** What a handler knows: the request, and its form fields when the route takes a form. */
export interface RequestContext extends Request {
  readonly fields: Fields;
}

export interface Route {
  /** The route takes a form body: it is read before the handler runs, and the error page sees it too. */
  readonly takesForm?: boolean;
  handle(ctx: RequestContext): Promise<Reply> | Reply;
  /** This route's failures as its own page, such as the form with the error beside a field;
   *  `undefined` leaves the error to the generic page. */
  errorPage?(error: ClientError, ctx: RequestContext): SafeHtml | undefined;
}

/** A defence that runs before the handler: it refuses the request by throwing an error of `../errors.ts`. */
export type Guard = (request: Request) => void | Promise<void>;

/** A defence that sees every answer before it is written, and returns the answer to write. */
export type Hook = (request: Request, reply: Reply) => Reply;

export interface ListenerOptions {
  readonly guards: readonly Guard[];
  readonly hooks: readonly Hook[];
  /** `WWW-Authenticate` for every 401. */
  readonly challenge: string;
  /** Set-Cookie values that clear the refresh cookie when a refresh fails. */
  readonly clearOnRefreshFailure: readonly string[];
  /** How a handler runs: under the store's deadline when the store waits on a network (`Storage.bounded`). */
  readonly runHandler: <T>(handle: () => T) => T;
  readonly log: Logger;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function createRequestListener(router: Router<Route>, options: ListenerOptions): RequestListener {
  return (req, res) => {
    respond(router, options, req, res).catch((error: unknown) => {
      // What runs outside respond()'s own try can get here: a hook, writing (a header value Node
      // refuses, a socket already gone). Without this catch the rejection would be unhandled, and Node
      // ends the whole process on it: one bad response would take every client down.
      options.log.error(`Cannot answer ${req.method}: the response could not be built or written`, error);
      if (!res.headersSent) res.writeHead(500, { ...NO_STORE, 'Content-Length': 0, Connection: 'close' });
      res.end();
    });
  };
}

async function respond(router: Router<Route>, options: ListenerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const target = req.url ?? '/';
  const queryAt = target.indexOf('?');
  const request: Request = {
    req,
    method: req.method ?? 'GET',
    path: queryAt === -1 ? target : target.slice(0, queryAt),
    query: new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1)),
    wantsJson: (req.headers.accept ?? '').includes('application/json'),
  };

  let fields: Fields = {};
  let reply: Reply;
  try {
    for (const guard of options.guards) await guard(request);
    const route = router.match(request.method, request.path);
    if (route.takesForm) fields = await readFields(req);
    reply = await options.runHandler(() => route.handle({ ...request, fields }));
  } catch (error) {
    reply = errorReply(error, {
      ...options,
      wantsJson: request.wantsJson,
      page: (clientError) => router.find(request.method, request.path)?.errorPage?.(clientError, { ...request, fields }),
      request: `${request.method} ${request.path}`,
    });
  }
  for (const hook of options.hooks) reply = hook(request, reply);
  await write(req, res, request.method, reply);
  // Only the paths we serve are logged: anything else may be a token pasted into a URL.
  options.log.request(request.method, router.has(request.path) ? request.path : '-', reply.status, performance.now() - started);
}

/** Writes the whole answer in one `end()`, so no half-written response is ever left on the wire. */
async function write(req: IncomingMessage, res: ServerResponse, method: string, reply: Reply): Promise<void> {
  const headers: OutgoingHttpHeaders = { ...reply.headers };
  // A 204 or 304 has no body, and a 304's Content-Length would describe the 200 it stands for.
  if (reply.status !== 204 && reply.status !== 304) headers['Content-Length'] = Buffer.byteLength(reply.body);
  // A request whose body was not read (a route that takes none, an error answered first) is answered
  // with `Connection: close`: a client declaring 1 GB and trickling it held the connection until Node's
  // 30 s request timeout, and for ever under Deno. Node parses the rest of a packet a moment after the
  // handler starts, so a small body that has already arrived gets that moment before it counts as unread.
  if (!req.complete) await new Promise((resolve) => setImmediate(resolve));
  if (!req.complete) headers['Connection'] = 'close';
  res.writeHead(reply.status, headers);
  res.end(method === 'HEAD' ? '' : reply.body); // HEAD: the GET's headers, Content-Length included, no body
  if (headers['Connection'] === 'close') res.once('finish', () => hangUp(req.socket));
}
