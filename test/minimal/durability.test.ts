/**
 * users.json on the minimal server: written whole (temp file, fsync, rename, fsync of the folder) before
 * the 303 is sent, so a `kill -9` right after the answer loses nothing, and saves made at once do not
 * overwrite each other.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { launchMinimalServer, minimalUsers } from '../helpers/minimal_server.ts';
import { RUNTIME, makeTempDir, type LaunchedServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';
const running: LaunchedServer[] = [];
after(async () => {
  for (const server of running) await server.stop();
});

async function launch(dir: string): Promise<LaunchedServer> {
  // No JWT_SECRET: the secret the first start generates must outlive the kill as well.
  const server = await launchMinimalServer({ JWT_SECRET: '' }, dir);
  running.push(server);
  return server;
}

const signup = (server: LaunchedServer, username: string) => send(`${server.origin}/signup`, server.ca, 'POST', { form: { username, password: PASSWORD } });

describe(`kill -9 (${RUNTIME})`, () => {
  test('right after a 303, the user is in users.json; after a restart the name gives 409 and the cookie still opens /order', async () => {
    const dir = await makeTempDir();
    const first = await launch(dir);
    const response = await signup(first, 'durable');
    assert.equal(response.status, 303);
    assert.equal(await first.stop('SIGKILL'), null); // killed, not exited
    const cookie = response.setCookies[0]!.split(';')[0]!;

    const users = await minimalUsers(first.dataDir);
    assert.deepEqual(users.map((user) => user.username), ['durable']);
    assert.match(users[0]!.passwordHash, /^\$argon2id\$/);

    const second = await launch(dir);
    assert.equal((await signup(second, 'DURABLE')).status, 409);
    const order = await send(`${second.origin}/order`, second.ca, 'GET', { headers: { cookie } });
    assert.equal(order.status, 200);
    assert.match(order.body, /Hello, <span class="username">durable<\/span>/);
  });

  test('after a burst of sign-ups at once, every one answered 303 is in users.json, and no temp file is left', async () => {
    const server = await launch(await makeTempDir());
    const names = Array.from({ length: 20 }, (_, i) => `burst${i}`);
    const responses = await Promise.all(names.map((name) => signup(server, name)));
    assert.deepEqual(responses.map((response) => response.status), names.map(() => 303));
    await server.stop('SIGKILL');

    assert.deepEqual((await minimalUsers(server.dataDir)).map((user) => user.username).sort(), names.sort());
    assert.deepEqual((await readdir(server.dataDir)).sort(), ['jwt-secret', 'users.json']);
  });

  test('of two sign-ups for one name at once, one gets 303 and the other 409, and the name is stored once', async () => {
    const server = await launch(await makeTempDir());
    const statuses = (await Promise.all([signup(server, 'twin'), signup(server, 'Twin')])).map((response) => response.status);
    assert.deepEqual(statuses.sort(), [303, 409]);
    assert.equal((await minimalUsers(server.dataDir)).length, 1);
  });
});
