import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SHUTDOWN_GRACE_MS } from '../../lib/start_server.ts';
import { send } from '../helpers/https_client.ts';
import { holdSignup } from '../helpers/in_flight.ts';
import { openTls } from '../../scripts/support/wire.ts';
import { launchServer, makeTempDir, RUNTIME, type LaunchedServer } from '../helpers/server.ts';

test(`SIGTERM stops new connections, lets the request in flight finish and store its work, then exits 0 (${RUNTIME})`, async (t) => {
  const dir = await makeTempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const server = await launchServer({}, dir);
  const signup = await holdSignup(server.origin, server.ca, 'carol');

  const exitCode = server.stop('SIGTERM');
  await printed(server, /SIGTERM: finishing requests in flight/);
  // Refused, or reset when it reached the listening socket's backlog in the instant before it closed.
  await assert.rejects(send(`${server.origin}/`, server.ca, 'GET'), (error: NodeJS.ErrnoException) => /^ECONN(REFUSED|RESET)$/.test(error.code ?? ''));

  assert.deepEqual(await signup.finish(), { status: 303, location: '/order' });
  assert.equal(await exitCode, 0, server.output());
  const stored = JSON.parse(await readFile(path.join(server.dataDir, 'users.json'), 'utf8')) as { users: { username: string }[] };
  assert.deepEqual(stored.users.map((user) => user.username), ['carol']);
});

test(`SIGTERM stops within its grace whatever the connections do (no handshake, half a request, a body that never comes), closes them all and exits 0 (${RUNTIME})`, async (t) => {
  const server = await launchServer();
  t.after(() => server.child.kill('SIGKILL')); // if it never stops
  const { hostname, port } = new URL(server.origin);
  // 200 clients that connect and never start TLS, and 20 that stop halfway through a request.
  const silent = await Promise.all(Array.from({ length: 200 }, () => openTcp(hostname, Number(port))));
  const halfway = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const socket = await openTls(server);
      socket.write('POST /signup HTTP/1.1\r\nHost: localhost\r\nContent-Le');
      return socket;
    }),
  );
  // And a sign-up whose body never comes: in flight, so the stop waits for it, until the grace ends.
  await holdSignup(server.origin, server.ca, 'never-finished');
  const held = [...silent, ...halfway];
  t.after(() => held.forEach((socket) => socket.destroy()));
  const allClosed = Promise.all(held.map((socket) => new Promise((resolve) => socket.once('close', resolve))));
  held.forEach((socket) => socket.on('error', () => {})); // a reset is the server cutting us off: fine

  const exitCode = server.stop('SIGTERM');
  const late = sleep(SHUTDOWN_GRACE_MS + 5_000, 'still running', { ref: false }); // the grace, and time to flush and exit
  assert.equal(await Promise.race([exitCode, late]), 0, server.output());
  await assert.rejects(send(`${server.origin}/`, server.ca, 'GET'), { code: 'ECONNREFUSED' });
  assert.notEqual(await Promise.race([allClosed, late]), 'still running', 'every connection the server held is closed');
});

function openTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves once the server has printed a line matching `pattern`. */
function printed(server: LaunchedServer, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!pattern.test(server.output())) return;
      server.child.stdout?.off('data', check);
      resolve();
    };
    server.child.stdout?.on('data', check);
    check();
  });
}
