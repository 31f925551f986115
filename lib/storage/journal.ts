/**
 * A store's state on disk as a snapshot plus an append-only journal, so that a write costs the same
 * however much is stored.
 *
 *   users.json                 the snapshot: `{"version":2,"seq":N,"users":[...]}`, one item per line
 *   users.journal.7.jsonl      the changes since, one JSON line each: `{"seq":N+1,"op":"add",...}`
 *
 * A change is acknowledged once its line is appended and fsynced: changes arriving together share one
 * write and one fsync (group commit), and neither depends on the size of the store, so a write is O(1).
 * When the journal outgrows the snapshot (or at a clean stop), the whole state is written as a new
 * snapshot in the background and the journal files it covers are deleted: each write pays for at most
 * its own size once more on average.
 *
 * Every record carries a sequence number, and the snapshot the number of the last record it holds, so
 * recovery applies exactly the records after it, in order, whatever step a crash interrupted:
 *   1. the next appends go to a new journal file (generation g+1); the state is captured in memory;
 *   2. once every record captured is on disk, the snapshot is written to a temp file and fsynced;
 *   3. renamed over `users.json`, and the folder fsynced;
 *   4. the journal files of generation g and before are deleted.
 * A crash before 3 leaves the old snapshot and every journal; after 3, journals whose records the
 * snapshot already holds are skipped by their sequence numbers and deleted at the next start.
 *
 * Recovery never guesses: a torn last record (a crash cut its append short, so it was never
 * acknowledged) is dropped with a log line; damage anywhere else, or a missing record, refuses the
 * start with the file and byte offset.
 */
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../support/log.ts';
import { CORRUPT_ADVICE, realFileSystem, removeLeftoverTempFiles, replaceFile, syncFolder, writeAll, type FileSystem } from './durable_file.ts';
import { encodeSnapshot, readSnapshot, type SnapshotLists } from './snapshot.ts';
import { CorruptFileError, StorageError } from '../errors.ts';

/** One change as stored: its place in the sequence, what kind it is, and its own fields. */
export interface JournalRecord {
  readonly seq: number;
  readonly op: string;
  readonly [field: string]: unknown;
}

/** A change before the journal numbers it. */
export type Change = { readonly op: string; readonly [field: string]: unknown };

/**
 * What a store gives its journal: its snapshot's lists and how to load their items (see `snapshot.ts`),
 * how to replay a record, and how to capture its state.
 */
export interface JournalOwner extends SnapshotLists {
  /** Applies one replayed record; throws (any error) when it is not a record the store knows. */
  replay(record: JournalRecord): void;
  /**
   * The whole state as lists of items, each written on its own line, one for each name in `lists`.
   * Called synchronously, it must only copy references (the items are never changed in place, only
   * replaced), so it is cheap.
   */
  capture(): Readonly<Record<string, readonly unknown[]>>;
}

export interface JournalOptions {
  dir: string;
  /** `users` gives `users.json` and `users.journal.<generation>.jsonl`. */
  name: string;
  fs?: FileSystem;
  log?: Pick<Logger, 'warn' | 'error'>;
  /** Compact once the journal holds this many bytes, or the snapshot's size if larger. */
  compactAfterBytes?: number;
}

/** Small journals are not worth a snapshot; past this, one is written when the journal outgrows it. */
const DEFAULT_COMPACT_AFTER_BYTES = 1 << 20;

