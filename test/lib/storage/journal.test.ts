/**
 * The journal under the stores, through `JsonUserStore` (the simplest of them): one line per change
 * whatever the size of the store, one fsync per batch, snapshots in the background and at a clean stop,
 * and recovery that never guesses, whichever step a failure or a crash (SIGKILL, injected) interrupts.
 * Damage to the files themselves (a changed byte, a missing journal, a changed snapshot) is in
 * `damaged_files.test.ts`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { JsonUserStore, type UserStoreOptions } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { CorruptFileError, StorageError } from '../../../lib/errors.ts';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'journal-test-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const open = (options: UserStoreOptions = {}) => JsonUserStore.open(dataDir, { log: silentLogger, ...options });
const files = async () => (await readdir(dataDir)).sort();
const journalFiles = async () => (await files()).filter((name) => name.endsWith('.jsonl'));
const journalText = async () => (await Promise.all((await journalFiles()).map((name) => readFile(path.join(dataDir, name), 'utf8')))).join('');

/** A record's checksum: the first 16 hex digits of the SHA-256 of its JSON without it. */
const checksum = (record: object) => createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 16);

/** The usernames a store holds, sorted. */
async function namesIn(store: JsonUserStore, candidates: Iterable<string>): Promise<string[]> {
  const found: string[] = [];
  for (const name of candidates) if ((await store.findByName(name)) !== undefined) found.push(name);
  return found.sort();
}

