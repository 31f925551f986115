import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { SessionStore } from '../lib/session_store.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

test('SessionStore writes what it holds: a rotation marked in memory is in the file, and survives a restart', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'session-store-'));
  dirs.push(dir);
  let now = Date.now();
  const options = { secret: new TextEncoder().encode('x'.repeat(32)), clock: () => now };
  const store = await SessionStore.open(dir, options);
  const first = await store.start('user-1');
  await store.start('user-2');
  const second = await store.rotate(first.refreshToken); // serialises the token once before, once after rotatedAt is set
  await store.end(second.sessionId, { jti: 'jti-1', exp: Math.floor(now / 1000) + 60 });

  const file = JSON.parse(await readFile(path.join(dir, 'sessions.json'), 'utf8'));
  assert.equal(file.version, 1);
  assert.equal(file.families.length, 1); // user-1's session ended
  assert.deepEqual(file.deniedAccessTokens.map((denied: { jti: string }) => denied.jti), ['jti-1']);

  const other = await store.start('user-3');
  const next = await store.rotate(other.refreshToken);
  const reopened = await SessionStore.open(dir, options);
  now += 60_000; // past the grace window: presenting the rotated token again is reuse
  await assert.rejects(reopened.rotate(other.refreshToken), { reason: 'reused' });
  await assert.rejects(reopened.rotate(next.refreshToken), { reason: 'unknown' }); // the family was revoked
});
