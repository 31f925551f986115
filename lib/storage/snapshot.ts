/**
 * The snapshot file: one JSON document, laid out one item per line so that it can be written and read
 * an item at a time, and ending in the SHA-256 of every byte before it.
 *
 *   {"version":3,"seq":41,"journal":8,
 *   "users":[
 *   {"id":"…","username":"alice",…},
 *   {"id":"…","username":"bob",…}
 *   ],
 *   "sha256":"…"}
 *
 * `seq` is the last journal record the snapshot holds, and `journal` the generation of the journal file
 * that holds the records after it (`journal.ts`). The checksum makes any changed byte refuse the start,
 * even one that leaves valid JSON (a letter of a name, a digit of `seq`).
 *
 * Reading it line by line means a store of 100,000 users never holds the whole file as one string, nor
 * the whole document as one tree beside its own maps: each item becomes garbage as soon as the store has
 * indexed it. Older snapshots are still read: version 2 (the same layout without `journal` and the
 * checksum) line by line, and any other layout of a version 1 or 2 document (version 1, written before
 * the journal, or a file someone reformatted) as a whole JSON document; either way the same lists come
 * out, and the store rewrites the file as version 3 at once (`journal.ts`). A version 3 file in any
 * other layout is refused: its checksum covers the layout it was written in.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { CORRUPT_ADVICE, type FileSystem } from './durable_file.ts';
import { CorruptFileError } from '../errors.ts';

/** What a store gives the reader: the names of its lists, in file order, and what to do with each item. */
export interface SnapshotLists {
  readonly lists: readonly string[];
  /** Takes one item of a list; throws (any error) when it is not the store's shape. */
  load(list: string, item: unknown): void;
}

export interface SnapshotRead {
  /** Sequence number of the last journal record the snapshot holds (0 for version 1). */
  readonly seq: number;
  /** The journal generation that holds the records after `seq`; unknown (`undefined`) before version 3. */
  readonly journal: number | undefined;
  /** Version 1 or 2: written by an earlier release, so the store rewrites it in the current format. */
  readonly legacy: boolean;
}

/** Items serialised per turn of the event loop while a snapshot is written in the background. */
const ITEMS_PER_SLICE = 2_000;

/**
 * The first line of the layout above, version 3 or 2; numbers of 15 digits at most, so they are exact
 * in a double.
 */
const HEADER = /^\{"version":(?:3,"seq":(0|[1-9]\d{0,14}),"journal":([1-9]\d{0,14})|2,"seq":(0|[1-9]\d{0,14})),$/;

/** The last line of version 3: the SHA-256 of every byte before it. */
const CHECKSUM = /^"sha256":"([0-9a-f]{64})"\}$/;

/**
 * The snapshot's bytes: the lists named by `names`, in that order (the order `readSnapshot` expects),
 * a slice of items at a time, giving the event loop back in between, so that requests keep being
 * served while a large store is written out; then the checksum of it all.
 */
export async function encodeSnapshot(
  seq: number,
  journal: number,
  names: readonly string[],
  lists: Readonly<Record<string, readonly unknown[]>>,
): Promise<Buffer[]> {
  const chunks: Buffer[] = [Buffer.from(`{"version":3,"seq":${seq},"journal":${journal}`)];
  for (const name of names) {
    const items = lists[name];
    if (items === undefined) throw new Error(`Cannot write a snapshot: no "${name}" list was captured`);
    chunks.push(Buffer.from(`,\n${JSON.stringify(name)}:[`));
    for (let start = 0; start < items.length; start += ITEMS_PER_SLICE) {
      const lines = items.slice(start, start + ITEMS_PER_SLICE).map((item) => JSON.stringify(item));
      chunks.push(Buffer.from(`${start === 0 ? '\n' : ',\n'}${lines.join(',\n')}`));
      if (start + ITEMS_PER_SLICE < items.length) await new Promise((resolve) => setImmediate(resolve));
    }
    chunks.push(Buffer.from(items.length > 0 ? '\n]' : ']'));
  }
  chunks.push(Buffer.from(',\n'));
  const sha256 = createHash('sha256');
  for (const chunk of chunks) sha256.update(chunk);
  chunks.push(Buffer.from(`"sha256":"${sha256.digest('hex')}"}\n`));
  return chunks;
}

/** Bytes read at a time, into one buffer reused for the whole file. */
const CHUNK_BYTES = 1 << 20;

