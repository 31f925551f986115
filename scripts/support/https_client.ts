/**
 * One HTTPS request as a promise, for the scripts, the tests and the benchmarks alike: real TLS that
 * trusts exactly the server's own certificate (never `rejectUnauthorized: false`), the body read
 * whole, the headers kept both parsed and as they arrived.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Agent, request } from 'node:https';
import { checkServerIdentity } from 'node:tls';

/** A server to talk to: its origin (`https://127.0.0.1:41234`) and the certificate to trust, in PEM. */
export interface Endpoint {
  readonly origin: string;
  readonly ca: string;
}

/** Header lines as written or received: order, case and repeats kept. */
export type HeaderList = [name: string, value: string][];

export interface HttpsResponse {
  /** `HTTP/1.1 303 See Other` */
  readonly statusLine: string;
  readonly status: number;
  /** Names in lower case, as Node parses them. */
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: HeaderList;
  /** Every `Set-Cookie` header, in order. */
  readonly setCookies: string[];
  readonly body: string;
}

export interface HttpsRequestOptions {
  readonly ca: string;
  readonly method?: string;
  /** An object, or a flat `[name, value, name, value…]` list Node sends as is, in order. */
  readonly headers?: OutgoingHttpHeaders | string[];
  readonly body?: string | Buffer;
  /** A keep-alive agent to reuse connections; by default each request opens its own. */
  readonly agent?: Agent;
}

/** Sends one request and resolves with the whole response. */
export function httpsRequest(url: string | URL, options: HttpsRequestOptions): Promise<HttpsResponse> {
  const { hostname } = new URL(url);
  // The certificate is checked against the host we connect to, even when a request sends another Host header.
  const identity = (_host: string, cert: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(hostname.replace(/^\[|\]$/g, ''), cert);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: options.agent ?? false, checkServerIdentity: identity }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const rawHeaders: HeaderList = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) rawHeaders.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({
          statusLine: `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`,
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders,
          setCookies: res.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A client that keeps its connections open between requests, for runs of hundreds of ordinary
 * requests (or a burst that must arrive at once) that would otherwise wait on TLS handshakes.
 */
export function keepAliveClient(server: Endpoint, options: { maxSockets?: number; localAddress?: string } = {}) {
  // localAddress: any 127.x.y.z is this machine, so one test can be many client addresses.
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 4, localAddress: options.localAddress, ca: server.ca });
  return {
    send(method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: string): Promise<HttpsResponse> {
      const length = body === undefined ? {} : { 'content-length': Buffer.byteLength(body) };
      return httpsRequest(new URL(path, server.origin), { ca: server.ca, agent, method, headers: { ...length, ...headers }, body });
    },
    close: () => agent.destroy(),
  };
}
