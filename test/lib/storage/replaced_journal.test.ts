/**
 * A journal deleted, moved or replaced under a running store (the outside fault round: the next
 * sign-ups were acknowledged into a file that no longer had a name, and after a kill -9 the restart had
 * none of them). The journal checks before each write that its file is still the file at its name: if
 * not, that write fails with StorageError, every write is refused until a snapshot from memory holds
 * everything acknowledged, and the store goes on in a new journal. A kill -9 at any point after loses
 * nothing acknowledged.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { JsonUserStore, type UserStoreOptions } from '../../../lib/storage/user_store.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { CorruptFileError, StorageError } from '../../../lib/errors.ts';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

let dataDir: string;
let elsewhere: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'replaced-journal-test-'));
  elsewhere = await mkdtemp(path.join(tmpdir(), 'replaced-journal-elsewhere-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
  await rm(elsewhere, { recursive: true, force: true });
});

/** What the store logged. */
function recorder() {
  const lines: string[] = [];
  return { lines, log: { warn: (line: string) => lines.push(`warn: ${line}`), error: (line: string) => lines.push(`error: ${line}`) } };
}

const open = (options: UserStoreOptions = {}) => JsonUserStore.open(dataDir, { log: recorder().log, ...options });
const journal = () => path.join(dataDir, 'users.journal.1.jsonl');

async function names(store: JsonUserStore): Promise<string[]> {
  const found: string[] = [];
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) if ((await store.findByName(name)) !== undefined) found.push(name);
  return found;
}

/** Resolves once a line matching `pattern` is logged: the snapshot from memory is written in the background. */
async function logged(lines: string[], pattern: RegExp): Promise<void> {
  for (let waited = 0; !lines.some((line) => pattern.test(line)); waited += 10) {
    assert.ok(waited < 5_000, `never logged ${pattern}:\n${lines.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const SAVED = /^warn: .*users\.json written from memory: every acknowledged change is kept, and writes go on$/;

async function snapshotUsers(): Promise<number> {
  return (JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')) as { users: unknown[] }).users.length;
}

const replacements: [string, () => Promise<void>][] = [
  ['deleted', () => rm(journal())],
  ['moved to another folder', () => rename(journal(), path.join(elsewhere, 'moved.jsonl'))],
  [
    'replaced by a symbolic link to a copy of it',
    async () => {
      await copyFile(journal(), path.join(elsewhere, 'copy.jsonl'));
      await rm(journal());
      await symlink(path.join(elsewhere, 'copy.jsonl'), journal());
    },
  ],
  [
    'replaced by a copy of it (as an editor saves a file)',
    async () => {
      await copyFile(journal(), path.join(dataDir, 'copy.jsonl'));
      await rename(path.join(dataDir, 'copy.jsonl'), journal());
    },
  ],
];

describe('a journal replaced under a running store', () => {
  for (const [how, replace] of replacements) {
    test(`${how}: the next write fails with StorageError, a snapshot from memory keeps every acknowledged user, and writes go on after a kill -9`, async () => {
      const { lines, log } = recorder();
      const store = await open({ log });
      await store.add('alice', HASH);
      await store.add('bob', HASH);
      await replace();

      await assert.rejects(store.add('carol', HASH), (error: Error) => {
        assert.ok(error instanceof StorageError);
        assert.match(error.message, /users\.journal\.1\.jsonl was (deleted or moved away|replaced by a symbolic link or something else than a file|replaced by another file) while the server was running/);
        return true;
      });
      assert.equal(await store.findByName('carol'), undefined, 'not acknowledged, not kept');
      assert.match(lines[0]!, /^error: .*users\.journal\.1\.jsonl .* while the server was running: writes are refused until .*users\.json is written from memory, now$/);
      await logged(lines, SAVED);
      assert.equal(await snapshotUsers(), 2);

      // A kill -9 now (the store is never closed): the restart has every acknowledged user, with no warning.
      const restarted = recorder();
      const after = await open({ log: restarted.log });
      assert.deepEqual(await names(after), ['alice', 'bob']);
      assert.deepEqual(restarted.lines, []);

      // The running store goes on, in the journal the snapshot named.
      await store.add('carol', HASH);
      assert.deepEqual(await names(await open()), ['alice', 'bob', 'carol']);
      assert.deepEqual((await readdir(dataDir)).filter((name) => name.startsWith('users.')).sort(), ['users.journal.2.jsonl', 'users.json']);
      assert.equal(lines.length, 2, lines.join('\n'));
    });
  }

  test('while the snapshot from memory cannot be written (the disk failing too), every write is refused; the next one tries again', async () => {
    const fs = new StepFileSystem();
    const { lines, log } = recorder();
    const store = await open({ fs, log });
    await store.add('alice', HASH);
    fs.failNext(/^rename users\.json$/);
    await rm(journal());
    await assert.rejects(store.add('bob', HASH), StorageError);
    await logged(lines, /^error: Cannot write .*users\.json from memory; the next write tries again$/);
    await assert.rejects(store.add('carol', HASH), /was deleted or moved away while the server was running/, 'refused, and the snapshot tried again');
    await logged(lines, SAVED);
    assert.equal(await snapshotUsers(), 1);
    await store.add('dave', HASH);
    assert.deepEqual(await names(await open()), ['alice', 'dave']);
  });

  test('a clean stop after the journal was replaced writes the snapshot from memory too', async () => {
    const store = await open();
    await store.add('alice', HASH);
    await rm(journal());
    await store.close();
    assert.deepEqual(await names(await open()), ['alice']);
  });

  test('a journal that is a symbolic link at start is refused, naming it: appends would go elsewhere', async () => {
    await (await open()).add('alice', HASH);
    await mkdir(path.join(elsewhere, 'journals'));
    await rename(journal(), path.join(elsewhere, 'journals', 'users.journal.1.jsonl'));
    await symlink(path.join(elsewhere, 'journals', 'users.journal.1.jsonl'), journal());
    await assert.rejects(open(), (error: Error) => {
      assert.ok(error instanceof CorruptFileError);
      assert.equal(error.message, `Cannot start: ${journal()} is not a file (a symbolic link?); journals are files in the data folder itself`);
      return true;
    });
  });
});
