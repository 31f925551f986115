/**
 * Talking to the server over a bare TLS socket, for requests no HTTP client would send: a broken
 * request line, a missing Host, bad chunked framing, CR/LF where it must not be. The bytes written are
 * exactly the bytes the server reads.
 */
import { Agent, request } from 'node:https';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import type { TestServer } from './server.ts';

/** The first response on a connection, parsed just enough to assert on. */
export interface RawResponse {
  status: number;
  /** Header names in lower case; every value of a repeated header, in order. */
  headers: Map<string, string[]>;
  body: string;
  /** Everything the server sent on the connection before it closed. */
  raw: string;
}

/** Opens a TLS connection that trusts exactly the test server's certificate. */
export function openTls(server: TestServer): Promise<TLSSocket> {
  const { hostname, port } = new URL(server.origin);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca: server.ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with everything received once the server closes the connection. */
export function readUntilClosed(socket: TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => {}); // a reset after the response is the server cutting us off: fine
    socket.on('close', () => resolve(received));
  });
}

/**
 * Writes `request` on a fresh connection and returns the server's answer once it closes the
 * connection. Requests should say `Connection: close` unless the server is expected to close anyway.
 */
export async function rawRequest(server: TestServer, request: string | Buffer): Promise<RawResponse> {
  const socket = await openTls(server);
  const closed = readUntilClosed(socket);
  socket.write(request);
  return parseResponse(await closed);
}

/** Parses the first response in `raw` (status line, headers, the body that follows). */
export function parseResponse(raw: string): RawResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = (headEnd === -1 ? raw : raw.slice(0, headEnd)).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0);
  return { status, headers, body: headEnd === -1 ? '' : raw.slice(headEnd + 4), raw };
}

/**
 * An HTTPS client that keeps its connections open between requests, for tests that send hundreds of
 * ordinary requests (or a burst that must arrive at once) and would otherwise wait on TLS handshakes.
 */
export function keepAliveClient(server: TestServer, options: { maxSockets?: number; localAddress?: string } = {}) {
  // localAddress: any 127.x.y.z is this machine, so one test can be many client addresses.
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 4, localAddress: options.localAddress, ca: server.ca });
  return {
    send(method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: string) {
      return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const length = body === undefined ? {} : { 'content-length': Buffer.byteLength(body) };
        const req = request(new URL(path, server.origin), { method, headers: { ...length, ...headers }, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}
