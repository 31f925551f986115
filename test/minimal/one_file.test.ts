/**
 * The minimal server's own promise: one file to read in one sitting, with nothing imported but Node's
 * modules, the JWT library, the password hash and the certificate maker.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { MINIMAL_SERVER } from '../helpers/minimal_server.ts';

const source = await readFile(MINIMAL_SERVER, 'utf8');

test('lib/minimal/ is one file of at most 200 lines', async () => {
  assert.deepEqual(await readdir(new URL('../../lib/minimal/', import.meta.url)), ['server.ts']);
  const lines = source.split('\n').length - (source.endsWith('\n') ? 1 : 0);
  assert.ok(lines <= 200, `lib/minimal/server.ts has ${lines} lines`);
});

test('imports only node: modules, jose, @node-rs/argon2 and selfsigned', () => {
  const specifiers = [...source.matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((match) => match[1]!);
  assert.ok(specifiers.length > 0);
  for (const specifier of specifiers) assert.match(specifier, /^(node:[a-z/]+|jose|@node-rs\/argon2|selfsigned)$/, specifier);
});
