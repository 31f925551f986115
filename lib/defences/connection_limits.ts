/**
 * Limits on connections that hold the same under Deno as under Node, because we enforce them here
 * rather than trust the runtime: Deno's `node:https` is a separate implementation that lacks some of
 * Node's. How many connections may be open at once, how many requests one connection may make, and
 * how a connection ends when the server hangs up.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Hook } from '../http/listener.ts';
import type { Logger } from '../support/log.ts';

/**
 * Requests one connection may make before the server answers `Connection: close` and hangs up
 * (Apache's `MaxKeepAliveRequests`; nginx's `keepalive_requests`). A page and its files take a few;
 * a browser opens a new connection without a word. The point is pipelining: a client writing 50,000
 * `GET /` and never reading the answers grew Deno's memory by half a gigabyte, because Deno queues
 * every answer where JavaScript cannot see it. With this cap one connection can queue at most 100.
 */
export const MAX_REQUESTS_PER_CONNECTION = 100;

const requestCounts = new WeakMap<Duplex, number>();

/** Counts a request on `socket`; true when it is the last one the connection may make. */
export function isLastRequest(socket: Duplex): boolean {
  const count = (requestCounts.get(socket) ?? 0) + 1;
  requestCounts.set(socket, count);
  return count >= MAX_REQUESTS_PER_CONNECTION;
}

/** The hook: the connection's last allowed request is answered with `Connection: close`, then hung up. */
export const limitRequestsPerConnection: Hook = (request, reply) =>
  isLastRequest(request.req.socket) ? { ...reply, headers: { ...reply.headers, Connection: 'close' } } : reply;

/** Descriptors kept for everything but client connections: the listening socket, stdio, the stores' files. */
const RESERVED_DESCRIPTORS = 64;

/** Past this many connections, memory rather than descriptors is what runs out. */
const MAX_DEFAULT_CONNECTIONS = 10_000;

/** Where the descriptor limit cannot be read (Deno without --allow-all, not Linux): under Linux's usual 1,024. */
export const FALLBACK_MAX_CONNECTIONS = 900;

/**
 * The default cap: the process's descriptor limit (the soft `RLIMIT_NOFILE`, read from
 * `/proc/self/limits`, since neither runtime has `getrlimit`), less RESERVED_DESCRIPTORS.
 */
export function defaultMaxConnections(limitsFile = '/proc/self/limits'): number {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return FALLBACK_MAX_CONNECTIONS; // Deno denies /proc/self/* to all but --allow-all
  }
  const soft = /^Max open files\s+(\d+|unlimited)/m.exec(text)?.[1];
  if (soft === undefined) return FALLBACK_MAX_CONNECTIONS;
  if (soft === 'unlimited') return MAX_DEFAULT_CONNECTIONS;
  return Math.max(1, Math.min(Number(soft) - RESERVED_DESCRIPTORS, MAX_DEFAULT_CONNECTIONS));
}

/** At most one "cap reached" line per this long, however many connections are refused. */
const CAP_LOG_INTERVAL_MS = 10_000;

/**
 * Caps open connections at `max`, below the descriptor limit: a connection past it is closed as soon as
 * it is accepted. Both runtimes honour `maxConnections`; neither logs, and only Node emits `drop`, so
 * the count kept here tells the operator when the cap is reached.
 *
 * Under Deno the cap is not the whole answer. Deno's node:net stops accepting for good after one
 * accept() fails with EMFILE (Node's retries), and it accepts a burst from the listen queue faster
 * than the excess is closed, so a burst of connections can still reach the limit. Minimal reproduction:
 *
 *   // server.mjs, run as: (ulimit -n 64; deno run --allow-net server.mjs)
 *   import { createServer } from 'node:net';
 *   createServer((socket) => socket.end('hello\n')).listen(8765, '127.0.0.1');
 *
 * then open 100 connections at once, close them, and connect again: Node says hello, Deno never
 * answers (Deno.listen itself reports EMFILE to its caller). Keep `ulimit -n` well above the cap.
 */
export function capConnections(server: Server, max: number, log: Logger, now: () => number = Date.now): void {
  server.maxConnections = max;
  let open = 0;
  let lastLogged = -Infinity;
  server.on('connection', (socket: Duplex) => {
    open++;
    socket.once('close', () => open--);
    if (open >= max && now() - lastLogged >= CAP_LOG_INTERVAL_MS) {
      lastLogged = now();
      log.warn(`Connection cap reached: ${max} connections are open, new ones are closed at once until some end`);
    }
  });
}
