/**
 * A store's state on disk as a snapshot plus an append-only journal, so that a write costs the same
 * however much is stored.
 *
 *   users.json                 the snapshot (`snapshot.ts`): `{"version":3,"seq":N,"journal":7,"users":[...],"sha256":"…"}`
 *   users.journal.7.jsonl      the changes since, one JSON line each: `{"seq":N+1,"op":"add",…,"sha256":"…"}`
 *
 * A change is acknowledged once its line is appended and fsynced: changes arriving together share one
 * write and one fsync (group commit), and neither depends on the size of the store, so a write is O(1).
 * When the journal outgrows the snapshot (or at a clean stop), the whole state is written as a new
 * snapshot in the background and the journal files it covers are deleted: each write pays for at most
 * its own size once more on average.
 *
 * Every record carries a sequence number and a checksum; the snapshot carries the number of the last
 * record it holds and the generation of the journal file that goes on from there, which exists before
 * the snapshot names it. So recovery applies exactly the records after the snapshot, in order, whatever
 * step a crash interrupted:
 *   1. the next appends go to a new journal file (generation g+1); the state is captured in memory;
 *   2. once every record captured is on disk, journal g+1 is created, and the snapshot naming it is
 *      written to a temp file and fsynced;
 *   3. renamed over `users.json`, and the folder fsynced;
 *   4. the journal files before g+1 are deleted.
 * A crash before 3 leaves the old snapshot and every journal; after 3, the journals before the one the
 * snapshot names are checked to hold nothing after it, and deleted at the next start.
 *
 * Recovery never guesses: only bytes after the last newline of the last journal (a record a crash cut
 * short, or zeros a file system left) were never acknowledged, and are cut off with a log line. A line
 * that does not check out, a record missing or repeated, a journal missing (the one the snapshot names,
 * or one between two others) or a snapshot missing beside a journal refuses the start, naming the file
 * and the byte offset. A folder without a snapshot is one never compacted: its journals start at
 * generation 1 and record 1. (A snapshot with something in it never names generation 1.)
 *
 * Before each write, the journal file is checked to still be the file at its name: one deleted, moved
 * or replaced under the running server would take acknowledged changes nobody could find again. Then
 * the write is refused (503), and so is every other until a snapshot written from memory holds
 * everything acknowledged and the appends go on in a new journal.
 *
 * Folders written before checksums (version 1 and 2 snapshots, journals without checksums) are read by
 * the rules they were written with, then rewritten in the current format at once.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
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
  fs?: FileSystem | undefined;
  log?: Pick<Logger, 'warn' | 'error'> | undefined;
  /** Compact once the journal holds this many bytes, or the snapshot's size if larger. */
  compactAfterBytes?: number | undefined;
  /**
   * Why the folder must already hold this store, when something else in it says it was started before
   * (such as "…/jwt-secret is there"): finding none of the store's files then refuses the start,
   * instead of starting empty.
   */
  expected?: string | undefined;
}

/** Small journals are not worth a snapshot; past this, one is written when the journal outgrows it. */
const DEFAULT_COMPACT_AFTER_BYTES = 1 << 20;

/** What a start refused for a missing file tells the operator. */
const MISSING_ADVICE = 'restore it from a backup; the files that are there have been left as they are';

/** A journal file that is no longer the file at its name (see the top of this file). */
class JournalReplacedError extends Error {
  override readonly name = 'JournalReplacedError';
}

/** Where a file is: its device and inode, the same for every name of it and for its open descriptors. */
interface FileIdentity {
  readonly generation: number;
  readonly dev: number;
  readonly ino: number;
}

interface Pending {
  readonly seq: number;
  /** The journal file it goes to: the newest when it was made, so a snapshot's cut falls between files. */
  readonly generation: number;
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
  readonly #expected: string | undefined;
  /** Journal generations after the snapshot, oldest first; the last may not exist yet (created at its first write). */
  readonly #generations: number[] = [];
  /** Whether the last generation holds (or has been given) a record: if not, a snapshot may name it as it is. */
  #lastGenerationUsed = false;
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
  /** The journal file appended to, as recovery read it or compaction created it; checked before each write. */
  #identity: FileIdentity | undefined;
  /** Set when the journal was found replaced: every write is refused until a snapshot holds everything. */
  #replaced: JournalReplacedError | undefined;
  #savingFromMemory: Promise<void> | undefined;
  /** Bytes in journals since the last snapshot, and that snapshot's size: the compaction trigger. */
  #journalBytes = 0;
  #snapshotBytes = 0;
  /** Whether anything on disk is not in the snapshot. */
  #changedSinceSnapshot = false;

