/**
 * `RunningServer.close()` (lib/defences/graceful_stop.ts), in-process, where a test can shorten the grace
 * period: it ends within the grace whatever the connections do. The same stop through a signal, under
 * both runtimes, is in test/https/shutdown.test.ts.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { openTls, parseResponse, readUntilClosed } from '../../scripts/support/wire.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

const BODY = new URLSearchParams({ username: 'finisher', password: 'correct horse battery' }).toString();

/**
 * A sign-up whose headers the server has, and whose body it waits for: the server's `100 Continue`
 * (RFC 9110 §10.1.1) says the request is in flight.
 */
async function signupInFlight(server: InProcessServer): Promise<{ socket: TLSSocket; answer: Promise<string> }> {
  const socket = await openTls(server);
  const answer = readUntilClosed(socket);
  socket.write(
    'POST /signup HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      `Content-Length: ${Buffer.byteLength(BODY)}\r\nExpect: 100-continue\r\n\r\n`,
  );
  await new Promise<void>((resolve) => {
    const check = (chunk: string) => {
      if (!chunk.includes('100 Continue')) return;
      socket.off('data', check);
      resolve();
    };
    socket.on('data', check);
  });
  return { socket, answer };
}

test('a request in flight during the stop gets its answer, with Connection: close, and then the connection ends', async () => {
  const server = await startInProcess({ shutdownGraceMs: 60_000 });
  const { socket, answer } = await signupInFlight(server);
  const stopped = server.close();
  socket.write(BODY);
  const response = parseResponse((await answer).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''));
  assert.equal(response.status, 303);
  assert.deepEqual(response.headers.get('connection'), ['close']);
  await stopped;
});

test('a request in flight that never completes is cut when the grace period ends, and the stop ends then', { timeout: 10_000 }, async () => {
  const server = await startInProcess({ shutdownGraceMs: 300 });
  const { answer } = await signupInFlight(server); // its body never comes
  await server.close();
  assert.equal(await answer, 'HTTP/1.1 100 Continue\r\n\r\n', 'cut without an answer');
});

test('connections with nothing in flight (idle, mid-handshake, half a request) are closed at once, without waiting for the grace period', { timeout: 10_000 }, async () => {
  const server = await startInProcess({ shutdownGraceMs: 600_000 });
  const { hostname, port } = new URL(server.origin);
  const midHandshake = connect({ host: hostname, port: Number(port) });
  await new Promise((resolve) => midHandshake.once('connect', resolve));
  const idle = await openTls(server);
  const halfRequest = await openTls(server);
  halfRequest.write('GET / HTTP/1.1\r\nHost: loc');
  const closed = [midHandshake, idle, halfRequest].map((socket) => {
    socket.on('error', () => {}); // a reset is the server cutting us off: fine
    return new Promise((resolve) => socket.once('close', resolve));
  });
  await server.close();
  await Promise.all(closed);
});
