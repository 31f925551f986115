/**
 * Limits on connections that hold the same under Deno as under Node, because we enforce them here
 * rather than trust the runtime: Deno's `node:https` is a separate implementation that lacks some of
 * Node's. How many answers one connection may leave unread, how many connections may be open at once,
 * and how a connection ends when the server hangs up.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../support/log.ts';

/**
 * Answers one connection may have waiting for its client before the server closes it. A client that
 * reads its answers has one at a time; only one that pipelines requests and does not read them piles
 * them up. Deno keeps reading such a connection and handling every request while the answers queue
 * where JavaScript cannot see them, and pausing the socket does not stop it: 50,000 pipelined
 * `GET /` grew its memory by 600 MiB. Counted here, they are bounded on both runtimes, and a client
 * that reads keeps its connection for as many requests as it likes.
 */
export const MAX_UNREAD_ANSWERS = 32;

/**
 * Closes a connection as soon as more than `max` of its answers are queued and not yet handed to the
 * network (`finish` not yet emitted). Node stops reading a connection whose answers back up, so under
 * Node this rarely bites; under Deno it is the bound.
 */
export function limitUnreadAnswers(server: Server, max = MAX_UNREAD_ANSWERS): void {
  const waiting = new WeakMap<Duplex, number>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const count = (waiting.get(socket) ?? 0) + 1;
    waiting.set(socket, count);
    res.once('finish', () => waiting.set(socket, (waiting.get(socket) ?? 1) - 1));
    if (count > max) socket.destroy();
  });
}

/**
 * Connections waiting in the kernel to be accepted (the `listen()` backlog). Deno accepts that many at
 * once, each taking a descriptor, before JavaScript can close the ones over the cap: the cap leaves
 * room for them.
 */
export const LISTEN_BACKLOG = 128;

/** Descriptors kept for everything but client connections: the listening socket, stdio, the stores' files. */
const RESERVED_DESCRIPTORS = 64;

/** Past this many connections, memory rather than descriptors is what runs out. */
const MAX_DEFAULT_CONNECTIONS = 10_000;

/** Where the descriptor limit is not known (not Linux; Deno started without the launcher): under Linux's usual 1,024. */
export const FALLBACK_MAX_CONNECTIONS = 1_024 - RESERVED_DESCRIPTORS - LISTEN_BACKLOG;

/**
 * The process's descriptor limit (the soft `RLIMIT_NOFILE`), read from `/proc/self/limits`, since
 * neither runtime has `getrlimit`; undefined where it cannot be read. Deno refuses that file to all
 * but `--allow-all`, so under Deno the launcher, which Node runs under the same limit, reads it and
 * passes the cap on as `MAX_CONNECTIONS` (`scripts/deno_permissions.ts`).
 */
export function descriptorLimit(limitsFile = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\d+|unlimited)/m.exec(text)?.[1];
  if (soft === undefined) return undefined;
  return soft === 'unlimited' ? Infinity : Number(soft);
}

/**
 * The connection cap: `configured` (MAX_CONNECTIONS) or 10,000, but always below the descriptor limit
 * by the reserved descriptors and the listen backlog, so that accepting never fails for lack of one
 * (after one such failure Deno never accepts again: docs/deno.md). `limited` says the limit lowered it.
 */
export function connectionCap(configured: number | undefined, limit: number | undefined): { max: number; limited: boolean } {
  if (limit === undefined) return { max: configured ?? FALLBACK_MAX_CONNECTIONS, limited: false };
  const room = Math.max(1, limit - RESERVED_DESCRIPTORS - LISTEN_BACKLOG);
  const wanted = configured ?? MAX_DEFAULT_CONNECTIONS;
  return { max: Math.min(wanted, room), limited: configured !== undefined && configured > room };
}

/** At most one "cap reached" line per this long, however many connections are refused. */
const CAP_LOG_INTERVAL_MS = 10_000;

/**
 * Caps open connections at `max`, below the descriptor limit: a connection past it is closed as soon as
 * it is accepted. Both runtimes honour `maxConnections`; neither logs, and only Node emits `drop`, so
 * the count kept here tells the operator when the cap is reached.
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
