/**
 * The snapshot file: one JSON document, laid out one item per line so that it can be written and read
 * an item at a time.
 *
 *   {"version":2,"seq":41,
 *   "users":[
 *   {"id":"…","username":"alice",…},
 *   {"id":"…","username":"bob",…}
 *   ]}
 *
 * Reading it line by line means a store of 100,000 users never holds the whole file as one string, nor
 * the whole document as one tree beside its own maps: each item becomes garbage as soon as the store has
 * indexed it. A snapshot in any other layout (version 1, written before the journal, or a file someone
 * reformatted) is read as a whole JSON document; either way the same lists come out.
 */
import { CORRUPT_ADVICE, CorruptFileError } from './durable_file.ts';

/** What a store gives the reader: the names of its lists, in file order, and what to do with each item. */
export interface SnapshotLists {
  readonly lists: readonly string[];
  /** Takes one item of a list; throws (any error) when it is not the store's shape. */
  load(list: string, item: unknown): void;
}

export interface SnapshotRead {
  /** Sequence number of the last journal record the snapshot holds (0 for version 1). */
  readonly seq: number;
  /** The snapshot predates the journal, so the next compaction rewrites it in the current format. */
  readonly legacy: boolean;
}

/** Items serialised per turn of the event loop while a snapshot is written in the background. */
const ITEMS_PER_SLICE = 2_000;

const HEADER = /^\{"version":2,"seq":(0|[1-9]\d{0,15}),$/;

/**
 * The snapshot's bytes, a slice of items at a time, giving the event loop back in between, so that
 * requests keep being served while a large store is written out.
 */
export async function encodeSnapshot(seq: number, lists: Readonly<Record<string, readonly unknown[]>>): Promise<Buffer[]> {
  const chunks: Buffer[] = [Buffer.from(`{"version":2,"seq":${seq}`)];
  for (const [key, items] of Object.entries(lists)) {
    chunks.push(Buffer.from(`,\n${JSON.stringify(key)}:[`));
    for (let start = 0; start < items.length; start += ITEMS_PER_SLICE) {
      const lines = items.slice(start, start + ITEMS_PER_SLICE).map((item) => JSON.stringify(item));
      chunks.push(Buffer.from(`${start === 0 ? '\n' : ',\n'}${lines.join(',\n')}`));
      if (start + ITEMS_PER_SLICE < items.length) await new Promise((resolve) => setImmediate(resolve));
    }
    chunks.push(Buffer.from(items.length > 0 ? '\n]' : ']'));
  }
  chunks.push(Buffer.from('}\n'));
  return chunks;
}

/** Hands every item of the snapshot in `bytes` to `store`; throws `CorruptFileError` naming `file` rather than guess. */
export function readSnapshot(bytes: Buffer, file: string, name: string, store: SnapshotLists): SnapshotRead {
  const firstLine = bytes.toString('latin1', 0, Math.min(bytes.indexOf(0x0a) >>> 0, 40));
  const header = HEADER.exec(firstLine);
  if (header === null) return readDocument(bytes, file, name, store);
  readLines(bytes, file, store, firstLine.length + 1); // the first line is ASCII: bytes and characters agree
  return { seq: Number(header[1]), legacy: false };
}

/** The layout `encodeSnapshot` writes, after its first line: each list's opening, items, and closing. */
function readLines(bytes: Buffer, file: string, store: SnapshotLists, start: number): void {
  // Decoded once: slicing one string is far cheaper than decoding 100,000 short ones.
  const text = bytes.toString('utf8');
  let offset = start; // in characters of `text`: the messages convert it to bytes
  const damaged = (what: string, at = offset) =>
    new CorruptFileError(`Cannot start: ${file} is damaged at byte ${Buffer.byteLength(text.slice(0, at))} (${what}); ${CORRUPT_ADVICE}`);
  const nextLine = (): string => {
    if (offset >= text.length) throw damaged('the file ends early');
    const newline = text.indexOf('\n', offset);
    const end = newline === -1 ? text.length : newline; // the last line may lack its newline
    const line = text.slice(offset, end);
    offset = Math.min(end + 1, text.length);
    return line;
  };
  for (const [index, list] of store.lists.entries()) {
    const close = index === store.lists.length - 1 ? '}' : ',';
    const opening = nextLine();
    if (opening === `${JSON.stringify(list)}:[]${close}`) continue;
    if (opening !== `${JSON.stringify(list)}:[`) throw damaged(`expected the "${list}" list`);
    for (;;) {
      const lineStart = offset;
      const line = nextLine();
      const more = line.endsWith(',');
      let item: unknown;
      try {
        item = JSON.parse(more ? line.slice(0, -1) : line);
      } catch {
        throw damaged(`not a "${list}" item`, lineStart);
      }
      try {
        store.load(list, item);
      } catch (error) {
        const at = Buffer.byteLength(text.slice(0, lineStart));
        throw new CorruptFileError(`Cannot start: ${file} holds an invalid entry at byte ${at} (${(error as Error).message}); ${CORRUPT_ADVICE}`, { cause: error });
      }
      if (more) continue;
      if (nextLine() !== `]${close}`) throw damaged(`expected the end of the "${list}" list`);
      break;
    }
  }
  if (offset !== text.length) throw damaged('more after the end of the document');
}

/** Any other layout: the whole file as one JSON document, as version 1 wrote it. */
function readDocument(bytes: Buffer, file: string, name: string, store: SnapshotLists): SnapshotRead {
  let document: Record<string, unknown> | null;
  try {
    document = JSON.parse(bytes.toString('utf8')) as Record<string, unknown> | null;
  } catch (error) {
    throw new CorruptFileError(`Cannot start: ${file} is not valid JSON (${(error as Error).message}); ${CORRUPT_ADVICE}`, { cause: error });
  }
  const version = document?.version;
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
  return { seq, legacy: version === 1 };
}