describe('the journal', () => {
  test('each change is one readable JSON line, numbered and checksummed, and the snapshot after a clean stop holds every user', async () => {
    const store = await open();
    const alice = await store.add('alice', HASH);
    await store.setPasswordHash(alice.id, `${HASH}2`);
    assert.deepEqual(await journalFiles(), ['users.journal.1.jsonl']);
    const lines = (await journalText()).trimEnd().split('\n');
    assert.deepEqual(lines.map((line) => JSON.parse(line)), [
      { seq: 1, op: 'add', user: alice, sha256: checksum({ seq: 1, op: 'add', user: alice }) },
      { seq: 2, op: 'setPasswordHash', id: alice.id, passwordHash: `${HASH}2`, sha256: checksum({ seq: 2, op: 'setPasswordHash', id: alice.id, passwordHash: `${HASH}2` }) },
    ]);

    await store.close();
    assert.deepEqual(await files(), ['users.journal.2.jsonl', 'users.json'], 'the snapshot, and the journal it names, empty');
    assert.equal(await journalText(), '');
    const snapshot = await readFile(path.join(dataDir, 'users.json'), 'utf8');
    const beforeChecksum = snapshot.slice(0, snapshot.indexOf('"sha256"'));
    assert.deepEqual(JSON.parse(snapshot), {
      version: 3,
      seq: 2,
      journal: 2,
      users: [{ ...alice, passwordHash: `${HASH}2` }],
      sha256: createHash('sha256').update(beforeChecksum).digest('hex'),
    });
    assert.match(snapshot, /^\{"version":3,"seq":2,"journal":2,\n"users":\[\n\{"id":/, 'one user per line');
  });

  test('a sign-up appends the same bytes to the journal with 3,000 users stored as with none', async () => {
    const store = await open({ compactAfterBytes: 1 << 30 });
    const growth = async (name: string) => {
      const before = (await journalText()).length;
      await store.add(name, HASH);
      return (await journalText()).length - before;
    };
    const first = await growth('first-user');
    await Promise.all(Array.from({ length: 3000 }, (_, i) => store.add(`user-${String(i).padStart(5, '0')}`, HASH)));
    await store.close();
    const reopened = await open({ compactAfterBytes: 1 << 30 });
    const before = (await journalText()).length;
    await reopened.add('later-user', HASH);
    const later = (await journalText()).length - before;
    assert.ok(Math.abs(later - first) <= 8, `${first} bytes for the first sign-up, ${later} with 3,000 users stored`);
    await reopened.close();
  });

  test('sign-ups arriving together share one write and one fsync', async () => {
    const fs = new StepFileSystem();
    const store = await open({ fs });
    await store.add('warm-up', HASH);
    const before = fs.steps.length;
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.add(`user${i}`, HASH)));
    const fsyncs = fs.steps.slice(before).filter((step) => step.startsWith('fsync users.journal'));
    assert.ok(fsyncs.length <= 2, `${fsyncs.length} fsyncs for 20 sign-ups`);
    assert.equal(await namesIn(await open(), ['user0', 'user19']).then((names) => names.length), 2);
  });

  test('past the size threshold, a snapshot is written in the background and the journal it covers deleted', async () => {
    const store = await open({ compactAfterBytes: 2_000 });
    for (let i = 0; i < 40; i++) await store.add(`user${i}`, HASH);
    await store.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const snapshot = JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')) as { seq: number; users: unknown[] };
    assert.ok(snapshot.users.length >= 10, `${snapshot.users.length} users in the snapshot`);
    assert.ok((await journalText()).length < 3_000, 'the journal holds only what came after the snapshot');
    const reopened = await open();
    assert.equal(reopened.size, 40);
  });

  test('a torn last record (a crash mid-append: no newline) is dropped with a log line; the next sign-up goes on', async () => {
    const store = await open();
    await store.add('alice', HASH);
    await appendFile(path.join(dataDir, 'users.journal.1.jsonl'), '{"seq":2,"op":"add","user":{"id":"x","userna');
    const warnings: string[] = [];
    const reopened = await JsonUserStore.open(dataDir, { log: { warn: (line) => warnings.push(line), error() {} } });
    assert.equal(reopened.size, 1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /users\.journal\.1\.jsonl: dropped a torn last record at byte \d+/);
    await reopened.add('bob', HASH);
    assert.deepEqual(await namesIn(await open(), ['alice', 'bob']), ['alice', 'bob']);
  });

  test('damage before the last record refuses the start, naming the file and the byte offset, and leaves it as it is', async () => {
    const store = await open();
    for (const name of ['alice', 'bob', 'carol']) await store.add(name, HASH);
    const file = path.join(dataDir, 'users.journal.1.jsonl');
    const text = await readFile(file, 'utf8');
    const second = text.indexOf('\n') + 1;
    const damaged = `${text.slice(0, second)}#${text.slice(second + 1)}`;
    await writeFile(file, damaged);
    await assert.rejects(open(), (error: Error) => {
      assert.ok(error instanceof CorruptFileError);
      assert.ok(error.message.includes(`${file} is damaged at byte ${second}`), error.message);
      return true;
    });
    assert.equal(await readFile(file, 'utf8'), damaged);
  });

  test('a missing record (a gap in the numbers) refuses the start', async () => {
    const store = await open();
    for (const name of ['alice', 'bob', 'carol']) await store.add(name, HASH);
    const file = path.join(dataDir, 'users.journal.1.jsonl');
    const lines = (await readFile(file, 'utf8')).split('\n');
    await writeFile(file, [lines[0], lines[2], ''].join('\n'));
    await assert.rejects(open(), /has record 3 at byte \d+ where 2 should be/);
  });

  test('a failed write rejects with StorageError, keeps nothing in memory or on disk, and the next write succeeds', async () => {
    const fs = new StepFileSystem();
    const store = await open({ fs });
    await store.add('alice', HASH);
    fs.failNext(/^fsync users\.journal/);
    await assert.rejects(store.add('bob', HASH), StorageError);
    assert.equal(await store.findByName('bob'), undefined);
    await store.add('carol', HASH);
    assert.deepEqual(await namesIn(await open(), ['alice', 'bob', 'carol']), ['alice', 'carol']);
  });

  test('a write queued behind a failed one fails with it: it was made on top of it', async () => {
    const fs = new StepFileSystem();
    const store = await open({ fs });
    await store.add('alice', HASH);
    fs.failNext(/^write users\.journal/);
    const results = await Promise.allSettled([store.add('bob', HASH), store.add('carol', HASH), store.add('dave', HASH)]);
    assert.equal(results[0].status, 'rejected');
    const stored = ['bob', 'carol', 'dave'].filter((_, i) => results[i]!.status === 'fulfilled');
    assert.deepEqual(await namesIn(store, ['bob', 'carol', 'dave']), stored);
    assert.deepEqual(await namesIn(await open(), ['alice', 'bob', 'carol', 'dave']), ['alice', ...stored]);
  });

  test('every step of every write path can fail: whatever failed is gone, whatever succeeded is kept', async () => {
    // The scenario: sign-ups and rehashes with background snapshots, then a clean stop.
    async function scenario(fs: StepFileSystem): Promise<{ acknowledged: Map<string, string>; store: JsonUserStore | undefined }> {
      const acknowledged = new Map<string, string>();
      // A step of the start failing (creating the first journal) refuses the start: nothing to keep yet.
      const store = await open({ fs, compactAfterBytes: 600 }).catch(() => undefined);
      if (store === undefined) return { acknowledged, store };
      for (let i = 0; i < 12; i++) {
        const name = `user${i}`;
        const user = await store.add(name, HASH).catch(() => undefined);
        if (user === undefined) continue;
        acknowledged.set(name, HASH);
        if (i % 3 === 0 && (await store.setPasswordHash(user.id, `${HASH}-${i}`).then(() => true, () => false))) {
          acknowledged.set(name, `${HASH}-${i}`);
        }
      }
      await store.close().catch(() => {});
      return { acknowledged, store };
    }
    const healthy = new StepFileSystem();
    await scenario(healthy);
    const total = healthy.steps.length;
    assert.ok(total > 40, `${total} steps`);
    for (const kind of ['open', 'write', 'fsync', 'folder-fsync', 'truncate', 'rename', 'rm']) {
      assert.ok(healthy.steps.some((step) => step.startsWith(`${kind} `)), `the scenario has a ${kind} step`);
    }

    for (let index = 0; index < total; index++) {
      await rm(dataDir, { recursive: true, force: true });
      dataDir = await mkdtemp(path.join(tmpdir(), 'journal-test-'));
      const fs = new StepFileSystem();
      let seen = 0;
      fs.failNext({ test: () => seen++ === index } as unknown as RegExp);
      const { acknowledged, store } = await scenario(fs);
      const step = fs.steps[index];
      for (const [name, hash] of acknowledged) assert.equal((await store!.findByName(name))?.passwordHash, hash, `in memory, failing ${step}`);
      const reopened = await open();
      assert.equal(reopened.size, acknowledged.size, `after a restart, failing step ${index}: ${step}`);
      for (const [name, hash] of acknowledged) assert.equal((await reopened.findByName(name))?.passwordHash, hash, `failing ${step}`);
      await reopened.close();
    }
  });

  test('a SIGKILL at any step of sign-ups and snapshots loses nothing acknowledged and never refuses the restart', async () => {
    async function scenario(fs: StepFileSystem): Promise<{ acknowledged: Set<string>; attempted: Set<string> }> {
      const acknowledged = new Set<string>();
      const attempted = new Set<string>();
      const store = await Promise.race([open({ fs, compactAfterBytes: 500 }), fs.crashed.then(() => undefined)]);
      if (store === undefined) return { acknowledged, attempted }; // killed while creating the first journal
      const run = (async () => {
        for (let round = 0; round < 6; round++) {
          const names = [0, 1, 2].map((i) => `user${round}-${i}`);
          for (const name of names) attempted.add(name);
          await Promise.all(names.map((name) => store.add(name, HASH).then(() => acknowledged.add(name))));
        }
        await store.close();
      })();
      await Promise.race([run, fs.crashed]);
      return { acknowledged, attempted };
    }
    const healthy = new StepFileSystem();
    await scenario(healthy);
    const total = healthy.steps.length;
    assert.ok(healthy.steps.includes('rename users.json'), 'the scenario writes snapshots');

    let crashes = 0;
    for (let index = 0; index < total; index++) {
      await rm(dataDir, { recursive: true, force: true });
      dataDir = await mkdtemp(path.join(tmpdir(), 'journal-test-'));
      const fs = new StepFileSystem();
      fs.crashAt(index);
      const { acknowledged, attempted } = await scenario(fs);
      if (!fs.hasCrashed) continue; // background snapshots make the count of steps vary a little
      crashes++;
      const reopened = await open();
      const recovered = new Set(await namesIn(reopened, attempted));
      for (const name of acknowledged) assert.ok(recovered.has(name), `${name} lost by a crash at ${healthy.steps[index]} (step ${index})`);
      // What was in flight may be there or not, but whole: the store goes on from it.
      await reopened.add('after-the-crash', HASH);
      await reopened.close();
      const again = await open();
      assert.equal(again.size, recovered.size + 1);
      assert.deepEqual((await files()).filter((name) => name !== 'users.json' && !/^users\.journal\.\d+\.jsonl$/.test(name)), []);
      assert.equal(await journalText(), '', 'after the clean stop, only the empty journal the snapshot names');
    }
    assert.ok(crashes > total * 0.8, `${crashes} crashes in ${total} steps`);
  });

  test('a SIGKILL at each step of a snapshot: the restart holds every user exactly once', async () => {
    const setup = await open();
    for (const name of ['alice', 'bob', 'carol']) await setup.add(name, HASH);
    await setup.flush();
    const healthy = new StepFileSystem();
    const probe = await open({ fs: healthy });
    await probe.close();
    const compactionSteps = healthy.steps.length;
    assert.deepEqual(
      healthy.steps.map((step) => step.split(' ')[0]).filter((kind, i, kinds) => kind !== kinds[i - 1] || kind !== 'write'),
      ['open', 'folder-fsync', 'open', 'write', 'fsync', 'rename', 'folder-fsync', 'rm'],
      healthy.steps.join(', '),
    );
    for (let index = 0; index < compactionSteps; index++) {
      await rm(dataDir, { recursive: true, force: true });
      dataDir = await mkdtemp(path.join(tmpdir(), 'journal-test-'));
      const store = await open();
      for (const name of ['alice', 'bob', 'carol']) await store.add(name, HASH);
      await store.compact(); // a snapshot, and the records after it in the journal it names
      await store.add('dave', HASH);
      const again = await open(); // a restart after a kill -9: it appends to the same journal
      await again.add('erin', HASH);
      const fs = new StepFileSystem();
      fs.crashAt(index);
      const crashing = await open({ fs });
      void crashing.close();
      await fs.crashed;
      const reopened = await open();
      assert.equal(reopened.size, 5, `after a crash at ${fs.steps[index]}`);
      await reopened.add('frank', HASH);
      await reopened.close();
      assert.equal((await open()).size, 6);
    }
  });

  test('a folder fsync failing after a snapshot rename changes nothing in memory, and the files agree with it', async () => {
    const fs = new StepFileSystem();
    const store = await open({ fs });
    await store.add('alice', HASH);
    // The snapshot's own folder fsync, after its rename (the one before makes the journal it names durable).
    let renamed = false;
    fs.failNext({ test: (step: string) => (renamed ||= step === 'rename users.json') && step.startsWith('folder-fsync') } as RegExp);
    await assert.rejects(store.close(), /EIO/);
    assert.ok(renamed);
    assert.notEqual(await store.findByName('alice'), undefined);
    const reopened = await open();
    assert.notEqual(await reopened.findByName('alice'), undefined);
    assert.equal((await stat(path.join(dataDir, 'users.json'))).isFile(), true);
  });
});
