import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:net';
import { Duplex } from 'node:stream';
import { FALLBACK_MAX_CONNECTIONS, MAX_REQUESTS_PER_CONNECTION, capConnections, defaultMaxConnections, isLastRequest, limitRequestsPerConnection } from '../../../lib/defences/connection_limits.ts';
import type { Request } from '../../../lib/http/listener.ts';
import { silentLogger } from '../../../lib/support/log.ts';

describe('defaultMaxConnections()', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'limits-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const limitsFile = async (openFiles: string) => {
    const file = path.join(dir, `limits-${openFiles.replace(/\s+/g, '-')}`);
    await writeFile(file, `Limit                     Soft Limit           Hard Limit           Units\nMax processes             63455                63455                processes\nMax open files            ${openFiles}                files\n`);
    return file;
  };

  test('keeps 64 descriptors of the soft limit for everything but connections', async () => {
    assert.equal(defaultMaxConnections(await limitsFile('256                  4096')), 192);
  });

  test('stops at 10,000 where the limit is higher or unlimited: memory runs out first', async () => {
    assert.equal(defaultMaxConnections(await limitsFile('1048576              1048576')), 10_000);
    assert.equal(defaultMaxConnections(await limitsFile('unlimited            unlimited')), 10_000);
  });

  test(`falls back to ${FALLBACK_MAX_CONNECTIONS} where the limit cannot be read (Deno, not Linux), or the file has no such line`, async () => {
    assert.equal(FALLBACK_MAX_CONNECTIONS, 900);
    assert.equal(defaultMaxConnections(path.join(dir, 'missing')), FALLBACK_MAX_CONNECTIONS);
    const noLine = path.join(dir, 'no-line');
    await writeFile(noLine, 'Limit  Soft Limit  Hard Limit  Units\nMax processes  63455  63455  processes\n');
    assert.equal(defaultMaxConnections(noLine), FALLBACK_MAX_CONNECTIONS);
  });

  test("reads this process's own limits by default, from the line that starts with the name", async () => {
    assert.equal(defaultMaxConnections(), defaultMaxConnections('/proc/self/limits'));
    assert.notEqual(defaultMaxConnections(), FALLBACK_MAX_CONNECTIONS, 'read, not the fallback (Linux)');
    const mentioned = path.join(dir, 'mentioned');
    await writeFile(mentioned, 'Limit  Soft Limit  Hard Limit  Units\nNote: Max open files 1\nMax open files            256                  4096                 files\n');
    assert.equal(defaultMaxConnections(mentioned), 192);
  });

  test('allows at least one connection, however low the limit', async () => {
    assert.equal(defaultMaxConnections(await limitsFile('64                   64')), 1);
    assert.equal(defaultMaxConnections(await limitsFile('65                   65')), 1);
    assert.equal(defaultMaxConnections(await limitsFile('66                   66')), 2);
    assert.equal(defaultMaxConnections(await limitsFile('10064                10064')), 10_000);
    assert.equal(defaultMaxConnections(await limitsFile('10065                10065')), 10_000);
  });
});

test(`isLastRequest() is true from the ${MAX_REQUESTS_PER_CONNECTION}th request on a connection, for each connection apart`, () => {
  const [one, two] = [new Duplex(), new Duplex()];
  const answers = Array.from({ length: MAX_REQUESTS_PER_CONNECTION + 1 }, () => isLastRequest(one));
  assert.deepEqual(answers.map((last, i) => [i + 1, last]).filter(([, last]) => last), [[MAX_REQUESTS_PER_CONNECTION, true], [MAX_REQUESTS_PER_CONNECTION + 1, true]]);
  assert.equal(isLastRequest(two), false);
});

test('the hook answers the last request a connection may make with Connection: close, keeping the other headers', () => {
  const socket = new Duplex();
  const request = { req: { socket } } as unknown as Request;
  const reply = { status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'hi' };
  for (let i = 1; i < MAX_REQUESTS_PER_CONNECTION; i++) assert.equal(limitRequestsPerConnection(request, reply), reply, `request ${i}`);
  assert.deepEqual(limitRequestsPerConnection(request, reply), { ...reply, headers: { 'Content-Type': 'text/plain', Connection: 'close' } });
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
