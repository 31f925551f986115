/**
 * Slowloris: a client that sends its request a few bytes at a time, to hold a connection open for
 * ever. The server runs in-process with its timeouts cut from 10 s / 30 s to 1 s / 2 s, so the test
 * watches the whole thing happen in seconds; production keeps the defaults checked at the end.
 */
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { DEFAULT_TIMEOUTS } from '../../lib/startup/https_server.ts';
import { send } from '../helpers/https_client.ts';
import { openTls, parseResponse, readUntilClosed } from '../../scripts/support/wire.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

let server: InProcessServer;
let host: string;

before(async () => {
  server = await startInProcess({ timeouts: { headersMs: 1_000, requestMs: 2_000, checkIntervalMs: 100 } });
  host = new URL(server.origin).host;
});

after(async () => {
  await server.close();
});

/** Without the server's timeouts these tests would wait for ever: fail them instead. */
const UNLESS_CUT_OFF = { timeout: 20_000 };

/** Writes `start`, then one more `drip` every 100 ms for as long as the server keeps the socket. */
function trickle(socket: TLSSocket, start: string, drip: string): void {
  socket.write(start);
  const timer = setInterval(() => socket.write(drip), 100);
  socket.once('close', () => clearInterval(timer));
}

test('a client trickling its headers gets 408 and is cut off, while others are served', UNLESS_CUT_OFF, async () => {
  const socket = await openTls(server);
  const closed = readUntilClosed(socket);
  trickle(socket, `GET / HTTP/1.1\r\nHost: ${host}\r\n`, 'X-Slow: 1\r\n');

  const other = await send(server.origin, server.ca, 'GET');
  assert.equal(other.status, 200);

  const response = parseResponse(await closed);
  assert.equal(response.status, 408);
  assert.equal(socket.destroyed, true);
});

test('a client trickling its body gets 408 and is cut off', UNLESS_CUT_OFF, async () => {
  const socket = await openTls(server);
  const closed = readUntilClosed(socket);
  const head = `POST /signup HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n`;
  trickle(socket, head, ' ');

  const response = parseResponse(await closed);
  assert.equal(response.status, 408);
});

test('in production a client has 10 s for its headers and 30 s for its request, checked every second', () => {
  assert.equal(DEFAULT_TIMEOUTS.headersMs, 10_000);
  assert.equal(DEFAULT_TIMEOUTS.requestMs, 30_000);
  assert.ok(DEFAULT_TIMEOUTS.checkIntervalMs <= 1_000);
});
