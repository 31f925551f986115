import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { holdSignup } from '../helpers/in_flight.ts';
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
