/**
 * Online guessing, from the outside: with RATE_LIMIT=3, a fourth sign-up or login from one address
 * within the minute gets 429 with Retry-After in seconds, and does no work. Other addresses are not
 * affected. (Every 127.x.y.z address is this machine, so one test can be many clients.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { launchServer, type LaunchedServer } from '../helpers/server.ts';
import { storedUsers } from '../helpers/stored_users.ts';

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const credentials = (username: string) => new URLSearchParams({ username, password: PASSWORD }).toString();

let server: LaunchedServer;

before(async () => {
  server = await launchServer({ RATE_LIMIT: '3' });
});

after(async () => {
  await server.stop();
});

async function storedUsernames(): Promise<string[]> {
  return (await storedUsers(server.dataDir)).map((user) => user.username);
}

test('the fourth sign-up or login from one address within a minute gets 429 with Retry-After, and does nothing', async () => {
  const client = keepAliveClient(server, { localAddress: '127.0.0.2' });
  try {
    const first = await client.send('POST', '/signup', FORM, credentials('rate1'));
    const second = await client.send('POST', '/login', FORM, credentials('rate1'));
    const third = await client.send('POST', '/signup', FORM, credentials('rate3'));
    assert.deepEqual([first.status, second.status, third.status], [303, 303, 303]);

    for (const [route, username] of [['/signup', 'rate4'], ['/login', 'rate1']] as const) {
      const refused = await client.send('POST', route, FORM, credentials(username));
      assert.equal(refused.status, 429, route);
      assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/, 'Retry-After in whole seconds');
      assert.ok(Number(refused.headers['retry-after']) <= 60);
      assert.equal(refused.headers['set-cookie'], undefined);
    }
    assert.equal((await storedUsernames()).includes('rate4'), false);

    // A header anyone can write does not buy a fresh allowance.
    const spoofed = await client.send('POST', '/login', { ...FORM, 'x-forwarded-for': '203.0.113.9' }, credentials('rate1'));
    assert.equal(spoofed.status, 429);
  } finally {
    client.close();
  }
});

test('another address keeps its own allowance', async () => {
  const client = keepAliveClient(server, { localAddress: '127.0.0.3' });
  try {
    const response = await client.send('POST', '/signup', FORM, credentials('other'));
    assert.equal(response.status, 303);
  } finally {
    client.close();
  }
});

test('pages and the signed-in page are not rate limited', async () => {
  const client = keepAliveClient(server, { localAddress: '127.0.0.2' });
  try {
    for (let i = 0; i < 5; i++) assert.equal((await client.send('GET', '/login')).status, 200);
  } finally {
    client.close();
  }
});
