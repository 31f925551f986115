/**
 * The snapshot file: written one item per line and ending in its checksum, read back a line at a time;
 * the layouts of earlier versions still read. Damage is refused with the byte offset where it starts,
 * or where the checksum that caught it is.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { realFileSystem } from '../../../lib/storage/durable_file.ts';
import { encodeSnapshot, readSnapshot, type SnapshotLists } from '../../../lib/storage/snapshot.ts';
import { CorruptFileError } from '../../../lib/errors.ts';

let dir: string;
let FILE: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'snapshot-test-'));
  FILE = path.join(dir, 'sessions.json');
});
after(() => rm(dir, { recursive: true, force: true }));

/** Writes `bytes` as the snapshot and reads it back, `chunkBytes` at a time. */
async function read(bytes: Buffer, reader: SnapshotLists, chunkBytes?: number) {
  await writeFile(FILE, bytes);
  return readSnapshot(realFileSystem, FILE, 'sessions', reader, chunkBytes);
}
const LISTS = ['families', 'refreshTokens', 'deniedAccessTokens'];

/** A reader that records what it was given, refusing items without an "id" when `strict`. */
function collector(strict = false): SnapshotLists & { items: [string, unknown][] } {
  const items: [string, unknown][] = [];
  return {
    lists: LISTS,
    items,
    load(list, item) {
      if (strict && typeof (item as { id?: unknown }).id !== 'string') throw new Error('an item needs an "id"');
      items.push([list, item]);
    },
  };
}

/** A snapshot as the stores write it, naming journal generation 7. */
async function encoded(seq: number, lists: Record<string, unknown[]>): Promise<Buffer> {
  return Buffer.concat(await encodeSnapshot(seq, 7, LISTS, lists));
}

/** The same lists as version 2 wrote them: no journal generation, no checksum. */
function version2(seq: number, lists: Record<string, unknown[]>): Buffer {
  const body = LISTS.map((name) => {
    const items = lists[name]!;
    return `${JSON.stringify(name)}:[${items.length > 0 ? `\n${items.map((item) => JSON.stringify(item)).join(',\n')}\n` : ''}]`;
  });
  return Buffer.from(`{"version":2,"seq":${seq},\n${body.join(',\n')}}\n`);
}

const SAMPLE = {
  families: [{ id: 'f1', userId: 'u1', expiresAt: 1 }, { id: 'f2', userId: 'zoë', expiresAt: 2 }],
  refreshTokens: [{ id: 't1', familyId: 'f1', expiresAt: 3 }],
  deniedAccessTokens: [],
};
const SAMPLE_ITEMS = [
  ['families', SAMPLE.families[0]],
  ['families', SAMPLE.families[1]],
  ['refreshTokens', SAMPLE.refreshTokens[0]],
];

/** Rejects unless `bytes` are refused with a CorruptFileError whose message names the file and `fragment`. */
async function assertCorrupt(bytes: Buffer, fragment: string, reader = collector()): Promise<void> {
  await assert.rejects(read(bytes, reader), (error: Error) => {
    assert.ok(error instanceof CorruptFileError, `${error.name}: ${error.message}`);
    assert.ok(error.message.startsWith(`Cannot start: ${FILE} `), error.message);
    assert.ok(error.message.includes(fragment), `"${fragment}" not in: ${error.message}`);
    return true;
  });
}

