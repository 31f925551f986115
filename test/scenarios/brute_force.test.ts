/**
 * Guessing and flooding, with a clock the test moves: the per-account backoff after failed logins
 * holds across client addresses, the limiters' memory stays bounded when an attacker rotates keys, and
 * a burst of password hashing is shed with 503 instead of queueing without bound.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LoginBackoff } from '../../lib/defences/login_backoff.ts';
import { RateLimiter } from '../../lib/defences/rate_limit.ts';
import { OWASP_ARGON2ID } from '../../lib/accounts/passwords.ts';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { manualClock, startInProcess, type InProcessServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const credentials = (username: string, password = PASSWORD) => new URLSearchParams({ username, password }).toString();

/** One login from its own client address (127.0.1.n), as a botnet would send it. */
async function loginFrom(server: InProcessServer, n: number, username: string, password: string) {
  const client = keepAliveClient(server, { localAddress: `127.0.1.${n}` });
  try {
    return await client.send('POST', '/login', FORM, credentials(username, password));
  } finally {
    client.close();
  }
}

describe('per-account backoff after failed logins', () => {
  const clock = manualClock();
  let server: InProcessServer;

  before(async () => {
    server = await startInProcess({ clock: clock.now, env: { RATE_LIMIT: '20' } });
    const client = keepAliveClient(server);
    assert.equal((await client.send('POST', '/signup', FORM, credentials('alice'))).status, 303);
    client.close();
  });

  after(async () => {
    await server.close();
  });

  test('holds across addresses: after 6 failures even the right password waits, with Retry-After', async () => {
    for (let n = 1; n <= 6; n++) assert.equal((await loginFrom(server, n, 'alice', 'wrong guess')).status, 401);

    const blocked = await loginFrom(server, 7, 'alice', PASSWORD);
    assert.equal(blocked.status, 429);
    assert.equal(blocked.headers['retry-after'], '1');
    assert.equal(blocked.headers['set-cookie'], undefined);

    clock.advance(1_000);
    assert.equal((await loginFrom(server, 8, 'alice', 'wrong guess')).status, 401);
    assert.equal((await loginFrom(server, 9, 'alice', PASSWORD)).headers['retry-after'], '2', 'the wait doubles');

    clock.advance(2_000);
    assert.equal((await loginFrom(server, 10, 'alice', PASSWORD)).status, 303);
  });

  test('treats an unknown username exactly like a real one, so the backoff reveals no accounts', async () => {
    for (let n = 11; n <= 16; n++) assert.equal((await loginFrom(server, n, 'nobody', 'wrong guess')).status, 401);
    const blocked = await loginFrom(server, 17, 'nobody', 'wrong guess');
    assert.equal(blocked.status, 429);
    assert.equal(blocked.headers['retry-after'], '1');
  });
});

describe('parallel guesses against one account', () => {
  const clock = manualClock();
  let server: InProcessServer;
  /** Verifications started (wrong guesses and the right password alike), and a gate that holds them. */
  let verifications = 0;
  let openGate: () => void = () => {};

  before(async () => {
    server = await startInProcess({ clock: clock.now, env: { RATE_LIMIT: '20' } });
    const client = keepAliveClient(server);
    assert.equal((await client.send('POST', '/signup', FORM, credentials('carol'))).status, 303);
    client.close();
    // Hold every verification until the whole burst has arrived, as a burst of real argon2 work would.
    const passwords = server.running.services.passwords;
    const verify = passwords.verify.bind(passwords);
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    passwords.verify = async (hash, password) => {
      verifications++;
      await gate;
      return verify(hash, password);
    };
  });

  after(async () => {
    await server.close();
  });

  test('a burst released at once is verified only as far as the backoff allows, and the right password in it does not get in', async () => {
    // 29 wrong guesses from 5 addresses, all in flight at once; then the right one while they still are.
    const guesses = Array.from({ length: 29 }, (_, i) => loginFrom(server, 20 + (i % 5), 'carol', `wrong guess ${i}`));
    const settled: number[] = [];
    for (const guess of guesses) void guess.then((response) => settled.push(response.status));
    await until(() => verifications + settled.length === 29);
    const right = loginFrom(server, 25, 'carol', PASSWORD);
    void right.then((response) => settled.push(response.status));
    await until(() => verifications + settled.length === 30);
    openGate();

    const statuses = [...(await Promise.all(guesses)).map((response) => response.status), (await right).status];
    const count = (status: number) => statuses.filter((s) => s === status).length;
    assert.equal(verifications, 6, 'five free failures and one more, then the account waits');
    assert.deepEqual({ 401: count(401), 429: count(429), 303: count(303) }, { 401: 6, 429: 24, 303: 0 });
    assert.equal((await right).status, 429);
  });
});

