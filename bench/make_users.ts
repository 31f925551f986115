/**
 * Writes a data folder as the stores leave it after a clean stop: `users.json` with `count` users named
 * `seed0`, `seed1`, ..., all sharing one precomputed argon2id hash (hashing 100,000 passwords for real
 * would take over an hour; the store does not care), and, if asked, `sessions-v3.json` with one live
 * session per user. The layout is the stores' own: a snapshot, one item per line.
 *
 * Also runnable by hand: `node --import tsx bench/make_users.ts <dataDir> <count>`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export function seedName(i: number): string {
  return `seed${i}`;
}

const DAY = 24 * 60 * 60 * 1000;

/** `{"version":2,"seq":0,` then each list one item per line: the stores' snapshot format. */
function snapshot(lists: Record<string, unknown[]>): string {
  const parts = Object.entries(lists).map(([key, items]) => `${JSON.stringify(key)}:[${items.length > 0 ? `\n${items.map((item) => JSON.stringify(item)).join(',\n')}\n` : ''}]`);
  return `{"version":2,"seq":0,\n${parts.join(',\n')}}\n`;
}

/** Writes `users.json`; returns the users' ids. */
export async function makeUsers(dataDir: string, count: number, passwordHash: string): Promise<string[]> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const createdAt = new Date().toISOString();
  const users = Array.from({ length: count }, (_, i) => ({ id: randomUUID(), username: seedName(i), passwordHash, createdAt }));
  await writeFile(path.join(dataDir, 'users.json'), snapshot({ users }), { mode: 0o600 });
  return users.map((user) => user.id);
}

/** Writes `sessions-v3.json` with one live session, at generation 0, per user id. */
export async function makeSessions(dataDir: string, userIds: readonly string[]): Promise<void> {
  const now = Date.now();
  const sessions = userIds.map((userId) => ({ id: randomUUID(), userId, startedAt: now, expiresAt: now + 30 * DAY, generation: 0, rotatedAt: now }));
  await writeFile(path.join(dataDir, 'sessions-v3.json'), snapshot({ sessions, deniedAccessTokens: [], clock: [{ latest: now }] }), { mode: 0o600 });
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
