/**
 * `kill -9` in the middle of a sign-up burst: after a restart on the same DATA_DIR, users.json parses
 * and every sign-up that was answered 303 can log in. A 303 is only sent once the user is on disk, so
 * nothing acknowledged can be lost; whatever was in flight may or may not have made it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { launchServer, makeTempDir, type LaunchedServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const credentials = (username: string) => new URLSearchParams({ username, password: PASSWORD }).toString();

const SIGNUPS = 60;
/** The server is killed as soon as this many sign-ups have been acknowledged. */
const KILL_AFTER = 10;

let dir: string;
let restarted: LaunchedServer | undefined;

after(async () => {
  await restarted?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('after SIGKILL mid-burst, users.json parses and every acknowledged sign-up can log in', async () => {
  dir = await makeTempDir();
  const server = await launchServer({ RATE_LIMIT: '0' }, dir);
  const client = keepAliveClient(server, { maxSockets: 20 });

  const acknowledged: string[] = [];
  let killed: Promise<number | null> | undefined;
  const names = Array.from({ length: SIGNUPS }, (_, i) => `crash${i}`);
  await Promise.allSettled(
    names.map(async (name) => {
      const response = await client.send('POST', '/signup', FORM, credentials(name));
      if (response.status !== 303) return;
      acknowledged.push(name); // even if it arrives after the kill: the server sent it, so it was on disk
      if (acknowledged.length === KILL_AFTER) killed = server.stop('SIGKILL');
    }),
  );
  client.close();
  assert.ok(killed, 'the server was killed mid-burst');
  await killed;

  // Leftovers a crash mid-write could leave: the restart must remove them, not read them.
  const dataDir = server.dataDir;
  await writeFile(path.join(dataDir, `users.json.${randomUUID()}.tmp`), '{"users": [{"half": ');
  await writeFile(path.join(dataDir, `sessions.json.${randomUUID()}.tmp`), '{');

  restarted = await launchServer({ RATE_LIMIT: '0' }, dir);
  assert.deepEqual((await readdir(dataDir)).filter((name) => name.endsWith('.tmp')), []);

  const stored = JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')) as { users: { username: string }[] };
  const storedNames = new Set(stored.users.map((user) => user.username));
  for (const name of acknowledged) assert.ok(storedNames.has(name), `${name} was acknowledged but is not in users.json`);

  const login = keepAliveClient(restarted, { maxSockets: 4 });
  try {
    for (const name of acknowledged) {
      const response = await login.send('POST', '/login', FORM, credentials(name));
      assert.equal(response.status, 303, `${name} cannot log in after the restart`);
    }
  } finally {
    login.close();
  }
});
