/**
 * A journal write that fails at write or fsync (a full disk, an I/O error): the request gets 503 with a
 * clear message and Retry-After, the files stay byte for byte as they were (what a failed write left is
 * cut off again), nothing that was not stored is acknowledged, and the server works again once the
 * fault clears. (Every other step, opening a journal and the snapshot's steps, is failed one by one in
 * test/lib/storage/journal.test.ts.)
 *
 * We run as root in CI, where chmod cannot make a folder unwritable, so the faults are injected
 * through the stores' `FileSystem`.
 */
import assert from 'node:assert/strict';
import { hash } from '@node-rs/argon2';
import * as realFs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FileSystem } from '../../lib/storage/durable_file.ts';
import { keepAliveClient } from '../../scripts/support/https_client.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

type FaultPoint = 'write' | 'fsync';

/** The fault to raise next, on writes of one store's files; `undefined` when the disk is healthy. */
let fault: { at: FaultPoint; file: 'users' | 'sessions-v3'; code: string } | undefined;

/** Runs `request` with `armed` raised on the disk, and the disk healthy again after, whatever happens. */
async function withFault<T>(armed: NonNullable<typeof fault>, request: () => Promise<T>): Promise<T> {
  fault = armed;
  try {
    return await request();
  } finally {
    fault = undefined;
  }
}

function failure(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

/** Whether `file` is one of the files (journal, snapshot) of the store the fault is aimed at. */
function targeted(file: unknown, at: FaultPoint): boolean {
  return fault?.at === at && path.basename(String(file)).startsWith(`${fault.file}.`);
}

/** The real file system, except where a fault is armed. */
const faultyFs: FileSystem = {
  ...realFs,
  // The fault is checked at each call, not at open: a journal file stays open from one write to the next.
  open: (async (file: string, flags?: string, mode?: number) => {
    const handle = await realFs.open(file, flags, mode);
    return new Proxy(handle, {
      get(target, property) {
        if (property === 'write' && targeted(file, 'write')) {
          // Half the bytes reach the file before the disk fills up, as they would.
          return async (data: Uint8Array, offset = 0, length = data.byteLength - offset) => {
            await target.write(data, offset, length >> 1);
            throw failure(fault!.code, 'write');
          };
        }
        if ((property === 'sync' || property === 'datasync') && targeted(file, 'fsync')) {
          return async () => Promise.reject(failure(fault!.code, 'fsync'));
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }) as FileSystem['open'],
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

/** Every file of one store (its snapshot, if any, and its journals), as they are on disk. */
async function readState(store: 'users' | 'sessions-v3'): Promise<string> {
  const names = (await realFs.readdir(server.dataDir)).filter((name) => name.startsWith(`${store}.`)).sort();
  assert.ok(names.length > 0, `no ${store} files`);
  const contents = await Promise.all(names.map((name) => realFs.readFile(path.join(server.dataDir, name), 'utf8')));
  return names.map((name, i) => `${name}:\n${contents[i]}`).join('\n');
}
const tempFiles = async () => (await realFs.readdir(server.dataDir)).filter((name) => name.endsWith('.tmp'));

function assertUnavailable(response: { status: number; headers: Record<string, unknown>; body: string }): void {
  assert.equal(response.status, 503);
  assert.match(String(response.headers['retry-after']), /^[1-9]\d*$/);
  assert.deepEqual(JSON.parse(response.body), { error: 'Cannot save right now: storage is unavailable, try again shortly' });
  assert.equal(response.headers['set-cookie'], undefined);
}

describe('a sign-up whose users journal write fails', () => {
  const cases: [FaultPoint, string, string][] = [
    ['write', 'ENOSPC', 'a full disk'],
    ['fsync', 'EIO', 'an I/O error on fsync'],
  ];

  for (const [at, code, what] of cases) {
    test(`fails at ${at} (${what}): 503, the old file whole, the user not created, then works again`, async () => {
      const username = `bob-${at}`;
      const before = await readState('users');

      assertUnavailable(await withFault({ at, file: 'users', code }, () => client.send('POST', '/signup', FORM, credentials(username))));

      assert.equal(await readState('users'), before);
      assert.deepEqual(await tempFiles(), []);
      assert.equal((await client.send('POST', '/login', FORM, credentials(username))).status, 401, 'not acknowledged, not stored');

      assert.equal((await client.send('POST', '/signup', FORM, credentials(username))).status, 303, 'the name is free and the disk works again');
      assert.equal((await client.send('POST', '/login', FORM, credentials(username))).status, 303);
    });
  }
});

test('a login whose sessions journal write fails gets 503 and no cookie, then works again', async () => {
  const before = await readState('sessions-v3');
  assertUnavailable(await withFault({ at: 'fsync', file: 'sessions-v3', code: 'EIO' }, () => client.send('POST', '/login', FORM, credentials('alice'))));
  assert.equal(await readState('sessions-v3'), before);
  assert.equal((await client.send('POST', '/login', FORM, credentials('alice'))).status, 303);
});

test('a sign-up whose sessions journal write fails says the account was made, and the new user can sign in', async () => {
  const response = await withFault({ at: 'write', file: 'sessions-v3', code: 'EIO' }, () => client.send('POST', '/signup', FORM, credentials('half-way')));
  assert.equal(response.status, 503);
  assert.deepEqual(JSON.parse(response.body), { error: 'Your account was created, but signing you in failed: sign in shortly' });
  assert.equal(response.headers['set-cookie'], undefined);
  assert.equal((await client.send('POST', '/login', FORM, credentials('half-way'))).status, 303);
});

test('a refresh whose sessions journal write fails is a plain 503 page, not "sign in again"', async () => {
  const browser = server.browser();
  await browser.navigate('POST', '/login', { form: { username: 'alice', password: PASSWORD } });
  const response = await withFault({ at: 'fsync', file: 'sessions-v3', code: 'EIO' }, () => browser.request('GET', '/session/refresh?next=/order'));
  assert.equal(response.status, 503);
  assert.match(response.body, /<h1>503 Service Unavailable<\/h1>/);
  assert.doesNotMatch(response.body, /Please sign in/);
  assert.equal((await browser.navigate('GET', '/session/refresh?next=/order')).status, 200, 'the session survived the failed write');
});

test('a correct login whose hash upgrade cannot be written still signs in; the upgrade is tried again at the next login', async () => {
  // A user whose hash was made under weaker parameters than the server's, so a login upgrades it.
  const weak = await hash(PASSWORD, { memoryCost: 64, timeCost: 1, parallelism: 1 });
  const user = await server.running.services.users.add('old-hash', weak);
  const response = await withFault({ at: 'fsync', file: 'users', code: 'EIO' }, () => client.send('POST', '/login', FORM, credentials('old-hash')));
  assert.equal(response.status, 303, 'the password was right: the failed upgrade is not the user\'s problem');
  assert.ok(response.headers['set-cookie']);
  assert.equal((await server.running.services.users.findById(user.id))?.passwordHash, weak, 'the old hash stays');

  assert.equal((await client.send('POST', '/login', FORM, credentials('old-hash'))).status, 303);
  assert.notEqual((await server.running.services.users.findById(user.id))?.passwordHash, weak, 'upgraded at the next login');
});
