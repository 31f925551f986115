/**
 * A write that fails at open, write, fsync or rename (a read-only folder, a full disk, an I/O error):
 * the request gets 503 with a clear message and Retry-After, the previous file stays whole byte for
 * byte, nothing that was not stored is acknowledged, and the server works again once the fault clears.
 *
 * We run as root in CI, where chmod cannot make a folder unwritable, so the faults are injected
 * through the stores' `FileSystem`.
 */
import assert from 'node:assert/strict';
import * as realFs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FileSystem } from '../../lib/storage/durable_file.ts';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

type FaultPoint = 'open' | 'write' | 'fsync' | 'rename';

/** The fault to raise next, on writes of one state file; `undefined` when the disk is healthy. */
let fault: { at: FaultPoint; file: 'users.json' | 'sessions.json'; code: string } | undefined;

function failure(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

/** Whether `file` is a temp file of the state file the fault is aimed at. */
function targeted(file: unknown, at: FaultPoint): boolean {
  return fault?.at === at && path.basename(String(file)).startsWith(`${fault.file}.`);
}

/** The real file system, except where a fault is armed. */
const faultyFs: FileSystem = {
  ...realFs,
  open: (async (file: string, flags?: string, mode?: number) => {
    if (targeted(file, 'open')) throw failure(fault!.code, 'open');
    const handle = await realFs.open(file, flags, mode);
    if (!targeted(file, 'write') && !targeted(file, 'fsync')) return handle;
    const failAt = fault!;
    return new Proxy(handle, {
      get(target, property) {
        const writes = property === 'writeFile' || property === 'writev'; // a string, or pre-encoded chunks
        if (writes && failAt.at === 'write') return async () => Promise.reject(failure(failAt.code, 'write'));
        if (property === 'sync' && failAt.at === 'fsync') return async () => Promise.reject(failure(failAt.code, 'fsync'));
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }) as FileSystem['open'],
  rename: async (from, to) => {
    if (targeted(from, 'rename')) throw failure(fault!.code, 'rename');
    return realFs.rename(from, to);
  },
};

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
const credentials = (username: string) => new URLSearchParams({ username, password: PASSWORD }).toString();

let server: InProcessServer;
let client: ReturnType<typeof keepAliveClient>;

before(async () => {
  server = await startInProcess({ fs: faultyFs });
  client = keepAliveClient(server);
  assert.equal((await client.send('POST', '/signup', FORM, credentials('alice'))).status, 303);
});

after(async () => {
  client.close();
  await server.close();
});

const readState = (file: string) => realFs.readFile(path.join(server.dataDir, file), 'utf8');
const tempFiles = async () => (await realFs.readdir(server.dataDir)).filter((name) => name.endsWith('.tmp'));

function assertUnavailable(response: { status: number; headers: Record<string, unknown>; body: string }): void {
  assert.equal(response.status, 503);
  assert.match(String(response.headers['retry-after']), /^[1-9]\d*$/);
  assert.deepEqual(JSON.parse(response.body), { error: 'Cannot save right now: storage is unavailable, try again shortly' });
  assert.equal(response.headers['set-cookie'], undefined);
}

describe('a sign-up whose users.json write fails', () => {
  const cases: [FaultPoint, string, string][] = [
    ['open', 'EROFS', 'a read-only folder'],
    ['write', 'ENOSPC', 'a full disk'],
    ['fsync', 'EIO', 'an I/O error on fsync'],
    ['rename', 'EACCES', 'a refused rename'],
  ];

  for (const [at, code, what] of cases) {
    test(`fails at ${at} (${what}): 503, the old file whole, the user not created, then works again`, async () => {
      const username = `bob-${at}`;
      const before = await readState('users.json');

      fault = { at, file: 'users.json', code };
      try {
        assertUnavailable(await client.send('POST', '/signup', FORM, credentials(username)));
      } finally {
        fault = undefined;
      }

      assert.equal(await readState('users.json'), before);
      assert.deepEqual(await tempFiles(), []);
      assert.equal((await client.send('POST', '/login', FORM, credentials(username))).status, 401, 'not acknowledged, not stored');

      assert.equal((await client.send('POST', '/signup', FORM, credentials(username))).status, 303, 'the name is free and the disk works again');
      assert.equal((await client.send('POST', '/login', FORM, credentials(username))).status, 303);
    });
  }
});

test('a login whose sessions.json write fails gets 503 and no cookie, then works again', async () => {
  const before = await readState('sessions.json');
  fault = { at: 'fsync', file: 'sessions.json', code: 'EIO' };
  try {
    assertUnavailable(await client.send('POST', '/login', FORM, credentials('alice')));
  } finally {
    fault = undefined;
  }
  assert.equal(await readState('sessions.json'), before);
  assert.equal((await client.send('POST', '/login', FORM, credentials('alice'))).status, 303);
});

test('a sign-up whose sessions.json write fails says the account was made, and the new user can sign in', async () => {
  fault = { at: 'rename', file: 'sessions.json', code: 'EIO' };
  let response;
  try {
    response = await client.send('POST', '/signup', FORM, credentials('half-way'));
  } finally {
    fault = undefined;
  }
  assert.equal(response.status, 503);
  assert.deepEqual(JSON.parse(response.body), { error: 'Your account was created, but signing you in failed: sign in shortly' });
  assert.equal(response.headers['set-cookie'], undefined);
  assert.equal((await client.send('POST', '/login', FORM, credentials('half-way'))).status, 303);
});

test('a refresh whose sessions.json write fails is a plain 503 page, not "sign in again"', async () => {
  const browser = server.browser();
  await browser.navigate('POST', '/login', { form: { username: 'alice', password: PASSWORD } });
  fault = { at: 'fsync', file: 'sessions.json', code: 'EIO' };
  let response;
  try {
    response = await browser.request('GET', '/refresh?next=/order');
  } finally {
    fault = undefined;
  }
  assert.equal(response.status, 503);
  assert.match(response.body, /<h1>503 Service Unavailable<\/h1>/);
  assert.doesNotMatch(response.body, /Please sign in/);
  assert.equal((await browser.navigate('GET', '/refresh?next=/order')).status, 200, 'the session survived the failed write');
});
