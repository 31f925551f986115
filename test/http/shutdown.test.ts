import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { launchServer, makeTempDir, RUNTIME, type LaunchedServer } from '../helpers/server.ts';

test(`SIGTERM stops new connections, lets the request in flight finish and store its work, then exits 0 (${RUNTIME})`, async (t) => {
  const dir = await makeTempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const server = await launchServer({}, dir);

  // `Expect: 100-continue` makes the server say when it holds the request and waits for its body, so
  // the signal lands while the request is in flight, not before it arrived.
  const body = new URLSearchParams({ username: 'carol', password: 'correct horse battery' }).toString();
  const req = request(new URL('/signup', server.origin), {
    method: 'POST',
    ca: server.ca,
    agent: false,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
  });
  const response = new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
  });
  await new Promise((resolve) => req.once('continue', resolve));

  const exitCode = server.stop('SIGTERM');
  await printed(server, /SIGTERM: finishing requests in flight/);
  // Refused, or reset when it reached the listening socket's backlog in the instant before it closed.
  await assert.rejects(send(`${server.origin}/`, server.ca, 'GET'), (error: NodeJS.ErrnoException) => /^ECONN(REFUSED|RESET)$/.test(error.code ?? ''));
  req.end(body);

  assert.deepEqual(await response, { status: 303, location: '/order' });
  assert.equal(await exitCode, 0, server.output());
  const stored = JSON.parse(await readFile(path.join(server.dataDir, 'users.json'), 'utf8')) as { users: { username: string }[] };
  assert.deepEqual(stored.users.map((user) => user.username), ['carol']);
});

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
