import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import { FALLBACK_MAX_CONNECTIONS, LISTEN_BACKLOG, capConnections, connectionCap, descriptorLimit } from '../../../lib/defences/connection_limits.ts';
import { silentLogger } from '../../../lib/support/log.ts';

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

describe('capConnections()', () => {
  /** A server that only counts: 'connection' events by hand, and each socket closed by hand. */
  const fakeServer = () => Object.assign(new EventEmitter(), { maxConnections: 0 }) as unknown as Server & EventEmitter;
  const open = (server: EventEmitter) => {
    const socket = new EventEmitter();
    server.emit('connection', socket);
    return () => socket.emit('close');
  };

  test('sets the runtime cap, and says once per 10 s when it is reached, counting connections that closed', () => {
    const server = fakeServer();
    const warnings: string[] = [];
    let now = 0;
    capConnections(server, 2, { ...silentLogger, warn: (message) => warnings.push(message) }, () => now);
    assert.equal(server.maxConnections, 2);
    const closeFirst = open(server);
    assert.deepEqual(warnings, [], 'one open of two: nothing to say');
    closeFirst();
    open(server);
    assert.deepEqual(warnings, [], 'the first closed: still one open');
    open(server);
    assert.deepEqual(warnings, ['Connection cap reached: 2 connections are open, new ones are closed at once until some end']);
    now += 9_999;
    open(server);
    assert.equal(warnings.length, 1, 'not again within 10 s');
    now += 1;
    open(server);
    assert.equal(warnings.length, 2, '10 s later, it says so again');
  });
});
