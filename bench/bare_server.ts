/**
 * The physical limit for /order: a bare `node:https` server with the project's certificate that answers
 * every request with one fixed page of the same size as /order. No routing, no cookie, no JWT, no log.
 *
 * Run as a child process by `run.ts`: PAGE_FILE holds the page, TLS_CERT/TLS_KEY the certificate. It
 * prints `listening <port>` once it listens.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const page = readFileSync(process.env.PAGE_FILE!);
const headers = { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': page.length };

const server = createServer({ cert: readFileSync(process.env.TLS_CERT!), key: readFileSync(process.env.TLS_KEY!) }, (_req, res) => {
  res.writeHead(200, headers);
  res.end(page);
});
server.keepAliveTimeout = 5_000; // the same as the project's server
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
