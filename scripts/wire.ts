/**
 * Requests whose every header is known: `exchange` sends exactly the headers it is given, in order
 * (Node adds none when Host, Connection and Content-Length are there), and hands back the response's
 * status line and headers as they arrived (`rawHeaders`: order, case and repeats kept). `rawRequest`
 * writes bytes to a TLS socket, for requests a URL parser would "fix" before they were sent.
 */
import { request } from 'node:https';
import { connect } from 'node:tls';
import type { Target } from './target.ts';

export type HeaderList = [name: string, value: string][];

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
export function exchange(target: Pick<Target, 'origin' | 'ca'>, method: string, path: string, headers: HeaderList = [], body = ''): Promise<Exchange> {
  const url = new URL(path, target.origin);
  const requestHeaders: HeaderList = [['Host', url.host], ...headers];
  if (body !== '' || method === 'POST') requestHeaders.push(['Content-Length', String(Buffer.byteLength(body))]);
  requestHeaders.push(['Connection', 'close']);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: requestHeaders.flat(), ca: target.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const responseHeaders: HeaderList = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({
          method,
          path,
          requestHeaders,
          requestBody: body,
          statusLine: `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`,
          status: res.statusCode ?? 0,
          responseHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Writes `bytes` to a TLS connection as they are and returns what came back (the server closes the
 * connection, or `timeoutMs` passes). For `/../` paths and bodies that lie about their length.
 */
export function rawRequest(target: Pick<Target, 'origin' | 'ca'>, bytes: string | Buffer, timeoutMs = 5000): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(target.origin);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 443), ca: target.ca });
    let text = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      if (status === 0) reject(new Error(`No HTTP response (got ${JSON.stringify(text.slice(0, 80))})`));
      else resolve({ status, text });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('secureConnect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('end', done);
    // The server may reset the connection once it has answered (a 413 before the body is read).
    socket.on('error', (error) => (text === '' ? (clearTimeout(timer), reject(error)) : done()));
  });
}
