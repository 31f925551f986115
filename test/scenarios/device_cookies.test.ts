/**
 * The owner is not locked out of their own account by someone guessing at it (OWASP, "Slow down online
 * guessing attacks with device cookies"): a browser that signed in before holds a signed device cookie
 * and is limited on its own, while every other client shares the account's backoff.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { manualClock, startInProcess, type InProcessServer } from '../helpers/server.ts';
import type { TestBrowser } from '../helpers/https_client.ts';

const PASSWORD = 'correct horse battery';
const DEVICE = '__Secure-device';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

const clock = manualClock();
let server: InProcessServer;
/** The owner's browser, which signed in once before the attack. */
let owner: TestBrowser;
/** The attacker's browser, signed in to the attacker's own account. */
let mallory: TestBrowser;

before(async () => {
  server = await startInProcess({ clock: clock.now, env: { RATE_LIMIT: '20' } });
  owner = server.browser();
  assert.equal((await owner.signup('alice')).status, 200);
  mallory = server.browser();
  assert.equal((await mallory.signup('mallory')).status, 200);
});

after(async () => {
  await server.close();
});

/** A login from its own client address (127.0.2.n), sending `cookie` if given. */
async function loginFrom(n: number, username: string, password: string, cookie?: string) {
  const client = keepAliveClient(server, { localAddress: `127.0.2.${n}` });
  try {
    const body = new URLSearchParams({ username, password }).toString();
    return await client.send('POST', '/login', { ...FORM, ...(cookie !== undefined && { cookie }) }, body);
  } finally {
    client.close();
  }
}

const login = (browser: TestBrowser, password = PASSWORD) => browser.request('POST', '/login', { form: { username: 'alice', password } });

test('a successful login sets a long-lived device cookie for /login only, HttpOnly, Secure and SameSite=Strict', async () => {
  const response = await login(owner);
  assert.equal(response.status, 303);
  const device = response.setCookies.find((cookie) => cookie.startsWith(`${DEVICE}=`));
  assert.ok(device, `no ${DEVICE} in ${response.setCookies.join(' | ')}`);
  assert.match(device, /; Path=\/login;/);
  assert.match(device, /; HttpOnly/);
  assert.match(device, /; Secure/);
  assert.match(device, /; SameSite=Strict/);
  assert.ok(Number(/Max-Age=(\d+)/.exec(device)?.[1]) >= 180 * 24 * 60 * 60);
});

test("while an attacker's guesses lock the account, the owner's browser signs in at once", async () => {
  const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => loginFrom(1 + (i % 4), 'alice', `guess ${i}`)));
  assert.ok(burst.some((response) => response.status === 429), 'the account is locked for untrusted clients');

  const stranger = await loginFrom(10, 'alice', PASSWORD);
  assert.equal(stranger.status, 429, 'a client without a device cookie shares the account lock, right password or not');

  const signedIn = await login(owner);
  assert.equal(signedIn.status, 303);
});

test("the attacker gains nothing from a device cookie of another account, or a forged one", async () => {
  const own = await mallory.cookie(DEVICE, '/login');
  assert.ok(own, 'mallory holds a device cookie for her own account');
  const ownersValue = (await owner.cookie(DEVICE, '/login'))!;
  const forged = ownersValue.slice(0, -2) + (ownersValue.endsWith('AA') ? 'BB' : 'AA');
  for (const cookie of [`${DEVICE}=${own}`, `${DEVICE}=${forged}`, `${DEVICE}=garbage`]) {
    const response = await loginFrom(11, 'alice', PASSWORD, cookie);
    assert.equal(response.status, 429, cookie);
  }
});

test('a device that fails too often is locked out on its own; the owner\'s other device still signs in', async () => {
  clock.advance(60 * 60_000); // the account lock from the burst above has lapsed
  const laptop = server.browser();
  assert.equal((await login(laptop)).status, 303);
  clock.advance(15 * 60_000);

  for (let i = 0; i < 6; i++) assert.equal((await login(owner, `mistyped ${i}`)).status, 401);
  const locked = await login(owner);
  assert.equal(locked.status, 429);
  assert.match(String(locked.headers['retry-after']), /^[1-9]\d*$/);

  assert.equal((await login(laptop)).status, 303, "the laptop's own allowance is untouched");
});
