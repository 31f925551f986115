import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import { FALLBACK_MAX_CONNECTIONS, LISTEN_BACKLOG, MAX_UNREAD_ANSWERS, capConnections, connectionCap, descriptorLimit, limitUnreadAnswers } from '../../../lib/defences/connection_limits.ts';
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

describe('limitUnreadAnswers()', () => {
  /** A server that only emits: each request on `socket`, its answer finished by hand. */
  function fakeServer(max: number) {
    const server = new EventEmitter() as unknown as Server & EventEmitter;
    limitUnreadAnswers(server, max);
    return {
      request(socket: { destroyed: boolean; destroy(): void }) {
        const res = new EventEmitter();
        server.emit('request', { socket }, res);
        return () => res.emit('finish');
      },
    };
  }
  const socket = () => ({ destroyed: false, destroy() { this.destroyed = true; } });

  test(`closes a connection once more than ${MAX_UNREAD_ANSWERS} answers wait for its client, by default`, () => {
    const server = fakeServer(MAX_UNREAD_ANSWERS);
    const flooding = socket();
    for (let i = 0; i < MAX_UNREAD_ANSWERS; i++) server.request(flooding);
    assert.equal(flooding.destroyed, false, `${MAX_UNREAD_ANSWERS} unread answers are allowed`);
    server.request(flooding);
    assert.equal(flooding.destroyed, true, 'one more closes it');
  });

  test('counts each connection apart, and an answer the client has taken no longer counts', () => {
    const server = fakeServer(2);
    const reading = socket();
    const other = socket();
    for (let i = 0; i < 10; i++) server.request(reading)(); // answered and taken each time: keep-alive
    server.request(other);
    server.request(other);
    assert.equal(reading.destroyed, false, 'a client that reads keeps its connection however many requests it makes');
    assert.equal(other.destroyed, false, 'two unread, the limit: still open');
    const done = server.request(reading);
    server.request(reading);
    assert.equal(reading.destroyed, false);
    done();
    server.request(reading);
    assert.equal(reading.destroyed, false, 'one of three was taken: two wait, the limit');
    server.request(reading);
    assert.equal(reading.destroyed, true, 'three wait: over the limit');
  });
});

describe('descriptorLimit() and connectionCap() at their edges', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'limits-edges-'));
  after(() => rm(dir, { recursive: true, force: true }));

  test('reads only the line that starts with "Max open files", from /proc/self/limits by default', async () => {
    const file = path.join(dir, 'mentioned');
    await writeFile(file, 'Limit  Soft Limit  Hard Limit  Units\nNote: Max open files 1\nMax open files            256                  4096                 files\n');
    assert.equal(descriptorLimit(file), 256);
    assert.equal(descriptorLimit(), descriptorLimit('/proc/self/limits'));
    assert.ok(Number.isFinite(descriptorLimit() ?? NaN) || descriptorLimit() === Infinity, 'read on Linux');
  });

  test('is undefined for a file with no such line', async () => {
    const file = path.join(dir, 'no-line');
    await writeFile(file, 'Limit  Soft Limit  Hard Limit  Units\nMax processes  63455  63455  processes\n');
    assert.equal(descriptorLimit(file), undefined);
  });

  test(`falls back to ${FALLBACK_MAX_CONNECTIONS}: Linux's usual 1,024 less the reserve and the backlog`, () => {
    assert.equal(FALLBACK_MAX_CONNECTIONS, 1_024 - 64 - LISTEN_BACKLOG);
  });

  test('says it lowered MAX_CONNECTIONS only when it did: the room itself is not lowered', () => {
    const room = 1024 - 64 - LISTEN_BACKLOG;
    assert.deepEqual(connectionCap(room, 1024), { max: room, limited: false });
    assert.deepEqual(connectionCap(room + 1, 1024), { max: room, limited: true });
    assert.deepEqual(connectionCap(undefined, 100), { max: 1, limited: false }, 'at least one connection, however low the limit');
  });
});
