/**
 * A JSON state file that is whole at every instant, even across a crash or `kill -9`, with writes that
 * arriving together share one trip to the disk (group commit).
 */
import { randomUUID } from 'node:crypto';
import * as realFs from 'node:fs/promises';
import path from 'node:path';

/** The file operations a durable write uses; tests pass a version that fails on cue. */
export interface FileSystem {
  open: typeof realFs.open;
  rename: typeof realFs.rename;
  rm: typeof realFs.rm;
  readdir: typeof realFs.readdir;
  readFile: typeof realFs.readFile;
}

/** A write did not reach the disk; the previous file is untouched. The server answers 503. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code = 'ERR_STORAGE';
}

/** The file exists but is not valid JSON, or not the shape its store expects: the server refuses to start rather than overwrite it. */
export class CorruptFileError extends Error {
  override readonly name = 'CorruptFileError';
  readonly code = 'ERR_CORRUPT_FILE';
}

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The whole file's contents: a string, or chunks already encoded as UTF-8 that are written one after
 * another without being joined (a large store keeps most of its file encoded between writes).
 */
export type FileContents = string | readonly Uint8Array[];

export class DurableFile {
  readonly path: string;
  readonly #serialize: () => FileContents;
  readonly #fs: FileSystem;
  #next: Batch | undefined;
  #draining: Promise<void> | undefined;

  /** `serialize` is called at the start of each write and must return the whole current state. */
  constructor(filePath: string, serialize: () => FileContents, fs: FileSystem = realFs) {
    this.path = filePath;
    this.#serialize = serialize;
    this.#fs = fs;
  }

  /**
   * Parses the file, or returns `undefined` when there is none yet. Leftover temp files from a crash
   * are removed first: they never replaced the real file, so nothing in them was acknowledged.
   */
  async read(): Promise<unknown> {
    const dir = path.dirname(this.path);
    const prefix = `${path.basename(this.path)}.`;
    for (const name of await this.#fs.readdir(dir)) {
      if (name.startsWith(prefix) && name.endsWith('.tmp')) await this.#fs.rm(path.join(dir, name), { force: true });
    }
    let text: string;
    try {
      text = await this.#fs.readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new CorruptFileError(
        `Cannot start: ${this.path} is not valid JSON (${(error as Error).message}); ` +
          'it has been left as it is: restore it from a backup or move it away',
        { cause: error },
      );
    }
  }

  /**
   * Resolves once the state as it is now is on disk; rejects with `StorageError` if it could not be
   * written. A commit made while a write is in flight joins the next write, so a burst of N sign-ups
   * costs about two file writes, not N.
   */
  commit(): Promise<void> {
    const batch = (this.#next ??= newBatch());
    this.#draining ??= this.#drain();
    return batch.promise;
  }

  async #drain(): Promise<void> {
    while (this.#next !== undefined) {
      const batch = this.#next;
      this.#next = undefined;
      try {
        await this.#writeAtomically(this.#serialize());
        batch.resolve();
      } catch (error) {
        batch.reject(new StorageError(`Cannot write ${path.basename(this.path)}: ${(error as Error).message}`, { cause: error }));
        // Let the callers of the failed batch undo their in-memory changes before the next batch is
        // serialised, so the next write cannot store what was never acknowledged.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    this.#draining = undefined;
  }

  /**
   * Write a uniquely named temp file in the same folder, fsync it, rename it over the old file, fsync
   * the folder. rename(2) is atomic, so a reader (or a restart after a crash) sees the old file or the
   * new one, never half of either; the fsyncs make the data and then the rename survive a power cut.
   */
  async #writeAtomically(data: FileContents): Promise<void> {
    const temp = `${this.path}.${randomUUID()}.tmp`;
    let handle: realFs.FileHandle | undefined;
    try {
      handle = await this.#fs.open(temp, 'wx', 0o600);
      if (typeof data === 'string') {
        await handle.writeFile(data); // loops until every byte is written: no short writes
      } else {
        // One writev(2) for all chunks: one trip to the thread pool, not one per 512 KiB as writeFile
        // makes. libuv retries partial writes itself; a shortfall left over is a failure like any other.
        const expected = data.reduce((sum, chunk) => sum + chunk.byteLength, 0);
        const { bytesWritten } = await handle.writev(data as Uint8Array[]);
        if (bytesWritten !== expected) throw new Error(`short write: ${bytesWritten} of ${expected} bytes`);
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await this.#fs.rename(temp, this.path);
    } catch (error) {
      await handle?.close().catch(() => {});
      await this.#fs.rm(temp, { force: true }).catch(() => {});
      throw error;
    }
    const dir = await this.#fs.open(path.dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Resolves when no write is in flight or queued (used at shutdown). */
  async flush(): Promise<void> {
    await this.#draining;
  }
}
