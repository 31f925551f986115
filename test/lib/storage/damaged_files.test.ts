/**
 * Damage to the files themselves, refused at start and never skipped (the outside fault round found
 * each of these started, dropping acknowledged changes): a byte changed in a whole record, a journal
 * missing beside its snapshot or between two others, a snapshot missing beside its journal or its
 * folder's secret, a snapshot whose numbers were changed by hand. Only what a crash leaves after the
 * last newline of the last journal (a torn record, zeros) is cut off, with a log line. Each refusal
 * names the file and the byte offset, and leaves the files as they were.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { encodeSnapshot } from '../../../lib/storage/snapshot.ts';
import { JsonUserStore, type UserStoreOptions } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { CorruptFileError } from '../../../lib/errors.ts';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'damaged-files-test-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const open = (options: UserStoreOptions = {}) => JsonUserStore.open(dataDir, { log: silentLogger, ...options });
const file = (name: string) => path.join(dataDir, name);

/** Signs up each name, one write each. */
async function signUp(store: JsonUserStore, ...names: string[]): Promise<void> {
  for (const name of names) await store.add(name, HASH);
}

/** Every file of the folder with its bytes: what "left as it was" compares. */
async function folder(): Promise<Record<string, string>> {
  const contents: Record<string, string> = {};
  for (const name of (await readdir(dataDir)).sort()) contents[name] = await readFile(file(name), 'base64');
  return contents;
}

/** Rejects unless opening refuses with a CorruptFileError whose message holds each fragment, touching no file. */
async function assertRefused(...fragments: string[]): Promise<void> {
  const before = await folder();
  await assert.rejects(open(), (error: Error) => {
    assert.ok(error instanceof CorruptFileError, `${error.name}: ${error.message}`);
    assert.ok(error.message.startsWith('Cannot start: '), error.message);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `"${fragment}" not in: ${error.message}`);
    return true;
  });
  assert.deepEqual(await folder(), before, 'the files are left as they were');
}

/**
 * A folder as a compaction cut short by a kill -9 leaves it, then written on: the snapshot names
 * journal 2 (alice and bob in the snapshot, carol in journal 2), journal 3 holds dave. With `again`,
 * once more: journal 4 holds erin.
 */
async function journalsAfterCutCompactions(again = false): Promise<void> {
  const store = await open();
  await signUp(store, 'alice', 'bob');
  await store.compact();
  await signUp(store, 'carol');
  for (const name of again ? ['dave', 'erin'] : ['dave']) {
    const fs = new StepFileSystem();
    fs.crashAt(/^rename users\.json$/);
    void (await open({ fs })).compact();
    await fs.crashed;
    await signUp(await open(), name);
  }
}

describe('what a crash leaves after the last newline of the last journal is cut off, with a log line', () => {
  test('zeros where a file system had grown the file but not written it: cut off, and the next sign-up goes on', async () => {
    await signUp(await open(), 'alice', 'bob');
    const journal = file('users.journal.1.jsonl');
    const whole = (await stat(journal)).size;
    await appendFile(journal, Buffer.alloc(300));
    const warnings: string[] = [];
    const store = await open({ log: { warn: (line) => warnings.push(line), error() {} } });
    assert.equal(store.size, 2);
    assert.deepEqual(warnings, [`${journal}: cut off 300 zero bytes at its end, from byte ${whole} (a crash left the file longer than what was written)`]);
    assert.equal((await stat(journal)).size, whole);
    await signUp(store, 'carol');
    assert.equal((await open()).size, 3);
  });
});

describe('damage is refused, naming the file and the byte offset', () => {
  test('a whole last record (ending in its newline) with one byte changed: refused, not dropped as torn', async () => {
    await signUp(await open(), 'alice', 'bob', 'carol');
    const journal = file('users.journal.1.jsonl');
    const text = await readFile(journal, 'utf8');
    const last = text.lastIndexOf('{"seq":3');
    await writeFile(journal, text.replace('"username":"carol"', '"username":"karol"'));
    await assertRefused(`${journal} is damaged at byte ${last} (its checksum does not match: a byte of it was changed)`);
  });

  test('a record whose checksum was taken off', async () => {
    await signUp(await open(), 'alice', 'bob');
    const journal = file('users.journal.1.jsonl');
    const text = await readFile(journal, 'utf8');
    await writeFile(journal, text.replace(/,"sha256":"[0-9a-f]{16}"\}\n$/, '}\n'));
    await assertRefused(`${journal} is damaged at byte ${text.indexOf('{"seq":2')} (a record without its checksum)`);
  });

  test('the first record\'s checksum taken off, in a folder never compacted: damage, not a folder written before checksums', async () => {
    await signUp(await open(), 'alice', 'bob');
    const journal = file('users.journal.1.jsonl');
    const text = await readFile(journal, 'utf8');
    await writeFile(journal, text.replace(/,"sha256":"[0-9a-f]{16}"\}\n/, '}\n'));
    await assertRefused(`${journal} is damaged at byte 0 (a record without its checksum)`);
  });

  test('a checksummed record beside a version 2 snapshot, which nothing writes: refused', async () => {
    await signUp(await open(), 'alice');
    await writeFile(file('users.json'), '{"version":2,"seq":0,\n"users":[]}\n');
    await assertRefused(`${file('users.journal.1.jsonl')} is damaged at byte 0 (a record with a checksum, in a folder written before checksums)`);
  });

  test('zeros in the middle of a journal (a line of them, then whole records)', async () => {
    await signUp(await open(), 'alice', 'bob', 'carol');
    const journal = file('users.journal.1.jsonl');
    const lines = (await readFile(journal, 'utf8')).split('\n');
    await writeFile(journal, [lines[0], '\0'.repeat(lines[1]!.length), lines[2], ''].join('\n'));
    await assertRefused(`${journal} is damaged at byte ${lines[0]!.length + 1} (not a journal record)`);
  });

  test('a record cut short in a journal another one follows', async () => {
    await journalsAfterCutCompactions();
    const journal = file('users.journal.2.jsonl');
    const whole = (await stat(journal)).size;
    await appendFile(journal, '{"seq":4,"op":"add","user":{"id":"x","userna');
    await assertRefused(`${journal} is damaged at byte ${whole} (a record without its end, in a journal another one follows)`);
  });
});

