import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { loadOrCreateSecret } from '../../../lib/startup/jwt_secret.ts';
import { ConfigError } from '../../../lib/errors.ts';

describe('loadOrCreateSecret()', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'jwt-secret-test-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('generates a 256-bit secret in a file only its owner can read', async () => {
    const secret = await loadOrCreateSecret(dataDir);
    const file = path.join(dataDir, 'jwt-secret');
    assert.equal(secret.length, 32);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), Buffer.from(secret).toString('base64url'));
  });

  test('returns the same secret on every later start', async () => {
    const first = await loadOrCreateSecret(dataDir);
    assert.deepEqual(await loadOrCreateSecret(dataDir), first);
  });

  test('gives two data folders two different secrets', async () => {
    const otherDir = await mkdtemp(path.join(tmpdir(), 'jwt-secret-test-'));
    try {
      assert.notDeepEqual(await loadOrCreateSecret(dataDir), await loadOrCreateSecret(otherDir));
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  test('refuses a kept secret under 32 bytes, naming the file, and leaves it as it is', async () => {
    const file = path.join(dataDir, 'jwt-secret');
    await writeFile(file, `${Buffer.alloc(16).toString('base64url')}\n`);
    await assert.rejects(loadOrCreateSecret(dataDir), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(error.message.includes(file));
      assert.match(error.message, /holds 16 bytes, at least 32 are needed/);
      return true;
    });
    assert.equal(await readFile(file, 'utf8'), `${Buffer.alloc(16).toString('base64url')}\n`);
  });
});
