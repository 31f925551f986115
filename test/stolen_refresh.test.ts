/**
 * A stolen refresh token: once its owner has rotated it, the thief replaying the old one (after the
 * 10 s grace window for racing tabs) ends the whole session, for the thief and the owner alike
 * (RFC 9700 §4.14.2); once its owner has logged out, it opens nothing. A clock the test moves stands
 * in for the wait.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { send } from './helpers/https_client.ts';
import { manualClock, startInProcess, type InProcessServer } from './helpers/server.ts';

const clock = manualClock();
let server: InProcessServer;

before(async () => {
  server = await startInProcess({ clock: clock.now });
});

after(async () => {
  await server.close();
});

function refreshWith(token: string) {
  return send(`${server.origin}/refresh?next=/order`, server.ca, 'GET', { headers: { cookie: `__Secure-refresh=${token}` } });
}

test('replaying a rotated refresh token after the grace window revokes the whole session', async () => {
  const owner = server.browser();
  await owner.signup('alice');
  const stolen = (await owner.cookie('__Secure-refresh', '/refresh'))!;

  assert.equal((await owner.request('GET', '/refresh?next=/order')).status, 303, 'the owner rotates');
  const current = (await owner.cookie('__Secure-refresh', '/refresh'))!;
  assert.notEqual(current, stolen);

  clock.advance(11_000);
  const thief = await refreshWith(stolen);
  assert.equal(thief.status, 401);
  assert.match(thief.body, /used twice/);
  assert.equal(thief.setCookies.length, 1, 'no new access token, only the refresh cookie cleared');
  assert.match(thief.setCookies[0]!, /^__Secure-refresh=; Path=\/refresh; Max-Age=0;/);

  const ownerAgain = await refreshWith(current);
  assert.equal(ownerAgain.status, 401, "the owner's newer token died with its family");
});

test('after logout, a copy of the session\'s refresh token opens nothing', async () => {
  const owner = server.browser();
  await owner.signup('bob');
  const stolen = (await owner.cookie('__Secure-refresh', '/refresh'))!;
  assert.equal((await owner.request('POST', '/logout')).status, 303);

  const thief = await refreshWith(stolen);
  assert.equal(thief.status, 401);
  assert.equal(thief.setCookies.some((cookie) => cookie.startsWith('__Host-jwt=') && !cookie.includes('Max-Age=0')), false);
});