/**
 * Hands every item of the snapshot `file` to `store`; resolves with its sequence number, or `undefined`
 * when there is no snapshot yet. Throws `CorruptFileError` naming the file rather than guess.
 */
export async function readSnapshot(
  fs: FileSystem,
  file: string,
  name: string,
  store: SnapshotLists,
  chunkBytes = CHUNK_BYTES,
): Promise<(SnapshotRead & { bytes: number }) | undefined> {
  let handle: FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let layout: LayoutReader | undefined;
  let bytes: number;
  try {
    bytes = await eachLine(handle, chunkBytes, (line, offset) => {
      if (layout !== undefined) {
        layout.line(line, offset);
        return true;
      }
      // The first line tells the layout: ours (version 3 or 2), or any other, read below as one document.
      const header = HEADER.exec(line);
      if (header === null) return false;
      layout = header[3] === undefined ? new LayoutReader(file, store, Number(header[1]), Number(header[2]), line) : new LayoutReader(file, store, Number(header[3]), undefined, line);
      return true;
    });
  } finally {
    await handle.close();
  }
  if (layout === undefined) {
    const whole = await fs.readFile(file);
    return { ...readDocument(whole, file, name, store), bytes: whole.length };
  }
  layout.end(bytes);
  return { seq: layout.seq, journal: layout.journal, legacy: layout.journal === undefined, bytes };
}

/**
 * Calls `onLine` with each line of the file (without its newline) and the byte offset where it starts,
 * reading `chunkBytes` at a time into one buffer; stops early when `onLine` returns false. Resolves
 * with the number of bytes read.
 */
async function eachLine(handle: FileHandle, chunkBytes: number, onLine: (line: string, offset: number) => boolean): Promise<number> {
  const chunk = Buffer.alloc(chunkBytes);
  let position = 0;
  // The start of a line cut by the end of the chunk, in copies (the chunk is reused): joined once, when
  // its newline comes, so a line longer than many chunks is not copied again at each one.
  let carried: Buffer[] = [];
  let carriedBytes = 0;
  const restOfLine = (end: Buffer) => Buffer.concat([...carried, end]).toString('utf8');
  for (;;) {
    const { bytesRead } = await handle.read(chunk, 0, chunkBytes, position);
    if (bytesRead === 0) break;
    const piece = chunk.subarray(0, bytesRead);
    let lineStart = 0;
    for (let newline = piece.indexOf(0x0a); newline !== -1; newline = piece.indexOf(0x0a, lineStart)) {
      const goOn =
        carriedBytes === 0
          ? onLine(piece.toString('utf8', lineStart, newline), position + lineStart)
          : onLine(restOfLine(piece.subarray(0, newline)), position - carriedBytes);
      if (!goOn) return position + newline + 1;
      carried = [];
      carriedBytes = 0;
      lineStart = newline + 1;
    }
    if (lineStart < bytesRead) {
      carried.push(Buffer.from(piece.subarray(lineStart)));
      carriedBytes += bytesRead - lineStart;
    }
    position += bytesRead;
  }
  if (carriedBytes > 0) onLine(restOfLine(Buffer.alloc(0)), position - carriedBytes); // no final newline
  return position;
}

/**
 * The layout `encodeSnapshot` writes, a line at a time: the first line, then each list's opening, its
 * items, and its closing, then (version 3) the checksum. Anything else is damage, named by its byte
 * offset.
 */
class LayoutReader {
  readonly #file: string;
  readonly #store: SnapshotLists;
  /** The sequence number the first line gave, and (version 3) the journal generation. */
  readonly seq: number;
  readonly journal: number | undefined;
  /** Every byte before the checksum line, hashed as it goes by (version 3); undefined once checked. */
  #sha256: Hash | undefined;
  #checked = false;
  /** Index in `lists` of the list being read; past the last once the lists have ended. */
  #list = 0;
  #inItems = false;
  #lastItemRead = false;

  constructor(file: string, store: SnapshotLists, seq: number, journal: number | undefined, firstLine: string) {
    this.#file = file;
    this.#store = store;
    this.seq = seq;
    this.journal = journal;
    if (journal !== undefined) this.#sha256 = createHash('sha256').update(`${firstLine}\n`);
  }