interface Pending {
  readonly seq: number;
  readonly line: Buffer;
  readonly undo: () => void;
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class Journal {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #name: string;
  readonly #owner: JournalOwner;
  readonly #log: Pick<Logger, 'warn' | 'error'>;
  readonly #compactAfterBytes: number;
  /** Journal generations on disk, oldest first; the last may not exist yet (created at its first write). */
  readonly #generations: number[] = [];
  #nextSeq = 1;
  #queue: Pending[] = [];
  #last: Pending | undefined;
  #draining: Promise<void> | undefined;
  #compacting: Promise<void> | undefined;
  #closed = false;
  /** The open file of `#handleGeneration`, its length as last acknowledged, and whether bytes may lie past it. */
  #handle: FileHandle | undefined;
  #handleGeneration = 0;
  #length = 0;
  #dirty = false;
  #folderSynced = true;
  /** Bytes in journals since the last snapshot, and that snapshot's size: the compaction trigger. */
  #journalBytes = 0;
  #snapshotBytes = 0;
  /** Whether anything on disk is not in the snapshot, or the snapshot is in the old format. */
  #changedSinceSnapshot = false;

  private constructor(owner: JournalOwner, options: JournalOptions) {
    this.#owner = owner;
    this.#fs = options.fs ?? realFileSystem;
    this.#dir = options.dir;
    this.#name = options.name;
    this.#log = options.log ?? console;
    this.#compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
  }

  get snapshotPath(): string {
    return path.join(this.#dir, `${this.#name}.json`);
  }

  journalPath(generation: number): string {
    return path.join(this.#dir, `${this.#name}.journal.${generation}.jsonl`);
  }

  /** Loads the snapshot and replays the journals into `owner`; throws `CorruptFileError` rather than guess. */
  static async open(owner: JournalOwner, options: JournalOptions): Promise<Journal> {
    const journal = new Journal(owner, options);
    await journal.#recover();
    return journal;
  }

  async #recover(): Promise<void> {
    await removeLeftoverTempFiles(this.#fs, this.#dir, `${this.#name}.json`);
    const snapshotSeq = await this.#loadSnapshot();
    let lastSeq = snapshotSeq;
    const generations = await this.#journalGenerations();
    for (const [index, generation] of generations.entries()) {
      const isLast = index === generations.length - 1;
      const { seq, bytes } = await this.#replayJournal(generation, snapshotSeq, lastSeq, isLast);
      if (seq === snapshotSeq && !isLast) {
        // Every record here is in the snapshot: a compaction stopped before deleting this file.
        await this.#fs.rm(this.journalPath(generation), { force: true });
        continue;
      }
      lastSeq = seq;
      this.#journalBytes += bytes;
      this.#generations.push(generation);
    }
    this.#nextSeq = lastSeq + 1;
    if (lastSeq > snapshotSeq) this.#changedSinceSnapshot = true;
    // Appends go to a new file: one this process has never read, so a record is never written after damage.
    this.#generations.push((generations.at(-1) ?? 0) + 1);
  }

  /** Reads the snapshot into the owner; returns the sequence number of its last record (0 if none). */
  async #loadSnapshot(): Promise<number> {
    const snapshot = await readSnapshot(this.#fs, this.snapshotPath, this.#name, this.#owner);
    if (snapshot === undefined) return 0;
    this.#snapshotBytes = snapshot.bytes;
    if (snapshot.legacy) this.#changedSinceSnapshot = true; // rewritten in the current format at the next compaction
    return snapshot.seq;
  }

  async #journalGenerations(): Promise<number[]> {
    const pattern = new RegExp(`^${this.#name}\\.journal\\.(\\d+)\\.jsonl$`);
    const generations: number[] = [];
    for (const entry of await this.#fs.readdir(this.#dir)) {
      const match = pattern.exec(entry);
      if (match) generations.push(Number(match[1]));
    }
    return generations.sort((a, b) => a - b);
  }

  /**
   * Applies the records of one journal file that come after `lastSeq`; returns the last sequence number
   * applied and the file's size. Only the last line of the last file may be torn.
   */
  async #replayJournal(generation: number, snapshotSeq: number, lastSeq: number, isLast: boolean): Promise<{ seq: number; bytes: number }> {
    const file = this.journalPath(generation);
    const bytes = await this.#fs.readFile(file);
    let offset = 0;
    while (offset < bytes.length) {
      const newline = bytes.indexOf(0x0a, offset);
      const end = newline === -1 ? bytes.length : newline;
      const record = parseRecord(bytes.toString('utf8', offset, end));
      if (record === undefined || newline === -1) {
        if (isLast && (newline === -1 || newline === bytes.length - 1)) {
          this.#log.warn(
            `${file}: dropped a torn last record at byte ${offset} (a crash cut its write short, so it was never acknowledged)`,
          );
          await this.#truncate(file, offset);
          return { seq: lastSeq, bytes: offset };
        }
        throw new CorruptFileError(`Cannot start: ${file} is damaged at byte ${offset} (not a journal record); ${CORRUPT_ADVICE}`);
      }
      if (record.seq > snapshotSeq) {
        if (record.seq !== lastSeq + 1) {
          throw new CorruptFileError(
            `Cannot start: ${file} has record ${record.seq} at byte ${offset} where ${lastSeq + 1} should be (a record is missing); ${CORRUPT_ADVICE}`,
          );
        }
        try {
          this.#owner.replay(record);
        } catch (error) {
          throw new CorruptFileError(
            `Cannot start: ${file} has a record at byte ${offset} that cannot be applied (${(error as Error).message}); ${CORRUPT_ADVICE}`,
            { cause: error },
          );
        }
        lastSeq = record.seq;
      }
      offset = end + 1;
    }
    return { seq: lastSeq, bytes: bytes.length };
  }

