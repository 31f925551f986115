/**
 * `npm start` on a data folder written by the version before the journal (`users.json` and
 * `sessions.json` at version 1; the fixture in test/lib/storage/fixtures/v1, made by that version):
 * the server starts, every user can sign in, and a clean stop leaves the current files only. The
 * refresh tokens of that version no longer work (the CHANGELOG says so): their holders sign in again.
 */
import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { launchServer, makeTempDir } from '../helpers/server.ts';

const FIXTURE = fileURLToPath(new URL('../lib/storage/fixtures/v1', import.meta.url));
const EXPECTED = JSON.parse(await readFile(fileURLToPath(new URL('../lib/storage/fixtures/v1.expected.json', import.meta.url)), 'utf8')) as Record<
  'aliceSpent' | 'aliceToken' | 'bobToken',
  string
>;
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

const root = await makeTempDir();
after(() => rm(root, { recursive: true, force: true }));

test('a version 1 data folder starts with every user and session, its refresh tokens refused, and is in the current format after a clean stop', async () => {
  const dataDir = path.join(root, 'data');
  await cp(FIXTURE, dataDir, { recursive: true });
  const server = await launchServer({}, root);
  const client = keepAliveClient(server);
  try {
    for (const username of ['alice', 'Bob']) {
      const login = await client.send('POST', '/login', FORM, new URLSearchParams({ username, password: 'correct horse battery' }).toString());
      assert.equal(login.status, 303, `${username} cannot sign in`);
    }
    const refresh = (token: string) => client.send('POST', '/session/refresh', { cookie: `__Secure-refresh=${token}`, accept: 'application/json' });
    for (const token of [EXPECTED.aliceSpent, EXPECTED.aliceToken, EXPECTED.bobToken]) assert.equal((await refresh(token)).status, 401);
  } finally {
    client.close();
    assert.equal(await server.stop('SIGTERM'), 0);
  }
  const users = JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')) as { version: number; users: { username: string }[] };
  assert.equal(users.version, 3);
  assert.deepEqual(users.users.map((user) => user.username), ['alice', 'Bob']);
  const sessions = JSON.parse(await readFile(path.join(dataDir, 'sessions-v3.json'), 'utf8')) as { version: number; sessions: unknown[] };
  assert.equal(sessions.sessions.length, 4, 'two sessions from the fixture, two from the logins');
  // The snapshot, beside the empty journal it names; nothing of the earlier files is left.
  assert.deepEqual((await readdir(dataDir)).filter((name) => name.startsWith('sessions') && !name.includes('.journal.')), ['sessions-v3.json']);
});
