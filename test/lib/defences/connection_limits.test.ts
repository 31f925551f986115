import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FALLBACK_MAX_CONNECTIONS, LISTEN_BACKLOG, connectionCap, descriptorLimit } from '../../../lib/defences/connection_limits.ts';

describe('descriptorLimit()', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'limits-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const limitsFile = async (openFiles: string) => {
    const file = path.join(dir, `limits-${openFiles.replace(/\s+/g, '-')}`);
    await writeFile(file, `Limit                     Soft Limit           Hard Limit           Units\nMax processes             63455                63455                processes\nMax open files            ${openFiles}                files\n`);
    return file;
  };

  test('reads the soft limit of open files', async () => {
    assert.equal(descriptorLimit(await limitsFile('256                  4096')), 256);
    assert.equal(descriptorLimit(await limitsFile('unlimited            unlimited')), Infinity);
  });

  test('is undefined where the limit cannot be read (not Linux, or Deno, which refuses /proc/self)', () => {
    assert.equal(descriptorLimit(path.join(dir, 'missing')), undefined);
  });
});

describe('connectionCap()', () => {
  test(`keeps 64 descriptors of the limit for the process's own files and ${LISTEN_BACKLOG} for connections waiting to be accepted`, () => {
    assert.deepEqual(connectionCap(undefined, 256), { max: 256 - 64 - LISTEN_BACKLOG, limited: false });
    assert.deepEqual(connectionCap(undefined, 1024), { max: 1024 - 64 - LISTEN_BACKLOG, limited: false });
  });

  test('stops at 10,000 where the limit is higher or unlimited: memory runs out first', () => {
    assert.deepEqual(connectionCap(undefined, 1_048_576), { max: 10_000, limited: false });
    assert.deepEqual(connectionCap(undefined, Infinity), { max: 10_000, limited: false });
  });

  test('takes MAX_CONNECTIONS as it is below that room, and lowers it (saying so) above', () => {
    assert.deepEqual(connectionCap(500, 1024), { max: 500, limited: false });
    assert.deepEqual(connectionCap(900, 1024), { max: 1024 - 64 - LISTEN_BACKLOG, limited: true });
    assert.deepEqual(connectionCap(20_000, Infinity), { max: 20_000, limited: false });
  });

  test(`without a known limit: MAX_CONNECTIONS, else ${FALLBACK_MAX_CONNECTIONS}, under Linux's usual 1,024`, () => {
    assert.deepEqual(connectionCap(undefined, undefined), { max: FALLBACK_MAX_CONNECTIONS, limited: false });
    assert.deepEqual(connectionCap(3_000, undefined), { max: 3_000, limited: false });
  });
});
