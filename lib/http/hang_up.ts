/**
 * How the server ends a connection after an answer marked `Connection: close` (RFC 9112 §9.6).
 */
import type { Duplex } from 'node:stream';

/** How long a hung-up connection may take to flush its last answer to a client that is not reading. */
const LINGER_MS = 5_000;

/**
 * Ends the connection once what was written has been flushed (`end()`: Deno's TLS writes go out a
 * moment later, and a `destroy()` at once would cut them off), then destroys it, so nothing more is
 * read from it. A client that does not take its answer within LINGER_MS is cut off anyway.
 */
export function hangUp(socket: Duplex): void {
  if (socket.destroyed) return;
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  socket.end(() => {
    clearTimeout(cut);
    socket.destroy();
  });
}
