/**
 * Writes a data folder as the stores leave it after a clean stop: `users.json` with `count` users named
 * `seed0`, `seed1`, ..., all sharing one precomputed argon2id hash (hashing 100,000 passwords for real
 * would take over an hour; the store does not care), and, if asked, `sessions-v3.json` with one live
 * session per user. Written by the stores' own `encodeSnapshot`, each beside the empty journal it names.
 *
 * Also runnable by hand: `node --import tsx bench/make_users.ts <dataDir> <count>`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeSnapshot } from '../lib/storage/snapshot.ts';

export function seedName(i: number): string {
  return `seed${i}`;
}

const DAY = 24 * 60 * 60 * 1000;

/** Writes `<name>.json`, a snapshot of `lists` (in that order) naming journal 2, and that journal, empty. */
async function writeStore(dataDir: string, name: string, lists: Record<string, unknown[]>): Promise<void> {
  await writeFile(path.join(dataDir, `${name}.journal.2.jsonl`), '', { mode: 0o600 });
  await writeFile(path.join(dataDir, `${name}.json`), await encodeSnapshot(0, 2, Object.keys(lists), lists), { mode: 0o600 });
}

/** Writes `users.json`; returns the users' ids. */
export async function makeUsers(dataDir: string, count: number, passwordHash: string): Promise<string[]> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const createdAt = new Date().toISOString();
  const users = Array.from({ length: count }, (_, i) => ({ id: randomUUID(), username: seedName(i), passwordHash, createdAt }));
  await writeStore(dataDir, 'users', { users });
  return users.map((user) => user.id);
}

/** Writes `sessions-v3.json` with one live session, at generation 0, per user id. */
export async function makeSessions(dataDir: string, userIds: readonly string[]): Promise<void> {
  const now = Date.now();
  const sessions = userIds.map((userId) => ({ id: randomUUID(), userId, startedAt: now, expiresAt: now + 30 * DAY, generation: 0, rotatedAt: now }));
  await writeStore(dataDir, 'sessions-v3', { sessions, deniedAccessTokens: [], clock: [{ latest: now }] });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dataDir, count] = process.argv.slice(2);
  if (dataDir === undefined || count === undefined) {
    console.error('Usage: node --import tsx bench/make_users.ts <dataDir> <count>');
    process.exit(2);
  }
  const { hash } = await import('@node-rs/argon2');
  const { OWASP_ARGON2ID } = await import('../lib/accounts/passwords.ts');
  await makeUsers(dataDir, Number(count), await hash('correct horse battery staple', { ...OWASP_ARGON2ID, algorithm: 2 }));
  console.log(`Wrote ${count} users to ${path.join(dataDir, 'users.json')} (password: correct horse battery staple)`);
}