  async #truncate(file: string, length: number): Promise<void> {
    const handle = await this.#fs.open(file, 'r+');
    try {
      await handle.truncate(length);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /**
   * Journals a change already made in memory. Resolves once it is on disk; if it cannot be written,
   * `undo` is called (newest change first, together with every change queued after it, which were
   * made on top of it) and the promise rejects with `StorageError`: memory again equals the disk.
   */
  append(change: Change, undo: () => void): Promise<void> {
    if (this.#closed) {
      undo();
      return Promise.reject(new StorageError(`Cannot write ${this.#name}: the store is closed`));
    }
    const seq = this.#nextSeq++;
    const line = Buffer.from(`${JSON.stringify({ seq, ...change })}\n`);
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    const pending: Pending = { seq, line, undo, promise, resolve, reject };
    this.#queue.push(pending);
    this.#last = pending;
    this.#draining ??= this.#drain();
    return promise;
  }

  /** Resolves once every change journaled so far is on disk; rejects if one of them could not be written. */
  durable(): Promise<void> {
    return this.#last?.promise ?? Promise.resolve();
  }

  /** Resolves when nothing is waiting to be written (the outcome of each write went to its caller). */
  async flush(): Promise<void> {
    await this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#write(batch);
      } catch (error) {
        this.#rollBack(batch, error);
        continue;
      }
      for (const pending of batch) pending.resolve();
      if (this.#last === batch.at(-1)) this.#last = undefined;
      this.#changedSinceSnapshot = true;
      if (!this.#closed && this.#journalBytes > Math.max(this.#compactAfterBytes, this.#snapshotBytes)) {
        this.compact().catch((error: unknown) => this.#log.error(`Cannot compact ${this.#name} (the journal keeps every change)`, error));
      }
    }
    this.#draining = undefined;
  }

  /** Undoes the failed batch and everything queued after it, newest first, then tells their callers. */
  #rollBack(batch: Pending[], cause: unknown): void {
    const failed = [...batch, ...this.#queue];
    this.#queue = [];
    for (let i = failed.length - 1; i >= 0; i--) failed[i]!.undo();
    this.#nextSeq = batch[0]!.seq;
    this.#last = undefined;
    const error = new StorageError(`Cannot write ${this.#name}: ${(cause as Error).message}`, { cause });
    for (const pending of failed) pending.reject(error);
  }

  /** Appends the batch's lines to the current journal file with one write and one fsync. */
  async #write(batch: Pending[]): Promise<void> {
    const data = batch.length === 1 ? batch[0]!.line : Buffer.concat(batch.map((pending) => pending.line));
    try {
      const handle = await this.#currentFile();
      await writeAll(handle, [data]);
      await handle.datasync();
    } catch (error) {
      this.#dirty = true;
      await this.#repair().catch(() => {}); // if this fails too, the next write tries again before appending
      throw error;
    }
    this.#length += data.length;
    this.#journalBytes += data.length;
  }

