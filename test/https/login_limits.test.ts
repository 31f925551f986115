/**
 * What the per-account backoff and the device cookies hold against, from the outside, on Node and
 * Deno (round 3): a flood of made-up names cannot flush a waiting account; a browser keeps one device
 * id however often it signs in, and an account trusts only its newest few, across a restart; device
 * cookies and counts belong to an account's id, so two stored accounts whose names look alike share
 * neither; a name with no account has no device.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PasswordHasher } from '../../lib/accounts/passwords.ts';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { FAST_ARGON2, launchWithOptions, makeTempDir, type LaunchedServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const DEVICE = '__Secure-device';
/** Names with no account remembered by this server: small, so a test can overflow it. */
const UNKNOWN_NAMES = 100;

let dir: string;
let server: LaunchedServer;

/** The server on `dir`, attempts limited (RATE_LIMIT=0 would switch the backoff off), argon2 cheap. */
const launch = () => launchWithOptions({ unknownNamesRemembered: UNKNOWN_NAMES, passwords: { params: FAST_ARGON2 } }, { env: { RATE_LIMIT: '100000' }, dir });

before(async () => {
  dir = await makeTempDir();
  // Two accounts stored before names were compared by their skeletons: "straße" is the attacker's own.
  const hash = await (await PasswordHasher.create({ params: FAST_ARGON2 })).hash(PASSWORD);
  const user = (id: string, username: string) => ({ id, username, passwordHash: hash, createdAt: '2025-01-01T00:00:00.000Z' });
  await mkdir(path.join(dir, 'data'), { mode: 0o700 });
  await writeFile(path.join(dir, 'data', 'users.json'), JSON.stringify({ version: 1, users: [user('legacy-1', 'strasse'), user('legacy-2', 'straße')] }), { mode: 0o600 });
  server = await launch();
});

after(async () => {
  await server.stop();
});

async function login(username: string, password = PASSWORD, deviceCookie?: string) {
  const client = keepAliveClient(server);
  try {
    const cookie = deviceCookie === undefined ? {} : { cookie: `${DEVICE}=${deviceCookie}` };
    return await client.send('POST', '/login', { ...FORM, ...cookie }, new URLSearchParams({ username, password }).toString());
  } finally {
    client.close();
  }
}

async function signup(username: string) {
  const client = keepAliveClient(server);
  try {
    const response = await client.send('POST', '/signup', FORM, new URLSearchParams({ username, password: PASSWORD }).toString());
    assert.equal(response.status, 303, `sign up ${username}`);
    return deviceCookieOf(response.setCookies);
  } finally {
    client.close();
  }
}

/** The value of the device cookie among `setCookies`, if one was set. */
function deviceCookieOf(setCookies: readonly string[]): string | undefined {
  return setCookies.map((cookie) => new RegExp(`^${DEVICE}=([^;]*)`).exec(cookie)?.[1]).find((value) => value !== undefined);
}

const deviceIdOf = (cookie: string | undefined) => cookie?.split('.')[1];

/** Six wrong guesses without a device cookie: the account's own count then makes everyone without one wait. */
async function lock(username: string): Promise<void> {
  for (let i = 0; i < 6; i++) assert.equal((await login(username, `wrong guess ${i}`)).status, 401);
  assert.equal((await login(username)).status, 429, `${username} is locked`);
}

test('a flood of logins for made-up names leaves a waiting account waiting: no guess is checked (round 3, finding 1)', async () => {
  await signup('flush-victim');
  // Wrong guesses, each wait sat out, until the wait is 4 s: long enough to flood within it.
  let retryAfter = 0;
  while (retryAfter < 4) {
    const response = await login('flush-victim', 'wrong guess');
    if (response.status !== 429) continue;
    retryAfter = Number(response.headers['retry-after']);
    if (retryAfter < 4) await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
  }
  const client = keepAliveClient(server, { maxSockets: 10 });
  try {
    const flood = Array.from({ length: UNKNOWN_NAMES + 50 }, (_, i) => client.send('POST', '/login', FORM, new URLSearchParams({ username: `made-up-${i}`, password: 'x' }).toString()));
    for (const response of await Promise.all(flood)) assert.equal(response.status, 401);
    const guesses = await Promise.all(['guess 1', 'guess 2', 'guess 3', 'guess 4', 'guess 5', PASSWORD].map((password) => login('flush-victim', password)));
    assert.deepEqual(guesses.map((response) => response.status), [429, 429, 429, 429, 429, 429]);
  } finally {
    client.close();
  }
});

test('a login with a trusted device cookie keeps its device id; the account trusts its 5 newest devices, and an older cookie counts for nothing (round 3, finding 2)', async () => {
  const first = await signup('devices');
  const again = deviceCookieOf((await login('devices', PASSWORD, first)).setCookies);
  assert.equal(deviceIdOf(again), deviceIdOf(first), 'the same browser is the same device');
  const newer: string[] = [];
  for (let i = 0; i < 5; i++) newer.push(deviceCookieOf((await login('devices')).setCookies)!);
  assert.equal(new Set([first, ...newer].map(deviceIdOf)).size, 6, 'a browser without a cookie is a new device');

  await lock('devices');
  assert.equal((await login('devices', PASSWORD, first)).status, 429, 'the oldest of six: no longer trusted, so it waits with everyone else');
  for (const cookie of newer) assert.equal((await login('devices', PASSWORD, cookie)).status, 303, 'each of the newest five has its own count');
});

test('the devices an account trusts survive a restart', async () => {
  const [oldest, ...rest] = [await signup('restarted'), ...(await Promise.all([1, 2, 3, 4, 5].map(async () => deviceCookieOf((await login('restarted')).setCookies)!)))];
  await server.stop();
  server = await launch();
  await lock('restarted');
  assert.equal((await login('restarted', PASSWORD, oldest)).status, 429);
  for (const cookie of rest) assert.equal((await login('restarted', PASSWORD, cookie)).status, 303);
});

test('two stored accounts whose names look alike share no count and no device: "straße" cannot help its owner into "strasse" (round 3, finding 3)', async () => {
  assert.match(server.output(), /warning: Users: 1 stored name looks like an earlier user's \(UTS #39 skeleton\).*"straße" \(legacy-2\) looks like "strasse" \(legacy-1\)/);
  const attackers = deviceCookieOf((await login('straße')).setCookies);
  assert.ok(attackers, 'the attacker signs in to their own account and gets its device cookie');
  await lock('straße');
  assert.equal((await login('strasse')).status, 303, "failures at straße are straße's own");
  await lock('strasse');
  assert.equal((await login('strasse', PASSWORD, attackers)).status, 429, "straße's device cookie is not strasse's");
  assert.equal((await login('straße', PASSWORD, attackers)).status, 303, 'it is still good for its own account');
});

test('a name with no account has no device: a cookie of another account gives its guesses no count of their own', async () => {
  const cookie = await signup('has-a-device');
  for (let i = 0; i < 6; i++) {
    const response = await login('no-such-account', `guess ${i}`, cookie);
    assert.equal(response.status, 401);
    assert.equal(deviceCookieOf(response.setCookies), undefined);
  }
  assert.equal((await login('no-such-account', 'guess', cookie)).status, 429);
});
