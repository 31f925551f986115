/**
 * Starting and stopping the minimal server: what the first start makes, the one line it prints, the
 * short secret it refuses, and a clean exit on SIGINT and SIGTERM.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { launchMinimalServer } from '../helpers/minimal_server.ts';
import { RUNTIME, makeTempDir } from '../helpers/server.ts';

describe(`start-up (${RUNTIME})`, () => {
  test('the first start makes a certificate (key mode 0600) and a secret (mode 0600), and prints one line: where it listens', async () => {
    const dir = await makeTempDir();
    const server = await launchMinimalServer({ JWT_SECRET: '' }, dir);
    try {
      assert.match(server.output(), /^Listening on https:\/\/127\.0\.0\.1:\d+\n$/);
      assert.equal(server.origin, `https://127.0.0.1:${new URL(server.origin).port}`);
      assert.equal((await stat(path.join(dir, 'key.pem'))).mode & 0o777, 0o600);
      assert.equal((await stat(path.join(server.dataDir, 'jwt-secret'))).mode & 0o777, 0o600);
      assert.equal(Buffer.from((await readFile(path.join(server.dataDir, 'jwt-secret'), 'utf8')).trim(), 'base64url').length, 32);
      assert.equal((await send(`${server.origin}/`, server.ca, 'GET')).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('a later start keeps the certificate and the secret it finds', async () => {
    const dir = await makeTempDir();
    const first = await launchMinimalServer({ JWT_SECRET: '' }, dir);
    await first.stop();
    const files = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem'), path.join(first.dataDir, 'jwt-secret')];
    const before = await Promise.all(files.map((file) => readFile(file, 'utf8')));
    const second = await launchMinimalServer({ JWT_SECRET: '' }, dir);
    await second.stop();
    assert.deepEqual(await Promise.all(files.map((file) => readFile(file, 'utf8'))), before);
  });

  test('refuses a JWT_SECRET under 32 bytes with one line and exit code 1; 32 bytes will do', async () => {
    await assert.rejects(launchMinimalServer({ JWT_SECRET: 'x'.repeat(31) }), {
      message: /exited with 1 before listening:\nCannot start: JWT_SECRET is 31 bytes, it must be at least 32\n$/,
    });
    const server = await launchMinimalServer({ JWT_SECRET: 'x'.repeat(32) });
    await server.stop();
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} closes the server and exits 0`, async () => {
      const server = await launchMinimalServer();
      assert.equal((await send(`${server.origin}/`, server.ca, 'GET')).status, 200);
      assert.equal(await server.stop(signal), 0, server.output());
    });
  }
});
