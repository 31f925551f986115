/**
 * "Unknown user" and "wrong password" must take about the same time, or response timing tells an
 * attacker which usernames exist. Measured as a ratio of medians over alternating rounds at the
 * production argon2id cost, with a loose bound: a benchmark-style check, not a stopwatch test.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';
import { OWASP_ARGON2ID } from '../../lib/accounts/passwords.ts';

let server: InProcessServer;
before(async () => {
  server = await startInProcess({ passwords: { params: OWASP_ARGON2ID } });
  await server.browser().signup('known-user');
});
after(async () => {
  await server.close();
});

async function timeLogin(username: string): Promise<number> {
  const started = performance.now();
  const response = await send(`${server.origin}/login`, server.ca, 'POST', { form: { username, password: 'wrong password!' } });
  assert.equal(response.status, 401);
  return performance.now() - started;
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

test('the dummy hash exists before the first request: the first login for an unknown user computes no new hash', async () => {
  // Made on first use, it cost the first unknown-user login after each start 86-230 ms instead of ~31:
  // a timing tell that the name does not exist. Counted, not timed.
  const passwords = server.running.services.passwords;
  const hash = passwords.hash.bind(passwords);
  let hashes = 0;
  passwords.hash = (password) => {
    hashes++;
    return hash(password);
  };
  try {
    await timeLogin('nobody-at-all');
    await timeLogin('known-user');
  } finally {
    passwords.hash = hash;
  }
  assert.equal(hashes, 0);
});

test('a login for an unknown user takes about as long as one with a wrong password', async () => {
  await timeLogin('nobody'); // a warm-up, like the first request of any kind
  const known: number[] = [];
  const unknown: number[] = [];
  for (let round = 0; round < 7; round++) {
    known.push(await timeLogin('known-user'));
    unknown.push(await timeLogin(`nobody-${round}`));
  }
  const ratio = median(unknown) / median(known);
  assert.ok(ratio > 0.5 && ratio < 2, `unknown/known median login time ratio is ${ratio.toFixed(2)}`);
});