  private constructor(owner: JournalOwner, options: JournalOptions) {
    this.#owner = owner;
    this.#fs = options.fs ?? realFileSystem;
    this.#dir = options.dir;
    this.#name = options.name;
    this.#log = options.log ?? console;
    this.#compactAfterBytes = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER_BYTES;
    this.#expected = options.expected;
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
    const snapshot = await readSnapshot(this.#fs, this.snapshotPath, this.#name, this.#owner);
    const generations = await this.#journalGenerations();
    if (snapshot?.legacy === true || (snapshot === undefined && (await this.#writtenBeforeChecksums(generations)))) {
      await this.#recoverLegacy(snapshot?.seq ?? 0, generations);
      await this.compact(); // in the current format from now on
      return;
    }
    if (snapshot === undefined && generations.length === 0) return this.#startNew();
    await this.#recoverCurrent(snapshot, generations);
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

  /** A store with no file yet: its first journal is created now, so that a snapshot missing later shows. */
  async #startNew(): Promise<void> {
    if (this.#expected !== undefined) {
      throw new CorruptFileError(
        `Cannot start: ${this.snapshotPath} is missing, and so is every ${this.#name} journal, but ${this.#expected}: this folder held ${this.#name}; ${MISSING_ADVICE}`,
      );
    }
    await this.#createJournal(1);
    this.#generations.push(1);
    this.#handleGeneration = 1;
  }

  /**
   * The current format: the snapshot (or, without one, a snapshot of nothing naming generation 1), then
   * the journals from the one it names, every one there, every record in order and checking out.
   */
  async #recoverCurrent(snapshot: Awaited<ReturnType<typeof readSnapshot>>, generations: number[]): Promise<void> {
    const seq = snapshot?.seq ?? 0;
    const first = snapshot?.journal ?? 1;
    const covered = generations.filter((generation) => generation < first);
    const after = generations.filter((generation) => generation >= first);
    if (snapshot === undefined && after[0] !== 1) {
      throw new CorruptFileError(`Cannot start: ${this.snapshotPath} is missing, beside ${this.journalPath(after[0]!)}; ${MISSING_ADVICE}`);
    }
    if (after[0] !== first) {
      const why = `${this.snapshotPath} says the records after its last, ${seq}, are there`;
      throw new CorruptFileError(`Cannot start: ${this.journalPath(first)} is missing (${why}); ${MISSING_ADVICE}`);
    }
    for (const [index, generation] of after.entries()) {
      if (generation !== first + index) {
        const why = `it comes between ${this.journalPath(first + index - 1)} and ${this.journalPath(generation)}`;
        throw new CorruptFileError(`Cannot start: ${this.journalPath(first + index)} is missing (${why}); ${MISSING_ADVICE}`);
      }
    }
    // Journals before the one the snapshot names are what an interrupted compaction left: the snapshot
    // holds their records. Checked, so that a snapshot whose numbers were changed is not believed.
    for (const generation of covered) {
      await this.#eachRecord(generation, { isLast: false, legacy: false }, (record, offset) => {
        if (record.seq > seq) {
          throw new CorruptFileError(
            `Cannot start: ${this.journalPath(generation)} has record ${record.seq} at byte ${offset}, which ${this.snapshotPath} ` +
              `(up to record ${seq}, then ${this.journalPath(first)}) does not hold; ${CORRUPT_ADVICE}`,
          );
        }
      });
    }
    let lastSeq = seq;
    let torn: (() => Promise<void>) | undefined;
    for (const [index, generation] of after.entries()) {
      const file = this.journalPath(generation);
      const isLast = index === after.length - 1;
      const read = await this.#eachRecord(generation, { isLast, legacy: false }, (record, offset) => {
        if (record.seq !== lastSeq + 1) throw outOfOrder(file, record.seq, offset, lastSeq + 1);
        this.#apply(file, record, offset);
        lastSeq = record.seq;
      });
      this.#journalBytes += read.whole;
      if (isLast) {
        this.#lastGenerationUsed = read.whole > 0;
        this.#length = read.whole; // appends go on in this file, after its last whole record
        this.#identity = { generation, dev: read.stats.dev, ino: read.stats.ino };
        torn = read.cutTail;
      }
    }
    // Only now that everything checked out is anything changed on disk.
    await torn?.();
    for (const generation of covered) await this.#fs.rm(this.journalPath(generation), { force: true });
    this.#generations.push(...after);
    this.#handleGeneration = after.at(-1)!;
    this.#snapshotBytes = snapshot?.bytes ?? 0;
    this.#nextSeq = lastSeq + 1;
    this.#changedSinceSnapshot = lastSeq > seq;
  }

  /**
   * Whether the journals of a folder without a snapshot were written before checksums: records, and
   * not one with a checksum (a checksum taken off one record is damage, not an older folder).
   */
  async #writtenBeforeChecksums(generations: number[]): Promise<boolean> {
    let records = false;
    for (const generation of generations) {
      for (const line of (await this.#fs.readFile(this.journalPath(generation), 'utf8')).split('\n')) {
        if (RECORD_CHECKSUM.test(line)) return false;
        records ||= parseRecord(line) !== undefined;
      }
    }
    return records;
  }

  /**
   * A folder written before checksums, by its own rules: records without checksums, journals of any
   * generation after a version 2 snapshot, the records it already holds skipped by their numbers.
   */
  async #recoverLegacy(snapshotSeq: number, generations: number[]): Promise<void> {
    let lastSeq = snapshotSeq;
    let torn: (() => Promise<void>) | undefined;
    for (const [index, generation] of generations.entries()) {
      const file = this.journalPath(generation);
      const read = await this.#eachRecord(generation, { isLast: index === generations.length - 1, legacy: true }, (record, offset) => {
        if (record.seq <= snapshotSeq) return; // in the snapshot: a compaction stopped before deleting this file
        if (record.seq !== lastSeq + 1) throw outOfOrder(file, record.seq, offset, lastSeq + 1);
        this.#apply(file, record, offset);
        lastSeq = record.seq;
      });
      torn = read.cutTail;
    }
    await torn?.();
    this.#nextSeq = lastSeq + 1;
    this.#changedSinceSnapshot = true;
    // The compaction that follows writes the snapshot naming the next generation, and deletes these.
    // With none, it starts after 1: generation 1 belongs to folders never compacted (see the top).
    this.#generations.push(...(generations.length > 0 ? generations : [1]));
    this.#lastGenerationUsed = true;
  }

  #apply(file: string, record: JournalRecord, offset: number): void {
    try {
      this.#owner.replay(record);
    } catch (error) {
      throw new CorruptFileError(
        `Cannot start: ${file} has a record at byte ${offset} that cannot be applied (${(error as Error).message}); ${CORRUPT_ADVICE}`,
        { cause: error },
      );
    }
  }

  /**
   * Hands each record of one journal file to `onRecord`, checked. Only bytes after the last newline of
   * the last journal may be unacknowledged (every append ends with a newline, and is acknowledged once
   * fsynced): a record a crash cut short, or zeros where a file system had grown the file but not yet
   * written it. Resolves with the length of the whole records, and how to cut off the rest; anything
   * else is damage, and throws `CorruptFileError`.
   */
  async #eachRecord(
    generation: number,
    { isLast, legacy }: { isLast: boolean; legacy: boolean },
    onRecord: (record: JournalRecord, offset: number) => void,
  ): Promise<{ whole: number; stats: Stats; cutTail: (() => Promise<void>) | undefined }> {
    const file = this.journalPath(generation);
    // Appends go to the file at this name: a symbolic link would send them elsewhere.
    const stats = await this.#fs.lstat(file);
    if (!stats.isFile()) throw new CorruptFileError(`Cannot start: ${file} is not a file (a symbolic link?); journals are files in the data folder itself`);
    const bytes = await this.#fs.readFile(file);
    const whole = bytes.lastIndexOf(0x0a) + 1;
    if (whole < bytes.length && !isLast) {
      throw new CorruptFileError(`Cannot start: ${file} is damaged at byte ${whole} (a record without its end, in a journal another one follows); ${CORRUPT_ADVICE}`);
    }
    for (let offset = 0; offset < whole; ) {
      const newline = bytes.indexOf(0x0a, offset);
      const record = decodeRecord(bytes.toString('utf8', offset, newline), legacy);
      if (typeof record === 'string') throw new CorruptFileError(`Cannot start: ${file} is damaged at byte ${offset} (${record}); ${CORRUPT_ADVICE}`);
      onRecord(record, offset);
      offset = newline + 1;
    }
    if (whole === bytes.length) return { whole, stats, cutTail: undefined };
    const zeros = bytes.subarray(whole).every((byte) => byte === 0);
    const cutTail = async () => {
      this.#log.warn(
        zeros
          ? `${file}: cut off ${bytes.length - whole} zero bytes at its end, from byte ${whole} (a crash left the file longer than what was written)`
          : `${file}: dropped a torn last record at byte ${whole} (a crash cut its write short, so it was never acknowledged)`,
      );
      await this.#truncate(file, whole);
    };
    return { whole, stats, cutTail };
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

  /** Creates an empty journal file and makes its name durable, before a snapshot names it. */
  async #createJournal(generation: number): Promise<void> {
    const handle = await this.#fs.open(this.journalPath(generation), 'a', 0o600);
    try {
      const { dev, ino } = await handle.stat();
      this.#identity = { generation, dev, ino };
    } finally {
      await handle.close();
    }
    await syncFolder(this.#fs, this.#dir);
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
    if (this.#replaced !== undefined) {
      undo();
      this.#saveFromMemory(); // again, if the last attempt failed
      return Promise.reject(new StorageError(`Cannot write ${this.#name}: ${this.#replaced.message}`, { cause: this.#replaced }));
    }
    const seq = this.#nextSeq++;
    const generation = this.#generations.at(-1)!;
    this.#lastGenerationUsed = true;
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    const pending: Pending = { seq, generation, line: encodeRecord(seq, change), undo, promise, resolve, reject };
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
      // One write per batch, and a batch in one file: the changes queued for the same generation.
      const generation = this.#queue[0]!.generation;
      const end = this.#queue.findIndex((pending) => pending.generation !== generation);
      const batch = end === -1 ? this.#queue : this.#queue.slice(0, end);
      this.#queue = end === -1 ? [] : this.#queue.slice(end);
      try {
        await this.#write(batch, generation);
      } catch (error) {
        this.#rollBack(batch, error);
        if (error instanceof JournalReplacedError) this.#journalReplaced(error);
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

  /** Appends the batch's lines to its journal file with one write and one fsync. */
  async #write(batch: Pending[], generation: number): Promise<void> {
    const data = batch.length === 1 ? batch[0]!.line : Buffer.concat(batch.map((pending) => pending.line));
    try {
      const handle = await this.#currentFile(generation);
      await this.#checkStillNamed(handle, generation);
      await writeAll(handle, [data]);
      await handle.datasync();
    } catch (error) {
      if (error instanceof JournalReplacedError) {
        // Nothing was written; the file is not ours to repair any more.
        const handle = this.#handle;
        this.#handle = undefined;
        this.#dirty = false;
        await handle?.close().catch(() => {});
        throw error;
      }
      this.#dirty = true;
      await this.#repair().catch(() => {}); // if this fails too, the next write tries again before appending
      throw error;
    }
    this.#length += data.length;
    this.#journalBytes += data.length;
  }

  /** The open file of `generation`, holding exactly the records acknowledged in it. */
  async #currentFile(generation: number): Promise<FileHandle> {
    await this.#repair(); // a file we append to, or leave behind, ends with a whole record
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

  /**
   * Throws `JournalReplacedError` unless the open file is still the file at the journal's name (same
   * device and inode, not a symbolic link, not deleted) and the one recovery read or compaction created.
   */
  async #checkStillNamed(handle: FileHandle, generation: number): Promise<void> {
    const file = this.journalPath(generation);
    const [open, named] = await Promise.all([
      handle.stat(),
      this.#fs.lstat(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      }),
    ]);
    const known = this.#identity?.generation === generation ? this.#identity : undefined;
    const problem =
      named === undefined || open.nlink === 0
        ? 'was deleted or moved away'
        : !named.isFile()
          ? 'was replaced by a symbolic link or something else than a file'
          : named.dev !== open.dev || named.ino !== open.ino || (known !== undefined && (known.dev !== open.dev || known.ino !== open.ino))
            ? 'was replaced by another file'
            : undefined;
    if (problem !== undefined) throw new JournalReplacedError(`${file} ${problem} while the server was running`);
    this.#identity = { generation, dev: open.dev, ino: open.ino };
  }

  /**
   * The journal file was found replaced: what it held since the snapshot is now only in memory. Every
   * write is refused until a snapshot from memory holds it, written now; the appends then go on in a
   * new journal.
   */
  #journalReplaced(error: JournalReplacedError): void {
    this.#replaced = error;
    this.#lastGenerationUsed = true; // the snapshot must name a new journal, never the replaced one
    this.#log.error(`${error.message}: writes are refused until ${this.snapshotPath} is written from memory, now`);
    this.#saveFromMemory();
  }

  /** Writes the snapshot that ends `#replaced`, unless one is on its way; a failure is logged, and retried at the next write. */
  #saveFromMemory(): void {
    this.#savingFromMemory ??= (async () => {
      // A compaction that captured the state before the journal was found replaced does not end it.
      await this.#compacting?.catch(() => {});
      try {
        await this.compact();
      } catch (error) {
        this.#log.error(`Cannot write ${this.snapshotPath} from memory; the next write tries again`, error);
      }
      if (this.#replaced === undefined) this.#log.warn(`${this.snapshotPath} written from memory: every acknowledged change is kept, and writes go on`);
    })().finally(() => (this.#savingFromMemory = undefined));
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
    // a journal file that holds no record before that number: a new one, unless the newest holds none.
    const seq = this.#nextSeq - 1;
    const lists = this.#owner.capture();
    const captured = this.durable();
    const replaced = this.#replaced; // if set, no write has been made since: the capture holds every acknowledged change
    if (this.#lastGenerationUsed) {
      this.#generations.push(this.#generations.at(-1)! + 1);
      this.#lastGenerationUsed = false;
    }
    const journal = this.#generations.at(-1)!;
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
    if (this.#dirty) {
      // Bytes of a failed write not cut off yet: the file must not stay behind a newer journal like that.
      this.#journalBytes += journalBytesBefore;
      return;
    }
    const chunks = await encodeSnapshot(seq, journal, this.#owner.lists, lists);
    // Steps 2 and 3: the journal the snapshot names, then temp file, fsync, rename, fsync the folder.
    try {
      await this.#createJournal(journal);
      await replaceFile(this.#fs, this.snapshotPath, chunks);
    } catch (error) {
      this.#journalBytes += journalBytesBefore;
      throw error;
    }
    this.#snapshotBytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    if (this.#nextSeq - 1 === seq) this.#changedSinceSnapshot = false;
    if (replaced !== undefined && this.#replaced === replaced) this.#replaced = undefined; // appends go on in the new journal
    // Step 4: the older journals hold only records the snapshot has.
    while (this.#generations[0]! < journal) {
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
   * clean stop the snapshot alone holds everything, beside an empty journal), and refuses writes from
   * then on.
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

/** The end of a record's line: the first 16 hex digits of the SHA-256 of the record without it. */
const RECORD_CHECKSUM = /,"sha256":"([0-9a-f]{16})"\}$/;

function recordChecksum(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

/** `{"seq":N,…}` becomes `{"seq":N,…,"sha256":"<checksum of {"seq":N,…}>"}` and a newline: still one JSON object a line. */
function encodeRecord(seq: number, change: Change): Buffer {
  const json = JSON.stringify({ seq, ...change });
  return Buffer.from(`${json.slice(0, -1)},"sha256":"${recordChecksum(json)}"}\n`);
}

/** The record a line holds, or what is wrong with it. Records written before checksums (`legacy`) may have none. */
function decodeRecord(line: string, legacy: boolean): JournalRecord | string {
  const checksum = RECORD_CHECKSUM.exec(line);
  if (checksum === null && !legacy) return parseRecord(line) === undefined ? 'not a journal record' : 'a record without its checksum';
  // Nothing before checksums wrote one; and a folder is rewritten in the current format before its next record.
  if (checksum !== null && legacy) return 'a record with a checksum, in a folder written before checksums';
  const json = checksum === null ? line : `${line.slice(0, checksum.index)}}`;
  if (checksum !== null && recordChecksum(json) !== checksum[1]) return 'its checksum does not match: a byte of it was changed';
  return parseRecord(json) ?? 'not a journal record';
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

/** A record whose number is not the next one: one is missing, or repeated, or the snapshot's number was changed. */
function outOfOrder(file: string, seq: number, offset: number, expected: number): CorruptFileError {
  const why = seq > expected ? 'a record is missing' : 'a record the snapshot or an earlier line already holds';
  return new CorruptFileError(`Cannot start: ${file} has record ${seq} at byte ${offset} where ${expected} should be (${why}); ${CORRUPT_ADVICE}`);
}
