/**
 * /session/refresh is rate limited per session and per client address, with a clock the test moves: each
 * rotation rewrites the sessions file, so a script refreshing in a loop must not get to do it without
 * end. The limits sit far above what a browser does: one refresh per session every 15 minutes, or a
 * handful at once when several tabs wake together.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { manualClock, startInProcess, type InProcessServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

/** Signs `username` up from `address` and returns the refresh token it was given. */
async function signUp(server: InProcessServer, username: string, address: string): Promise<string> {
  const client = keepAliveClient(server, { localAddress: address });
  try {
    const response = await client.send('POST', '/signup', FORM, new URLSearchParams({ username, password: 'correct horse battery' }).toString());
    assert.equal(response.status, 303);
    return refreshTokenIn(response.headers['set-cookie']);
  } finally {
    client.close();
  }
}

function refreshTokenIn(setCookies: string[] | undefined): string {
  const token = /^__Secure-refresh=([^;]+)/.exec(setCookies?.find((cookie) => cookie.startsWith('__Secure-refresh=')) ?? '')?.[1];
  assert.ok(token, `no refresh cookie in ${setCookies}`);
  return token;
}

/** POST /session/refresh with `token` from `address`. */
async function refresh(server: InProcessServer, token: string, address = '127.0.3.1') {
  const client = keepAliveClient(server, { localAddress: address });
  try {
    return await client.send('POST', '/session/refresh', { cookie: `__Secure-refresh=${token}`, accept: 'application/json' });
  } finally {
    client.close();
  }
}

describe('refresh limits', () => {
  const clock = manualClock();
  let server: InProcessServer;

  before(async () => {
    server = await startInProcess({ clock: clock.now, env: { RATE_LIMIT: '20' } });
  });

  after(async () => {
    await server.close();
  });

  test('one session gets a burst of 10 refreshes, then 429 with Retry-After until its allowance refills at one a second', async () => {
    let token = await signUp(server, 'tabs', '127.0.3.9');
    for (let i = 1; i <= 10; i++) {
      const response = await refresh(server, token);
      assert.equal(response.status, 204, `refresh ${i}`);
      token = refreshTokenIn(response.headers['set-cookie']);
    }
    const refused = await refresh(server, token);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.headers['set-cookie'], undefined, 'nothing rotated, nothing cleared');

    const other = await signUp(server, 'other-tabs', '127.0.3.9');
    assert.equal((await refresh(server, other)).status, 204, 'another session keeps its own allowance');

    clock.advance(1_000);
    assert.equal((await refresh(server, token)).status, 204, 'the session itself survived the 429');
  });

  test('one address gets a burst of 60 refresh attempts, then 429; another address is not affected', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await refresh(server, `forged-token-${i}`, '127.0.3.2')).status);
    assert.deepEqual(statuses.slice(0, 60), Array(60).fill(401));
    assert.equal(statuses[60], 429);
    assert.equal((await refresh(server, 'forged-token', '127.0.3.3')).status, 401);
  });
});

test('RATE_LIMIT=0 turns the refresh limits off too, for load tests', async () => {
  const server = await startInProcess(); // the test servers' default: RATE_LIMIT=0
  try {
    let token = await signUp(server, 'load', '127.0.3.4');
    for (let i = 1; i <= 15; i++) {
      const response = await refresh(server, token);
      assert.equal(response.status, 204, `refresh ${i}`);
      token = refreshTokenIn(response.headers['set-cookie']);
    }
  } finally {
    await server.close();
  }
});