describe('the snapshot format', () => {
  test('is one JSON document with one item per line and the SHA-256 of it all, and reads back the same items in order, with its numbers', async () => {
    const bytes = await encoded(41, SAMPLE);
    const body =
      '{"version":3,"seq":41,"journal":7,\n"families":[\n{"id":"f1","userId":"u1","expiresAt":1},\n{"id":"f2","userId":"zoë","expiresAt":2}\n],\n' +
      '"refreshTokens":[\n{"id":"t1","familyId":"f1","expiresAt":3}\n],\n"deniedAccessTokens":[],\n';
    assert.equal(bytes.toString(), `${body}"sha256":"${createHash('sha256').update(body).digest('hex')}"}\n`);
    assert.deepEqual(JSON.parse(bytes.toString()), { version: 3, seq: 41, journal: 7, ...SAMPLE, sha256: createHash('sha256').update(body).digest('hex') });
    const reader = collector();
    assert.deepEqual(await read(bytes, reader), { seq: 41, journal: 7, legacy: false, bytes: bytes.length });
    assert.deepEqual(reader.items, SAMPLE_ITEMS);
  });

  test('a version 2 file (before checksums) reads line by line too, with no journal generation, to be rewritten', async () => {
    const bytes = version2(41, SAMPLE);
    const reader = collector();
    assert.deepEqual(await read(bytes, reader), { seq: 41, journal: undefined, legacy: true, bytes: bytes.length });
    assert.deepEqual(reader.items, SAMPLE_ITEMS);
  });

  const changed: [string, (text: string) => string][] = [
    ['a letter of an item', (text) => text.replace('zoë', 'zoé')],
    ['a digit of its sequence number', (text) => text.replace('"seq":41', '"seq":44')],
    ['the journal generation it names', (text) => text.replace('"journal":7', '"journal":8')],
    ['an item taken out', (text) => text.replace('{"id":"f1","userId":"u1","expiresAt":1},\n', '')],
  ];
  for (const [what, change] of changed) {
    test(`${what} changed, still valid JSON in its place, is refused by the checksum, at its byte offset`, async () => {
      const text = change((await encoded(41, SAMPLE)).toString());
      await assertCorrupt(Buffer.from(text), `is damaged at byte ${Buffer.from(text).indexOf('"sha256"')} (its checksum does not match the bytes before it`);
    });
  }

  test('a version 3 file reformatted by hand, or relabelled version 2, is refused: its checksum covers the layout it was written in', async () => {
    const document = JSON.parse((await encoded(41, SAMPLE)).toString()) as Record<string, unknown>;
    await assertCorrupt(Buffer.from(JSON.stringify(document, null, 2)), 'is a version 3 snapshot in another layout');
    await assertCorrupt(Buffer.from(JSON.stringify({ ...document, version: 2 })), 'is a version 3 snapshot in another layout');
  });

  test('reads the same whatever the size of the pieces it reads, lines and characters cut between them', async () => {
    const bytes = await encoded(41, SAMPLE);
    for (const chunkBytes of [1, 2, 3, 7, 64]) {
      const reader = collector();
      assert.equal((await read(bytes, reader, chunkBytes))?.seq, 41);
      assert.deepEqual(reader.items, SAMPLE_ITEMS, `${chunkBytes} bytes at a time`);
    }
    // Still line by line with tiny pieces: damage is named by its line, not by a parse of the whole.
    const damaged = Buffer.from(bytes.toString().replace('"expiresAt":3}', '"expiresAt":'));
    await assert.rejects(read(damaged, collector(), 3), /is damaged at byte \d+ \(not a "refreshTokens" item\)/);
  });

  test('a list the store failed to capture stops the snapshot rather than write it without', async () => {
    await assert.rejects(encodeSnapshot(1, 2, LISTS, { families: [], refreshTokens: [] }), /no "deniedAccessTokens" list was captured/);
  });

  test('no file is no snapshot yet', async () => {
    await rm(FILE, { force: true });
    assert.equal(await readSnapshot(realFileSystem, FILE, 'sessions', collector()), undefined);
  });

  test('a version 2 snapshot reformatted by hand (indented, another layout) reads the same, as one document', async () => {
    const reader = collector();
    const pretty = Buffer.from(JSON.stringify({ version: 2, seq: 41, ...SAMPLE }, null, 2));
    assert.deepEqual(await read(pretty, reader), { seq: 41, journal: undefined, legacy: true, bytes: pretty.length });
    assert.deepEqual(reader.items, SAMPLE_ITEMS);
  });

  test('a version 1 file (before the journal) reads as sequence 0, to be rewritten at the next compaction', async () => {
    const reader = collector();
    const v1 = Buffer.from(JSON.stringify({ version: 1, ...SAMPLE }));
    assert.deepEqual(await read(v1, reader), { seq: 0, journal: undefined, legacy: true, bytes: v1.length });
    assert.deepEqual(reader.items, SAMPLE_ITEMS);
  });

  test('a file whose last newline was lost still reads', async () => {
    const bytes = await encoded(3, SAMPLE);
    const reader = collector();
    assert.equal((await read(bytes.subarray(0, -1), reader))?.seq, 3);
    assert.equal(reader.items.length, 3);
  });

  test('a damaged item line is refused with the byte offset where that line starts (in bytes, not characters)', async () => {
    const text = (await encoded(3, SAMPLE)).toString();
    const line = '{"id":"t1","familyId":"f1","expiresAt":3}';
    const damaged = Buffer.from(text.replace(line, '{"id":"t1","familyId":'));
    const offset = Buffer.from(text).indexOf(line); // after "zoë": one byte more than its characters
    assert.notEqual(offset, text.indexOf(line));
    await assertCorrupt(damaged, `is damaged at byte ${offset} (not a "refreshTokens" item)`);
  });

  test('an item the store refuses is named with its byte offset and the store\'s reason', async () => {
    const bytes = await encoded(3, { ...SAMPLE, refreshTokens: [{ familyId: 'f1', expiresAt: 3 }] });
    const offset = bytes.indexOf('{"familyId"');
    await assertCorrupt(bytes, `holds an invalid entry at byte ${offset} (an item needs an "id")`, collector(true));
  });

  const cut: [string, (text: string) => string, string][] = [
    ['a file cut off after an item', (text) => text.slice(0, text.indexOf('"refreshTokens"')), 'the file ends early'],
    ['a list missing', (text) => text.replace(/"refreshTokens":\[\n.*\n\],\n/, ''), 'expected the "refreshTokens" list'],
    ['a list not closed', (text) => text.replace('\n],\n"refreshTokens"', ',\n"refreshTokens"'), 'not a "families" item'],
    ['a closing bracket where a comma ends the list', (text) => text.replace('expiresAt":2}\n]', 'expiresAt":2}\n}'), 'expected the end of the "families" list'],
    ['the checksum cut off', (text) => text.slice(0, text.indexOf('"sha256"')), 'the file ends early'],
    ['the checksum cut short', (text) => text.slice(0, text.indexOf('"sha256"') + 20), 'expected the checksum'],
    ['more after the end of the document', (text) => `${text}{}\n`, 'more after the end of the document'],
  ];
  for (const [description, damage, fragment] of cut) {
    test(`${description} is refused, naming the byte offset`, async () => {
      const text = (await encoded(3, SAMPLE)).toString();
      await assertCorrupt(Buffer.from(damage(text)), fragment);
    });
  }

  const refused: [string, string, string][] = [
    ['not JSON', '{"version":1,"families":[', 'is not valid JSON'],
    ['no version', '{"families":[],"refreshTokens":[],"deniedAccessTokens":[]}', 'is not a sessions snapshot'],
    ['version 2 without its sequence number', '{"version":2,"families":[],"refreshTokens":[],"deniedAccessTokens":[]}', 'is not a sessions snapshot'],
    ['a list missing', '{"version":1,"families":[],"deniedAccessTokens":[]}', 'has no "refreshTokens" list'],
    ['an item the store refuses', '{"version":1,"families":[{"id":"f"},{}],"refreshTokens":[],"deniedAccessTokens":[]}', 'holds an invalid entry, item 1 of "families" (an item needs an "id")'],
  ];
  for (const [description, text, fragment] of refused) {
    test(`a document in another layout with ${description} is refused`, async () => {
      await assertCorrupt(Buffer.from(text), fragment, collector(true));
    });
  }
});
