/**
 * What every file the stores write shares: the file operations (swappable, so tests can fail or
 * "crash" any step), and the one way a whole file is replaced without ever being
 * half-written (a temp file, fsync, rename, fsync the folder).
 */
import { randomUUID } from 'node:crypto';
import * as realFs from 'node:fs/promises';
import path from 'node:path';

/** The file operations the stores use; tests pass a version that fails or stops on cue. */
export interface FileSystem {
  open: typeof realFs.open;
  rename: typeof realFs.rename;
  rm: typeof realFs.rm;
  readdir: typeof realFs.readdir;
  readFile: typeof realFs.readFile;
  /** What is at a path itself, a symbolic link included: whether a journal is still the file we write. */
  lstat: typeof realFs.lstat;
}

export const realFileSystem: FileSystem = realFs;

/** The advice every `CorruptFileError` (`../errors.ts`) ends with. */
export const CORRUPT_ADVICE = 'it has been left as it is: restore it from a backup or move it away';

/**
 * Replaces `filePath` with `chunks`, whole or not at all: write a uniquely named temp file in the same
 * folder, fsync it, rename it over the old file, fsync the folder. rename(2) is atomic, so a reader (or
 * a restart after a crash) sees the old file or the new one, never half of either; the fsyncs make the
 * data, then the rename, survive a power cut. A temp file left by a crash is removed at the next start.
 */
export async function replaceFile(fs: FileSystem, filePath: string, chunks: readonly Uint8Array[]): Promise<void> {
  const temp = `${filePath}.${randomUUID()}.tmp`;
  let handle: realFs.FileHandle | undefined;
  try {
    handle = await fs.open(temp, 'wx', 0o600);
    await writeAll(handle, chunks);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temp, filePath);
  } catch (error) {
    await handle?.close().catch(() => {});
    await fs.rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  await syncFolder(fs, path.dirname(filePath));
}

/** Writes every byte of `chunks` at the handle's position; a write(2) may write less than asked. */
export async function writeAll(handle: realFs.FileHandle, chunks: readonly Uint8Array[]): Promise<void> {
  for (const chunk of chunks) {
    let done = 0;
    while (done < chunk.byteLength) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
      if (bytesWritten <= 0) throw new Error(`short write: ${done} of ${chunk.byteLength} bytes`);
      done += bytesWritten;
    }
  }
}

/** fsync(2) on a folder makes the names created, renamed or removed in it survive a power cut. */
export async function syncFolder(fs: FileSystem, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes `name.<uuid>.tmp` files a crash left behind: they never replaced anything, so nothing in them was acknowledged. */
export async function removeLeftoverTempFiles(fs: FileSystem, dir: string, name: string): Promise<void> {
  for (const entry of await fs.readdir(dir)) {
    if (entry.startsWith(`${name}.`) && entry.endsWith('.tmp')) await fs.rm(path.join(dir, entry), { force: true });
  }
}
