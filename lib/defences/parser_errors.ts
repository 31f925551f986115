/**
 * The answer to a request the HTTP parser refuses before any handler sees it: broken framing, headers
 * too large, a client too slow to send them.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's status for each parser error (`socketOnError` in its `_http_server.js`); anything else is 400. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/**
 * For `server.on('clientError', ...)`: Node's own default answer, but the socket is destroyed only
 * once the answer has been flushed. Node's default writes and destroys at once, which is fine where a
 * TLS write goes out at once (Node), not where it goes out a moment later (Deno): there about one
 * answer in four was lost, and the client saw the connection close without a status.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy(); // the client is gone (ECONNRESET): nobody to answer
    return;
  }
  // listener.ts writes each response whole, in one end(), so no half-sent response is on the socket to garble.
  const status = STATUS_BY_CODE[error.code ?? ''] ?? 400;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`, () => socket.destroy());
}
