/**
 * The folder every store writes in (`DATA_DIR`), made sure of before anything else: created if
 * missing (mode 0700: the stores hold password hashes and the JWT key), and written to once: by taking
 * its lock (`data_dir_lock.ts`) when the embedded stores will live there, else by a probe file. A folder
 * the server cannot write stops the start with one line saying which folder and what to do, instead
 * of a raw `EACCES` at the first sign-up, or at the first start's secret.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { acquireLock, type DataDirLock } from './data_dir_lock.ts';
import { ConfigError } from '../errors.ts';

/** Why the file system refused, in words, for the codes an operator can fix. */
const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
};

/** Creates the folder if missing and locks it for this process; the lock's file is the write check. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    return await acquireLock(dataDir);
  } catch (error) {
    throw await refusal(dataDir, error);
  }
}

/** Creates the folder if missing and checks that the server can write there, without locking it. */
export async function prepareDataDir(dataDir: string): Promise<void> {
  const probe = path.join(dataDir, `.write-check-${process.pid}`);
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(probe, ''); // replaces one a crash left behind
    await rm(probe);
  } catch (error) {
    throw await refusal(dataDir, error);
  }
}

async function refusal(dataDir: string, error: unknown): Promise<unknown> {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const start = `Cannot write to DATA_DIR "${dataDir}": `;
  // mkdir's: ENOTDIR for a file among the parents, EEXIST for a file at the path itself.
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new ConfigError(`${start}"${await fileInTheWay(dataDir)}" is a file, not a folder (${code}); set DATA_DIR to a folder`);
  }
  const reason = REASONS[code];
  if (reason === undefined) return error; // not one an operator fixes by hand (or Deno's NotCapable, which says so itself)
  return new ConfigError(
    `${start}${reason} (${code}); let the user the server runs as write there (chown or chmod), or set DATA_DIR to a folder it can write`,
  );
}

/** The path itself, or the parent of it, that is a file: the one the message should name. */
async function fileInTheWay(dataDir: string): Promise<string> {
  // mkdir's error names the folder it was making, not the file in its way.
  for (let candidate = dataDir; path.dirname(candidate) !== candidate; candidate = path.dirname(candidate)) {
    if ((await stat(candidate).catch(() => undefined))?.isFile()) return candidate;
  }
  return dataDir;
}
