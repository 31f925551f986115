/**
 * Talking to a server at the byte level, for requests whose every byte matters:
 * - `exchange` sends exactly the headers it is given, in order (Node adds none when Host, Connection
 *   and Content-Length are there), and hands back the status line and headers as they arrived;
 * - `rawRequest` (or `openTls` and `readUntilClosed`) writes bytes to a bare TLS socket, for requests
 *   no HTTP client would send: a broken request line, a missing Host, bad chunked framing, CR/LF where
 *   it must not be, a `/../` path a URL parser would "fix". The bytes written are the bytes the server reads.
 */
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { httpsRequest, type Endpoint, type HeaderList } from './https_client.ts';

export type { HeaderList } from './https_client.ts';

export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly requestHeaders: HeaderList;
  readonly requestBody: string;
  /** `HTTP/1.1 303 See Other` */
  readonly statusLine: string;
  readonly status: number;
  readonly responseHeaders: HeaderList;
  readonly body: string;
}

/** The first value of a response header, by case-insensitive name. */
export function header(exchange: Exchange, name: string): string | undefined {
  return exchange.responseHeaders.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/** Every `Set-Cookie` of a response, in order. */
export function setCookies(exchange: Exchange): string[] {
  return exchange.responseHeaders.filter(([key]) => key.toLowerCase() === 'set-cookie').map(([, value]) => value);
}

/**
 * Sends one request over a new TLS connection. `Host` comes first and `Connection: close` last; a
 * body gets its `Content-Length`. Everything else is the caller's, in the caller's order.
 */
export async function exchange(server: Endpoint, method: string, path: string, headers: HeaderList = [], body = ''): Promise<Exchange> {
  const url = new URL(path, server.origin);
  const requestHeaders: HeaderList = [['Host', url.host], ...headers];
  if (body !== '' || method === 'POST') requestHeaders.push(['Content-Length', String(Buffer.byteLength(body))]);
  requestHeaders.push(['Connection', 'close']);
  const response = await httpsRequest(url, { ca: server.ca, method, headers: requestHeaders.flat(), body });
  return {
    method,
    path,
    requestHeaders,
    requestBody: body,
    statusLine: response.statusLine,
    status: response.status,
    responseHeaders: response.rawHeaders,
    body: response.body,
  };
}

/** The first response on a connection, parsed just enough to assert on. */
export interface RawResponse {
  status: number;
  /** Header names in lower case; every value of a repeated header, in order. */
  headers: Map<string, string[]>;
  body: string;
  /** Everything the server sent on the connection before it closed. */
  raw: string;
}

/** Opens a TLS connection that trusts exactly the server's certificate. */
export function openTls(server: Endpoint, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const { hostname, port } = new URL(server.origin);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 443), ca: server.ca, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Resolves with everything received once the server closes the connection, or once `timeoutMs` has
 * passed (the socket is then closed from this side).
 */
export function readUntilClosed(socket: TLSSocket, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    // A reset after the response is the server cutting us off (a 413 before the body is read): fine.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

/**
 * Writes `bytes` on a fresh connection and returns the server's answer once it closes the connection
 * (or `timeoutMs` passes). Requests should say `Connection: close` unless the server is expected to
 * close anyway. Rejects when nothing that reads as an HTTP response came back.
 */
export async function rawRequest(server: Endpoint, bytes: string | Buffer, timeoutMs?: number): Promise<RawResponse> {
  const socket = await openTls(server);
  const closed = readUntilClosed(socket, timeoutMs);
  socket.write(bytes);
  const response = parseResponse(await closed);
  if (response.status === 0) throw new Error(`No HTTP response (got ${JSON.stringify(response.raw.slice(0, 80))})`);
  return response;
}

/** Parses the first response in `raw` (status line, headers, the body that follows); status 0 if there is none. */
export function parseResponse(raw: string): RawResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = (headEnd === -1 ? raw : raw.slice(0, headEnd)).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  return { status, headers, body: headEnd === -1 ? '' : raw.slice(headEnd + 4), raw };
}

/**
 * Writes `total` bytes of filler to `socket` as fast as it takes them (waiting for 'drain'), until all
 * are written or the socket closes: a body sent flat out. Returns how many bytes it has handed over.
 */
export function sendFlatOut(socket: TLSSocket, total: number): () => number {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let sent = 0;
  const write = () => {
    while (socket.writable && sent < total) {
      sent += chunk.length;
      if (!socket.write(chunk)) return void socket.once('drain', write);
    }
  };
  write();
  return () => sent;
}