  /** The open file of the current generation, holding exactly the records acknowledged in it. */
  async #currentFile(): Promise<FileHandle> {
    await this.#repair(); // a file we append to, or leave behind, ends with a whole record
    const generation = this.#generations.at(-1)!;
    if (this.#handle !== undefined && this.#handleGeneration !== generation) {
      const old = this.#handle;
      this.#handle = undefined;
      await old.close().catch(() => {});
    }
    if (this.#handleGeneration !== generation) {
      this.#handleGeneration = generation;
      this.#length = 0;
      this.#dirty = true; // an earlier attempt to start this file may have left bytes in it
      this.#folderSynced = false;
    }
    await this.#repair();
    // The new file's name must survive a power cut too, not only its contents.
    if (!this.#folderSynced) {
      await syncFolder(this.#fs, this.#dir);
      this.#folderSynced = true;
    }
    this.#handle ??= await this.#fs.open(this.journalPath(generation), 'a', 0o600);
    return this.#handle;
  }

  /** Cuts off whatever a failed write may have left past the last acknowledged record; throws if it cannot. */
  async #repair(): Promise<void> {
    if (!this.#dirty) return;
    try {
      this.#handle ??= await this.#fs.open(this.journalPath(this.#handleGeneration), 'a', 0o600);
      await this.#handle.truncate(this.#length);
      await this.#handle.sync();
      this.#dirty = false;
    } catch (error) {
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Writes the whole state as a new snapshot and deletes the journal files it covers. Runs in the
   * background past the size threshold, and at a clean stop; one at a time.
   */
  compact(): Promise<void> {
    this.#compacting ??= this.#compactNow().finally(() => (this.#compacting = undefined));
    return this.#compacting;
  }

  async #compactNow(): Promise<void> {
    // Step 1, synchronously: capture the state and the sequence number it reaches; later appends go to
    // a new journal file, so the files up to `covered` hold nothing the snapshot will not.
    const seq = this.#nextSeq - 1;
    const lists = this.#owner.capture();
    const captured = this.durable();
    const covered = this.#generations.at(-1)!;
    this.#generations.push(covered + 1);
    const journalBytesBefore = this.#journalBytes;
    this.#journalBytes = 0;
    try {
      // Changes still on their way to the disk are in the capture: if one fails, it was undone in
      // memory and must not reach the snapshot either.
      await captured;
    } catch {
      this.#journalBytes += journalBytesBefore;
      return; // the journals still hold everything; the next compaction tries again
    }
    const chunks = await encodeSnapshot(seq, this.#owner.lists, lists);
    // Steps 2 and 3: temp file, fsync, rename, fsync the folder.
    try {
      await replaceFile(this.#fs, this.snapshotPath, chunks);
    } catch (error) {
      this.#journalBytes += journalBytesBefore;
      throw error;
    }
    this.#snapshotBytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    if (this.#nextSeq - 1 === seq) this.#changedSinceSnapshot = false;
    // Step 4: the older journals hold only records the snapshot has.
    while (this.#generations[0]! <= covered) {
      const generation = this.#generations.shift()!;
      if (generation === this.#handleGeneration) {
        const handle = this.#handle;
        this.#handle = undefined;
        this.#dirty = false; // the file goes, and whatever a failed write left in it
        await handle?.close().catch(() => {});
      }
      await this.#fs.rm(this.journalPath(generation), { force: true });
    }
  }

  /**
   * Waits for pending writes, writes a snapshot if anything changed since the last one (so that after a
   * clean stop the snapshot alone holds everything), and refuses writes from then on.
   */
  async close(): Promise<void> {
    await this.flush();
    await this.#compacting?.catch(() => {});
    if (this.#changedSinceSnapshot || this.#generations.length > 1) await this.compact();
    this.#closed = true;
    await this.flush();
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}

function parseRecord(text: string): JournalRecord | undefined {
  try {
    const record = JSON.parse(text) as Partial<JournalRecord> | null;
    if (typeof record !== 'object' || record === null) return undefined;
    if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 1 || typeof record.op !== 'string') return undefined;
    return record as JournalRecord;
  } catch {
    return undefined;
  }
}
