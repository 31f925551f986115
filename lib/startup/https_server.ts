/**
 * The `node:https` server itself: TLS settings and the timeouts that bound a slow client. What it
 * serves comes from the listener; the defences on connections are added by the wiring.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.ts';
import type { RequestListener } from '../http/listener.ts';
import type { TlsFiles } from './certificate.ts';

/**
 * A client gets 10 s to send its headers and 30 s for the whole request (then 408 and the connection
 * is cut); an idle keep-alive connection is closed after 5 s. Without these, a slowloris client
 * trickling bytes holds a socket for ever. Node looks for expired ones every `checkIntervalMs`.
 */
export interface ServerTimeouts {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
  checkIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = Object.freeze({
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  // Node's default is 30 s: a slowloris client would then keep its socket for up to 40 s, not 10 s.
  checkIntervalMs: 1_000,
});

/**
 * TLS 1.2 suites, all ECDHE (forward secrecy) and AEAD: AES-GCM and ChaCha20-Poly1305, for ECDSA
 * certificates (ours) and RSA ones. No CBC suite (LUCKY13 and the padding oracles before it), no CCM
 * and no ARIA: Mozilla's "intermediate" TLS 1.2 list without its DHE suites. TLS 1.3 suites are all AEAD and
 * set separately: Node keeps its defaults. Deno's TLS is rustls, which has no CBC suite to begin with
 * and ignores this option.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export function createHttpsServer(tls: TlsFiles, timeouts: ServerTimeouts, listener: RequestListener): Server {
  const server = createServer(
    // requireHostHeader is Node's default, stated because security_headers.ts relies on it (Deno does the same).
    { cert: tls.cert, key: tls.key, ciphers: TLS12_CIPHERS, requireHostHeader: true, connectionsCheckingInterval: timeouts.checkIntervalMs },
    listener,
  );
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  return server;
}

/**
 * Starts listening, with at most `backlog` connections waiting to be accepted; resolves with the URL to
 * print, or rejects with one line the operator can act on.
 */
export function listen(server: Server, host: string, port: number, backlog: number): Promise<{ url: string; port: number }> {
  return new Promise((resolve, reject) => {
    const refuse = (error: NodeJS.ErrnoException) => reject(listenRefusal(error, host, port));
    server.once('error', refuse);
    server.listen(port, host, backlog, () => {
      server.off('error', refuse);
      const { port: bound } = server.address() as AddressInfo;
      resolve({ url: `https://${host.includes(':') ? `[${host}]` : host}:${bound}`, port: bound });
    });
  });
}

/** A listen failure the operator can fix, as one line saying what to do; anything else as it is. */
function listenRefusal(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const start = `Cannot listen on ${host}:${port}: `;
  switch (error.code) {
    case 'EADDRINUSE':
      return new ConfigError(`${start}the port is in use (EADDRINUSE), perhaps by an earlier start still running; stop that process, or set PORT to a free port`);
    case 'EACCES':
      return new ConfigError(`${start}permission denied (EACCES); ports below 1024 need privileges: set PORT to 1024 or above`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${start}no network interface here has that address (EADDRNOTAVAIL); set HOST to one of this machine's addresses`);
    default:
      return error;
  }
}
