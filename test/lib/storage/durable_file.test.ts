import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { CorruptFileError, DurableFile, StorageError } from '../../../lib/storage/durable_file.ts';
import { FaultyFileSystem, type FaultPoint } from '../../helpers/faulty_fs.ts';

describe('DurableFile', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'durable-file-test-'));
    file = path.join(dir, 'state.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A DurableFile over `file` whose state is whatever `state.value` holds when a write starts. */
  function durable(fs = new FaultyFileSystem()) {
    const state = { value: {} as unknown };
    return { state, fs, durable: new DurableFile(file, () => JSON.stringify(state.value), fs) };
  }

  test('commit() writes the current state as valid JSON', async () => {
    const { state, durable: stateFile } = durable();
    state.value = { users: ['alice'] };
    await stateFile.commit();
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { users: ['alice'] });
  });

  test('commit() creates the file readable and writable by its owner only (0600)', async () => {
    await durable().durable.commit();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  test('commit() leaves no temp file behind', async () => {
    await durable().durable.commit();
    assert.deepEqual(await readdir(dir), ['state.json']);
  });

  test('commits made while a write is in flight share the next write', async () => {
    const { state, fs, durable: stateFile } = durable();
    const held = fs.holdRenames();
    state.value = { n: 0 };
    const first = stateFile.commit();
    await held.reached;

    const rest = Array.from({ length: 10 }, (_, i) => {
      state.value = { n: i + 1 };
      return stateFile.commit();
    });
    held.release();
    await Promise.all([first, ...rest]);

    assert.equal(fs.tempOpens, 2);
    assert.equal(fs.renames, 2);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { n: 10 });
  });

  test('commits made at once cost at most two writes', async () => {
    const { fs, durable: stateFile } = durable();
    await Promise.all(Array.from({ length: 50 }, () => stateFile.commit()));
    assert.ok(fs.renames <= 2, `${fs.renames} renames for 50 commits`);
  });

  test('a commit after the last write has finished gets a write of its own', async () => {
    const { state, fs, durable: stateFile } = durable();
    await stateFile.commit();
    state.value = { later: true };
    await stateFile.commit();
    assert.equal(fs.renames, 2);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { later: true });
  });

  for (const point of ['open', 'write', 'fsync', 'rename'] satisfies FaultPoint[]) {
    test(`a failure at ${point} rejects with StorageError, keeps the previous file whole and leaves no temp file`, async () => {
      const { state, fs, durable: stateFile } = durable();
      state.value = { version: 'before' };
      await stateFile.commit();
      const before = await readFile(file);

      fs.failNext(point);
      state.value = { version: 'after' };
      await assert.rejects(stateFile.commit(), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'ERR_STORAGE');
        assert.match(error.message, new RegExp(`^Cannot write state\\.json: EIO: injected failure at ${point}`));
        return true;
      });

      assert.deepEqual(await readFile(file), before);
      assert.deepEqual(await readdir(dir), ['state.json']);
    });

    test(`a commit after a failure at ${point} writes again`, async () => {
      const { state, fs, durable: stateFile } = durable();
      fs.failNext(point);
      await assert.rejects(stateFile.commit(), StorageError);
      state.value = { recovered: true };
      await stateFile.commit();
      assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { recovered: true });
    });
  }

  test('a failed write rejects only the commits that shared it', async () => {
    const { state, fs, durable: stateFile } = durable();
    const held = fs.holdRenames();
    fs.failNext('rename');
    const failing = stateFile.commit();
    await held.reached;
    state.value = { next: true };
    const next = stateFile.commit();
    held.release();

    await assert.rejects(failing, StorageError);
    await next;
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { next: true });
  });

  test('read() returns undefined when there is no file yet', async () => {
    assert.equal(await durable().durable.read(), undefined);
  });

  test('read() parses the file', async () => {
    await writeFile(file, '{"users":[]}');
    assert.deepEqual(await durable().durable.read(), { users: [] });
  });

  test("read() removes the file's stale temp files and nothing else", async () => {
    await writeFile(file, '{}');
    await writeFile(path.join(dir, 'state.json.0b7c1b1e-5c3e-4a57-9c63-2f0d1c0b3a11.tmp'), '{"half');
    await writeFile(path.join(dir, 'state.json.tmp'), '');
    await writeFile(path.join(dir, 'other.json.1234.tmp'), '');
    await writeFile(path.join(dir, 'state.json.bak'), '');

    await durable().durable.read();

    assert.deepEqual((await readdir(dir)).sort(), ['other.json.1234.tmp', 'state.json', 'state.json.bak']);
  });

  const corrupt: [description: string, text: string][] = [
    ['truncated JSON', '{"users":[{"id":"1"'],
    ['an empty file', ''],
    ['text that is not JSON', 'users: alice'],
  ];
  for (const [description, text] of corrupt) {
    test(`read() refuses ${description} with CorruptFileError and leaves the file untouched`, async () => {
      await writeFile(file, text);
      await assert.rejects(durable().durable.read(), (error: unknown) => {
        assert.ok(error instanceof CorruptFileError);
        assert.ok(error.message.includes(file), `"${error.message}" does not name the file`);
        assert.match(error.message, /is not valid JSON/);
        return true;
      });
      assert.equal(await readFile(file, 'utf8'), text);
    });
  }

  test('flush() resolves once the write in flight and the queued one are on disk', async () => {
    const { state, fs, durable: stateFile } = durable();
    const held = fs.holdRenames();
    void stateFile.commit();
    await held.reached;
    state.value = { last: true };
    void stateFile.commit();
    const flushed = stateFile.flush();
    held.release();
    await flushed;
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { last: true });
  });
});