  /** Takes the next line after the first, or throws `CorruptFileError`. */
  line(text: string, offset: number): void {
    const lists = this.#store.lists;
    const list = lists[this.#list];
    if (list === undefined) return this.#checksumLine(text, offset);
    this.#sha256?.update(`${text}\n`);
    // Version 2 ends the document with the last list; version 3 goes on to the checksum.
    const close = this.#list === lists.length - 1 && this.journal === undefined ? '}' : ',';
    if (!this.#inItems) {
      if (text === `${JSON.stringify(list)}:[]${close}`) return this.#nextList();
      if (text !== `${JSON.stringify(list)}:[`) throw this.#damaged(offset, `expected the "${list}" list`);
      this.#inItems = true;
      return;
    }
    if (this.#lastItemRead) {
      if (text !== `]${close}`) throw this.#damaged(offset, `expected the end of the "${list}" list`);
      return this.#nextList();
    }
    const more = text.endsWith(',');
    let item: unknown;
    try {
      item = JSON.parse(more ? text.slice(0, -1) : text);
    } catch {
      throw this.#damaged(offset, `not a "${list}" item`);
    }
    try {
      this.#store.load(list, item);
    } catch (error) {
      throw new CorruptFileError(`Cannot start: ${this.#file} holds an invalid entry at byte ${offset} (${(error as Error).message}); ${CORRUPT_ADVICE}`, { cause: error });
    }
    this.#lastItemRead = !more;
  }

  /** After the last list: version 3's checksum, once; version 2 has ended. */
  #checksumLine(text: string, offset: number): void {
    if (this.#sha256 === undefined || this.#checked) throw this.#damaged(offset, 'more after the end of the document');
    const checksum = CHECKSUM.exec(text);
    if (checksum === null) throw this.#damaged(offset, 'expected the checksum');
    if (checksum[1] !== this.#sha256.digest('hex')) {
      throw this.#damaged(offset, 'its checksum does not match the bytes before it: one of them was changed');
    }
    this.#checked = true;
  }

  /** At the end of the file: the document must be complete, its checksum included. */
  end(offset: number): void {
    if (this.#list < this.#store.lists.length || (this.#sha256 !== undefined && !this.#checked)) throw this.#damaged(offset, 'the file ends early');
  }

  #nextList(): void {
    this.#list++;
    this.#inItems = false;
    this.#lastItemRead = false;
  }

  #damaged(offset: number, what: string): CorruptFileError {
    return new CorruptFileError(`Cannot start: ${this.#file} is damaged at byte ${offset} (${what}); ${CORRUPT_ADVICE}`);
  }
}

/** Any other layout of a version 1 or 2 document: the whole file as one JSON document, as version 1 wrote it. */
function readDocument(bytes: Buffer, file: string, name: string, store: SnapshotLists): SnapshotRead {
  let document: Record<string, unknown> | null;
  try {
    document = JSON.parse(bytes.toString('utf8')) as Record<string, unknown> | null;
  } catch (error) {
    throw new CorruptFileError(`Cannot start: ${file} is not valid JSON (${(error as Error).message}); ${CORRUPT_ADVICE}`, { cause: error });
  }
  const version = document?.version;
  // A version 3 file reformatted, or with its version number changed: its checksum cannot be checked.
  if (version === 3 || (typeof document === 'object' && document !== null && ('journal' in document || 'sha256' in document))) {
    throw new CorruptFileError(`Cannot start: ${file} is a version 3 snapshot in another layout than the one its checksum covers (reformatted?); ${CORRUPT_ADVICE}`);
  }
  // Version 1 (before the journal) is the same document without "seq": it holds no journal records.
  const seq = version === 1 ? 0 : version === 2 ? document?.seq : undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw new CorruptFileError(`Cannot start: ${file} is not a ${name} snapshot (no known "version" and "seq"); ${CORRUPT_ADVICE}`);
  }
  for (const list of store.lists) {
    const items = document![list];
    if (!Array.isArray(items)) throw new CorruptFileError(`Cannot start: ${file} has no "${list}" list; ${CORRUPT_ADVICE}`);
    for (const [index, item] of items.entries()) {
      try {
        store.load(list, item);
      } catch (error) {
        throw new CorruptFileError(`Cannot start: ${file} holds an invalid entry, item ${index} of "${list}" (${(error as Error).message}); ${CORRUPT_ADVICE}`, { cause: error });
      }
    }
  }
  return { seq, journal: undefined, legacy: true };
}
