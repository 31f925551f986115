/**
 * Stopping the server in bounded time, whatever its clients do. `server.close()` alone stops
 * accepting, then waits for every connection to end: a client that never finishes its TLS handshake,
 * or sends half a request and goes quiet, would keep the process alive for minutes. So every
 * connection is tracked from the moment it is accepted, and on stop:
 *
 * - connections with no request in flight (idle, mid-handshake, half a request) are closed at once:
 *   the server owes them nothing;
 * - a request in flight is answered with `Connection: close` and its connection ended after the answer
 *   (RFC 9112 §9.6), so the client knows not to send another;
 * - whatever is still open when the grace period ends is cut.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { Duplex } from 'node:stream';

export interface GracefulStop {
  /** Stops accepting and resolves once every connection is closed, `graceMs` at the latest. */
  stop(graceMs: number): Promise<void>;
}

/** Starts tracking `server`'s connections; call it before `listen`. */
export function trackConnections(server: Server): GracefulStop {
  // A connection appears twice: as the TCP socket accepted ('connection'), then, once its handshake
  // is done, as the TLS socket HTTP runs on ('secureConnection'). The client's address and port name
  // it in both.
  const handshaking = new Map<string, Duplex>();
  const secured = new Set<Duplex>();
  const inFlight = new Map<ServerResponse, Duplex>(); // each response not yet sent, and its connection
  let stopping = false;

  server.on('connection', (socket: Duplex & { remoteAddress?: string; remotePort?: number }) => {
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    handshaking.set(key, socket);
    socket.once('close', () => handshaking.delete(key));
  });
  server.on('secureConnection', (socket: Duplex & { remoteAddress?: string; remotePort?: number }) => {
    handshaking.delete(`${socket.remoteAddress}|${socket.remotePort}`);
    secured.add(socket);
    socket.once('close', () => secured.delete(socket));
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    inFlight.set(response, socket);
    if (stopping) response.shouldKeepAlive = false;
    response.once('close', () => {
      inFlight.delete(response);
      // Once its last answer is out, a connection is ended (flushed first): nothing else will come on it.
      if (stopping && !isBusy(socket)) socket.end();
    });
  });
  const isBusy = (socket: Duplex) => [...inFlight.values()].includes(socket);

  return {
    async stop(graceMs) {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of handshaking.values()) socket.destroy();
      for (const socket of secured) {
        if (!isBusy(socket)) socket.destroy();
      }
      for (const response of inFlight.keys()) {
        if (!response.headersSent) response.shouldKeepAlive = false; // answered with `Connection: close`
      }
      const cut = setTimeout(() => {
        for (const socket of [...handshaking.values(), ...secured]) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(cut);
    },
  };
}
