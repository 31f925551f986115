/**
 * The users a data folder holds while a server runs on it: `users.json` (the snapshot, if one was
 * written yet) plus the changes in its journals after it, read the way the store reads them at start
 * but touching nothing, so a black-box test can look at the disk without disturbing the server.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface StoredUser {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: string;
  /** Absent in users stored before devices were kept. */
  deviceIds?: string[];
}

export async function storedUsers(dataDir: string): Promise<StoredUser[]> {
  const users = new Map<string, StoredUser>();
  let seq = 0;
  try {
    const snapshot = JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')) as { seq?: number; users: StoredUser[] };
    seq = snapshot.seq ?? 0;
    for (const user of snapshot.users) users.set(user.id, user);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const journals = (await readdir(dataDir))
    .map((name) => /^users\.journal\.(\d+)\.jsonl$/.exec(name))
    .filter((match) => match !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]));
  for (const [name] of journals) {
    for (const line of (await readFile(path.join(dataDir, name), 'utf8')).split('\n')) {
      if (line === '') continue;
      const record = JSON.parse(line) as { seq: number; op: string; user?: StoredUser; id?: string; passwordHash?: string };
      if (record.seq <= seq) continue;
      if (record.op === 'add') users.set(record.user!.id, record.user!);
      else if (record.op === 'setPasswordHash') users.set(record.id!, { ...users.get(record.id!)!, passwordHash: record.passwordHash! });
    }
  }
  return [...users.values()];
}
