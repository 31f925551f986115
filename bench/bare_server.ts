/**
 * The physical limit for /order: a bare `node:https` server with the project's certificate that answers
 * every request with the very bytes the project sent for `/order`: its status line, its headers and
 * its page. No routing, no cookie, no JWT, no log.
 *
 * Run as a child process by `run.ts`, under Node or Deno: RESPONSE_FILE holds the recorded answer
 * (`recorded_response.ts`), TLS_CERT/TLS_KEY the certificate. It prints `listening <port>` on stderr
 * once it listens.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readRecordedResponse, replayedHeaders } from './recorded_response.ts';

const response = readRecordedResponse(process.env.RESPONSE_FILE!);
const body = Buffer.from(response.body);
// A flat [name, value, name, value…] list is written as it is: order and case kept.
const headers = replayedHeaders(response).flat();

const server = createServer({ cert: readFileSync(process.env.TLS_CERT!), key: readFileSync(process.env.TLS_KEY!) }, (_req, res) => {
  res.writeHead(response.status, response.statusMessage, headers);
  res.end(body);
});
server.keepAliveTimeout = 5_000; // the same as the project's server
server.listen(0, '127.0.0.1', () => {
  console.error(`listening ${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
