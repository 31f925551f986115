/**
 * `kill -9` in the middle of a burst of sign-ups, and of refreshes and logouts: after a restart on the
 * same DATA_DIR, every sign-up that was answered 303 can log in, every refresh token handed out still
 * refreshes, and every logout answered stays logged out. An answer is only sent once the change is on
 * disk, so nothing acknowledged can be lost; whatever was in flight may or may not have made it.
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
const cleanups: (() => Promise<unknown>)[] = [];

after(async () => {
  await restarted?.stop();
  await rm(dir, { recursive: true, force: true });
  for (const cleanup of cleanups) await cleanup();
});

/** The value of cookie `name` among a response's Set-Cookie headers. */
function cookieValue(headers: Record<string, unknown>, name: string): string | undefined {
  for (const line of (headers['set-cookie'] as string[] | undefined) ?? []) {
    const [pair] = line.split(';');
    if (pair!.startsWith(`${name}=`)) return pair!.slice(name.length + 1);
  }
  return undefined;
}

test('after SIGKILL mid-burst, every acknowledged sign-up can log in, and is in users.json after the next clean stop', async () => {
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
  await writeFile(path.join(dataDir, `sessions-v3.json.${randomUUID()}.tmp`), '{');

  restarted = await launchServer({ RATE_LIMIT: '0' }, dir);
  assert.deepEqual((await readdir(dataDir)).filter((name) => name.endsWith('.tmp')), []);

  const login = keepAliveClient(restarted, { maxSockets: 4 });
  try {
    for (const name of acknowledged) {
      const response = await login.send('POST', '/login', FORM, credentials(name));
      assert.equal(response.status, 303, `${name} cannot log in after the restart`);
    }
  } finally {
    login.close();
  }

  // After a clean stop, users.json alone holds every user, as a readable JSON document.
  await restarted.stop('SIGTERM');
  restarted = undefined;
  const stored = JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')) as { users: { username: string }[] };
  const storedNames = new Set(stored.users.map((user) => user.username));
  for (const name of acknowledged) assert.ok(storedNames.has(name), `${name} was acknowledged but is not in users.json`);
  for (const name of (await readdir(dataDir)).filter((each) => each.endsWith('.jsonl'))) {
    assert.equal(await readFile(path.join(dataDir, name), 'utf8'), '', `${name}: the journals were folded into the snapshots`);
  }
});

test('after SIGKILL amid refreshes and logouts, every refresh token handed out refreshes and every logout answered holds', async () => {
  const storm = await makeTempDir();
  cleanups.push(() => rm(storm, { recursive: true, force: true }));
  const server = await launchServer({ RATE_LIMIT: '0' }, storm);
  const client = keepAliveClient(server, { maxSockets: 24 });

  // Each user's last acknowledged cookies, and whether a logout of theirs was answered or is in flight.
  interface Holder { name: string; access: string; refresh: string; loggedOut: 'no' | 'in flight' | 'yes' }
  const holders: Holder[] = [];
  for (let i = 0; i < 16; i++) {
    const name = `storm${i}`;
    const response = await client.send('POST', '/signup', FORM, credentials(name));
    assert.equal(response.status, 303);
    holders.push({ name, access: cookieValue(response.headers, '__Host-jwt')!, refresh: cookieValue(response.headers, '__Secure-refresh')!, loggedOut: 'no' });
  }

  let acknowledged = 0;
  let killed: Promise<number | null> | undefined;
  const acknowledge = () => {
    if (++acknowledged === 60) killed = server.stop('SIGKILL');
  };
  await Promise.allSettled(
    holders.map(async (holder, i) => {
      for (let round = 0; round < 12 && killed === undefined; round++) {
        if (i % 2 === 1 && round === 4) {
          holder.loggedOut = 'in flight';
          const response = await client.send('POST', '/session/logout', { cookie: `__Host-jwt=${holder.access}` });
          if (response.status === 303) {
            holder.loggedOut = 'yes';
            acknowledge();
          }
          return;
        }
        const response = await client.send('POST', '/session/refresh', { cookie: `__Secure-refresh=${holder.refresh}` });
        if (response.status !== 204) return;
        holder.access = cookieValue(response.headers, '__Host-jwt')!;
        holder.refresh = cookieValue(response.headers, '__Secure-refresh')!;
        acknowledge();
      }
    }),
  );
  client.close();
  assert.ok(killed, 'the server was killed mid-storm');
  await killed;

  const again = await launchServer({ RATE_LIMIT: '0' }, storm);
  cleanups.push(() => again.stop());
  const check = keepAliveClient(again, { maxSockets: 4 });
  try {
    for (const holder of holders) {
      if (holder.loggedOut === 'in flight') continue; // answered or not, nobody was told
      const refreshed = await check.send('POST', '/session/refresh', { cookie: `__Secure-refresh=${holder.refresh}` });
      const order = await check.send('GET', '/order', { cookie: `__Host-jwt=${holder.access}`, accept: 'application/json' });
      if (holder.loggedOut === 'yes') {
        assert.equal(refreshed.status, 401, `${holder.name} logged out, but the refresh token still works`);
        assert.equal(order.status, 401, `${holder.name} logged out, but the access token still works`);
      } else {
        assert.equal(refreshed.status, 204, `${holder.name}'s last refresh token was lost`);
      }
    }
  } finally {
    check.close();
  }
});