describe('a missing file is refused, never read as a store with less in it', () => {
  test('the journal the snapshot names, deleted after a kill -9 (4 of 7 users kept, before): refused, naming it', async () => {
    const first = await open();
    await signUp(first, 'u1', 'u2', 'u3', 'u4');
    await first.close();
    await signUp(await open(), 'u5', 'u6', 'u7'); // then kill -9: the records are in journal 2 only
    await rm(file('users.journal.2.jsonl'));
    await assertRefused(`${file('users.journal.2.jsonl')} is missing (${file('users.json')} says the records after its last, 4, are there)`);
  });

  test('the empty journal a clean stop leaves beside its snapshot: refused too (it would have held what came next)', async () => {
    const store = await open();
    await signUp(store, 'alice');
    await store.close();
    await rm(file('users.journal.2.jsonl'));
    await assertRefused(`${file('users.journal.2.jsonl')} is missing`);
  });

  test('a journal between two others', async () => {
    await journalsAfterCutCompactions(true);
    assert.deepEqual((await readdir(dataDir)).filter((name) => name.endsWith('.jsonl')).sort(), ['users.journal.2.jsonl', 'users.journal.3.jsonl', 'users.journal.4.jsonl']);
    assert.equal((await open()).size, 5, 'whole, the folder opens with every user');
    await rm(file('users.journal.3.jsonl'));
    await assertRefused(`${file('users.journal.3.jsonl')} is missing (it comes between ${file('users.journal.2.jsonl')} and ${file('users.journal.4.jsonl')})`);
  });

  test('the snapshot, beside the journal it named', async () => {
    const store = await open();
    await signUp(store, 'alice', 'bob');
    await store.close();
    await signUp(await open(), 'carol');
    await rm(file('users.json'));
    await assertRefused(`${file('users.json')} is missing, beside ${file('users.journal.2.jsonl')}`);
  });

  test('the snapshot and every journal, where the folder says it held them (its secret is there)', async () => {
    await assert.rejects(open({ expected: `${file('jwt-secret')} is there` }), (error: Error) => {
      assert.ok(error instanceof CorruptFileError);
      assert.equal(
        error.message,
        `Cannot start: ${file('users.json')} is missing, and so is every users journal, but ${file('jwt-secret')} is there: this folder held users; ` +
          'restore it from a backup; the files that are there have been left as they are',
      );
      return true;
    });
    assert.deepEqual(await readdir(dataDir), []);
  });

  test('a new folder (nothing there, nothing expected) starts empty, with its first journal', async () => {
    assert.equal((await open()).size, 0);
    assert.deepEqual(await readdir(dataDir), ['users.journal.1.jsonl']);
  });
});

describe('a snapshot whose numbers were changed by hand', () => {
  /** alice and bob in a snapshot naming journal 2, carol in journal 2. */
  async function snapshotAndJournal(): Promise<{ users: unknown[] }> {
    const store = await open();
    await signUp(store, 'alice', 'bob');
    await store.close();
    await signUp(await open(), 'carol');
    return JSON.parse(await readFile(file('users.json'), 'utf8')) as { users: unknown[] };
  }

  test('its sequence number raised: refused by its checksum', async () => {
    await snapshotAndJournal();
    const text = await readFile(file('users.json'), 'utf8');
    await writeFile(file('users.json'), text.replace('"seq":2,', '"seq":3,'));
    await assertRefused(`${file('users.json')} is damaged at byte ${text.indexOf('"sha256"')} (its checksum does not match the bytes before it`);
  });

  test('its sequence number raised, checksum and all: the journal\'s first record is one it would already hold', async () => {
    const { users } = await snapshotAndJournal();
    await writeFile(file('users.json'), Buffer.concat(await encodeSnapshot(3, 2, ['users'], { users })));
    await assertRefused(`${file('users.journal.2.jsonl')} has record 3 at byte 0 where 4 should be (a record the snapshot or an earlier line already holds)`);
  });

  test('its sequence number lowered, checksum and all: a record is missing', async () => {
    const { users } = await snapshotAndJournal();
    await writeFile(file('users.json'), Buffer.concat(await encodeSnapshot(1, 2, ['users'], { users })));
    await assertRefused(`${file('users.journal.2.jsonl')} has record 3 at byte 0 where 2 should be (a record is missing)`);
  });

  test('the journal it names raised past one with records after it, checksum and all', async () => {
    await journalsAfterCutCompactions();
    const { users } = JSON.parse(await readFile(file('users.json'), 'utf8')) as { users: unknown[] };
    await writeFile(file('users.json'), Buffer.concat(await encodeSnapshot(2, 3, ['users'], { users })));
    await assertRefused(`${file('users.journal.2.jsonl')} has record 3 at byte 0, which ${file('users.json')} (up to record 2, then ${file('users.journal.3.jsonl')}) does not hold`);
  });
});
