/**
 * A NUL or another control character in a username or a password: refused with 400 before any store is
 * asked (PostgreSQL refuses a NUL in text with an error of its own, which answered 503 and raised a
 * storage alarm), and at login counted as the failed attempt it is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { manualClock, startInProcess, type InProcessServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const credentials = (username: string, password = PASSWORD) => new URLSearchParams({ username, password }).toString();

describe('control characters in credentials', () => {
  const clock = manualClock();
  let server: InProcessServer;
  before(async () => {
    server = await startInProcess({ clock: clock.now, env: { RATE_LIMIT: '1000' } });
    const client = keepAliveClient(server);
    assert.equal((await client.send('POST', '/signup', FORM, credentials('alice'))).status, 303);
    client.close();
  });
  after(() => server.close());

  async function post(path: string, body: string) {
    const client = keepAliveClient(server);
    try {
      return await client.send('POST', path, FORM, body);
    } finally {
      client.close();
    }
  }

  test('a login with a NUL in the username or the password answers 400, naming the field', async () => {
    for (const [body, field] of [
      ['username=al%00ice&password=correct+horse+battery', 'username'],
      ['username=alice&password=correct%00horse+battery', 'password'],
      ['username=alice%0A&password=correct+horse+battery', 'username'],
    ] as const) {
      const response = await post('/login', body);
      assert.equal(response.status, 400, body);
      assert.equal((JSON.parse(response.body) as { field?: string }).field, field);
    }
  });

  test('a sign-up with a control character in the password answers 400', async () => {
    const response = await post('/signup', credentials('bob', 'correct\u0001horse battery'));
    assert.equal(response.status, 400);
    assert.equal((JSON.parse(response.body) as { field?: string }).field, 'password');
  });

  test('each counts as a failed login for the account: after enough, even the right password waits', async () => {
    // Before: they reached the store, failed there, and were given back as no attempt at all.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post('/login', credentials('alice', `wrong\u0000guess${i}`))).status);
    assert.ok(statuses.includes(429), statuses.join());
    const blocked = await post('/login', credentials('alice'));
    assert.equal(blocked.status, 429);
    assert.ok(blocked.headers['retry-after']);
  });
});