test('an attempt abandoned before its password was checked (a 503) gives its place back', () => {
  const backoff = new LoginBackoff(true, manualClock().now);
  for (let i = 0; i < 20; i++) backoff.reserveForAccount('dave').abandoned();
  for (let i = 0; i < 6; i++) backoff.reserveForAccount('dave'); // five free failures and one more still pass
  assert.throws(() => backoff.reserveForAccount('dave'), { code: 'ERR_TOO_MANY_REQUESTS' });
});

/** Polls `condition` until it holds (the test's own timeout ends a wait that never does). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('memory stays bounded when an attacker rotates keys', () => {
  const CAP = 100;

  test('the per-address limiter never tracks more than its cap of addresses', () => {
    const limiter = new RateLimiter(1, manualClock().now, { maxKeys: CAP });
    for (let i = 0; i < 10 * CAP; i++) {
      limiter.take(`10.0.${i >> 8}.${i & 255}`);
      assert.ok(limiter.trackedKeys <= CAP, `${limiter.trackedKeys} keys after ${i + 1} addresses`);
    }
    assert.equal(limiter.trackedKeys, CAP);
  });

  test('the backoff never tracks more than its cap of names with no account', () => {
    const backoff = new LoginBackoff(true, manualClock().now, CAP);
    for (let i = 0; i < 10 * CAP; i++) {
      backoff.reserveForUnknownName(`user${i}`);
      assert.ok(backoff.tracked.unknownNames <= CAP, `${backoff.tracked.unknownNames} names after ${i + 1} usernames`);
    }
    assert.equal(backoff.tracked.unknownNames, CAP);
  });

  test('the backoff holds a small entry per name with no account, however long the name sent', () => {
    const entries = 1_000;
    const backoff = new LoginBackoff(true, manualClock().now, entries);
    const before = heapAfterGc();
    // A login body may hold a 16 KB "username": kept as is, 1,000 of them would hold 16 MB.
    for (let i = 0; i < entries; i++) backoff.reserveForUnknownName(`${i}:`.padEnd(16 * 1024, 'x'));
    const grown = heapAfterGc() - before;
    assert.ok(grown < 2 * 1024 * 1024, `${grown} bytes kept for ${entries} long usernames`);
  });
});

/** The heap in use after a full garbage collection (gc is exposed for this process on first use). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  return process.memoryUsage().heapUsed;
}

describe('password hashing sheds load', () => {
  let server: InProcessServer;

  before(async () => {
    // The real argon2id cost, so hashes overlap; at most two in flight.
    server = await startInProcess({ passwords: { params: OWASP_ARGON2ID, maxInFlight: 2 } });
  });

  after(async () => {
    await server.close();
  });

  test('a burst of sign-ups gets some 503s with Retry-After, the rest succeed, nothing else', async () => {
    const BURST = 12;
    const client = keepAliveClient(server, { maxSockets: BURST });
    try {
      // Open every connection first, so the sign-ups reach the server together, not one handshake apart.
      await Promise.all(Array.from({ length: BURST }, () => client.send('GET', '/login')));
      const names = Array.from({ length: BURST }, (_, i) => `burst${i}`);
      const responses = await Promise.all(names.map((name) => client.send('POST', '/signup', FORM, credentials(name))));

      const statuses = responses.map((response) => response.status);
      assert.ok(statuses.every((status) => status === 303 || status === 503), `statuses ${statuses}`);
      assert.ok(statuses.includes(303), 'some succeed');
      assert.ok(statuses.includes(503), 'some are shed');
      for (const [i, response] of responses.entries()) {
        const stored = (await server.running.services.users.findByName(names[i]!)) !== undefined;
        if (response.status === 503) {
          assert.match(String(response.headers['retry-after']), /^[1-9]\d*$/);
          assert.equal(stored, false, `${names[i]} was shed but stored`);
        } else {
          assert.equal(stored, true, `${names[i]} got 303 but is not stored`);
        }
      }
    } finally {
      client.close();
    }
  });
});
