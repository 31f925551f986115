/**
 * Writes a `users.json` with `count` users named `seed0`, `seed1`, ..., all sharing one precomputed
 * argon2id hash (hashing 100,000 passwords for real would take over an hour; the store does not care).
 * The layout is the store's own: one user object per line.
 *
 * Also runnable by hand: `node --import tsx bench/make_users.ts <dataDir> <count>`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export function seedName(i: number): string {
  return `seed${i}`;
}

export async function makeUsers(dataDir: string, count: number, passwordHash: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const createdAt = new Date().toISOString();
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(JSON.stringify({ id: randomUUID(), username: seedName(i), passwordHash, createdAt }));
  }
  await writeFile(path.join(dataDir, 'users.json'), `{"version":1,"users":[\n${lines.join(',\n')}\n]}\n`, { mode: 0o600 });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dataDir, count] = process.argv.slice(2);
  if (dataDir === undefined || count === undefined) {
    console.error('Usage: node --import tsx bench/make_users.ts <dataDir> <count>');
    process.exit(2);
  }
  const { hash } = await import('@node-rs/argon2');
  const { OWASP_ARGON2ID } = await import('../lib/auth/passwords.ts');
  await makeUsers(dataDir, Number(count), await hash('correct horse battery staple', { ...OWASP_ARGON2ID, algorithm: 2 }));
  console.log(`Wrote ${count} users to ${path.join(dataDir, 'users.json')} (password: correct horse battery staple)`);
}
