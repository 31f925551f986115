/**
 * Hostile connections, the same limits under Node and Deno: slow clients are cut off at the promised
 * timeouts, a client that pipelines requests and never reads its answers is cut off before it costs
 * the server much memory (while one that reads keeps its connection), and the number of open
 * connections stays under the descriptor limit, so the server always accepts again.
 *
 * The servers here run `startServer` with timeouts and caps small enough to watch them bite
 * (`launchWithOptions` in test/helpers/server.ts), under the runtime the suite runs on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { openTls, parseResponse, readUntilClosed } from '../../scripts/support/wire.ts';
import { PROJECT_ROOT, TEST_SECRET, launchServer, launchWithOptions, makeTempDir, RUNTIME, type LaunchedServer } from '../helpers/server.ts';
import { killOnExit } from '../../scripts/support/servers.ts';

/** A limit that never bites would leave these tests waiting: fail them instead. */
const UNLESS_CUT_OFF = { timeout: 20_000 };

/** Resolves once `socket` is closed, by either side. */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

describe(`timeouts (${RUNTIME})`, () => {
  let server: LaunchedServer;
  let host: string;
  before(async () => {
    server = await launchWithOptions({ timeouts: { headersMs: 1_000, requestMs: 2_000, keepAliveMs: 1_000, checkIntervalMs: 100 } });
    host = new URL(server.origin).host;
  });
  after(() => server.stop());

  /** Writes `start`, then `drip` every 100 ms for as long as the server keeps the connection. */
  function trickle(socket: TLSSocket, start: string, drip: string): void {
    socket.write(start);
    const timer = setInterval(() => socket.writable && socket.write(drip), 100);
    socket.once('close', () => clearInterval(timer));
  }

  test('a client trickling its headers gets 408 at the headers timeout', UNLESS_CUT_OFF, async () => {
    const socket = await openTls(server);
    const answer = readUntilClosed(socket);
    trickle(socket, `GET / HTTP/1.1\r\nHost: ${host}\r\n`, 'X-Slow: 1\r\n');
    assert.equal(parseResponse(await answer).status, 408);
  });

  test('a client trickling a body the route reads gets 408 at the request timeout', UNLESS_CUT_OFF, async () => {
    const socket = await openTls(server);
    const answer = readUntilClosed(socket);
    trickle(socket, `POST /signup HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n`, ' ');
    assert.equal(parseResponse(await answer).status, 408);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', UNLESS_CUT_OFF, async () => {
    const socket = await openTls(server);
    const answer = readUntilClosed(socket);
    socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.equal(parseResponse(await answer).status, 200);
  });
});

/** The resident memory of process `pid`, in MiB. */
function residentMiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

describe(`pipelining (${RUNTIME})`, () => {
  let server: LaunchedServer;
  let host: string;
  before(async () => {
    server = await launchServer();
    host = new URL(server.origin).host;
  });
  after(() => server.stop());

  test('a client pipelining 50,000 requests and never reading the answers is cut off, having cost at most 64 MiB', { timeout: 60_000 }, async () => {
    // Warm: the first requests load what the server loads lazily, which is not the client's doing.
    for (let i = 0; i < 20; i++) await send(server.origin, server.ca, 'GET');
    const before = residentMiB(server.child.pid!);
    const socket = await openTls(server); // no 'data' listener: nothing the server sends is read
    socket.on('error', () => {}); // the reset when the server hangs up
    const request = `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    socket.write(request.repeat(50_000));
    // Before: Deno read them all and queued every answer, 66 -> 456 MiB. The most it holds is sampled
    // while the connection lasts and for two seconds after (what it had read is still being handled).
    let most = before;
    const sample = setInterval(() => (most = Math.max(most, residentMiB(server.child.pid!))), 50);
    try {
      await closed(socket);
      await sleep(2_000);
    } finally {
      clearInterval(sample);
    }
    assert.ok(most - before <= 64, `the server grew from ${before.toFixed(0)} to ${most.toFixed(0)} MiB`);
    assert.equal((await send(server.origin, server.ca, 'GET')).status, 200);
  });

  test('250 requests one after another on one keep-alive connection are all answered on it', { timeout: 60_000 }, async () => {
    // Before: the 100th request on a connection was answered with `Connection: close`.
    const { hostname, port } = new URL(server.origin);
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: server.ca });
    const sockets = new Set<unknown>();
    try {
      for (let i = 0; i < 250; i++) {
        const status = await new Promise<number | undefined>((resolve, reject) => {
          const sent = request({ host: hostname, port: Number(port), path: '/', agent }, (response) => {
            response.resume();
            response.once('end', () => resolve(response.statusCode));
          });
          sent.once('socket', (socket) => sockets.add(socket));
          sent.once('error', reject);
          sent.end();
        });
        assert.equal(status, 200);
      }
    } finally {
      agent.destroy();
    }
    assert.equal(sockets.size, 1);
  });

  test('nothing above made the server log an error', () => {
    assert.doesNotMatch(server.output(), /error:/);
  });
});

describe(`the connection cap (${RUNTIME})`, () => {
  const CAP = 5;
  let server: LaunchedServer;
  before(async () => {
    server = await launchWithOptions({ maxConnections: CAP });
  });
  after(() => server.stop());

  test(`with ${CAP} connections open, the next ones are closed at once, and served again once some end`, UNLESS_CUT_OFF, async () => {
    const held = await Promise.all(Array.from({ length: CAP }, () => openTls(server)));
    try {
      const excess = await Promise.allSettled(Array.from({ length: 20 }, () => openTls(server)));
      assert.deepEqual(excess.map((result) => result.status), Array(20).fill('rejected'));
    } finally {
      for (const socket of held) socket.destroy();
    }
    await Promise.all(held.map(closed));
    await waitFor(async () => (await send(server.origin, server.ca, 'GET').catch(() => ({ status: 0 }))).status === 200);
  });

  test('reaching the cap is logged once, not once per refused connection', () => {
    const lines = server.output().split('\n').filter((line) => line.includes('Connection cap reached'));
    assert.equal(lines.length, 1, server.output());
    assert.match(lines[0] ?? '', new RegExp(`${CAP} connections are open`));
  });
});

describe(`the descriptor limit (${RUNTIME})`, () => {
  const DESCRIPTORS = 256;
  let root: string;
  let server: { origin: string; ca: string; output(): string; stop(): Promise<void> };
  before(async () => {
    root = await makeTempDir();
    // As an operator would start it in a shell with a low limit: under Deno through `npm run start:deno`,
    // whose launcher reads the limit that Deno may not, and passes the cap on.
    const start = RUNTIME === 'deno' ? 'exec npm run --silent start:deno' : `exec ${JSON.stringify(process.execPath)} --import tsx server.ts`;
    server = await launchInShell(`ulimit -n ${DESCRIPTORS}; ${start}`, root);
  });
  after(async () => {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test(`a flood of 300 plain TCP connections under \`ulimit -n ${DESCRIPTORS}\`, held then closed: the server accepts again`, UNLESS_CUT_OFF, async () => {
    const { hostname, port } = new URL(server.origin);
    const sockets = await Promise.all(
      Array.from({ length: 300 }, () => {
        const socket = connectTcp({ host: hostname, port: Number(port) });
        socket.on('error', () => {});
        return new Promise<Socket>((resolve) => socket.once('connect', () => resolve(socket)).once('error', () => resolve(socket)));
      }),
    );
    await sleep(1_000);
    for (const socket of sockets) socket.destroy();
    // Before: Deno met EMFILE on accept() once (its cap of 900 was above the limit) and never accepted again.
    await waitFor(async () => (await send(server.origin, server.ca, 'GET').catch(() => ({ status: 0 }))).status === 200);
    assert.match(server.output(), /Connection cap reached: 64 connections are open/);
  });
});

/** `script` run by bash (it ends by exec-ing the server), with the tests' settings; ready once it listens. */
async function launchInShell(script: string, root: string): Promise<{ origin: string; ca: string; output(): string; stop(): Promise<void> }> {
  const env = { ...process.env, HOST: '127.0.0.1', PORT: '0', JWT_SECRET: TEST_SECRET, RATE_LIMIT: '0', DATA_DIR: path.join(root, 'data'), TLS_CERT: path.join(root, 'cert.pem'), TLS_KEY: path.join(root, 'key.pem') };
  const child = killOnExit(spawn('bash', ['-c', script], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  let origin: string | undefined;
  while ((origin = /Listening on (https:\/\/\S+)/.exec(output)?.[1]) === undefined) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${output}`);
    await sleep(20);
  }
  return {
    origin,
    ca: await readFile(env.TLS_CERT, 'utf8'),
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` every 100 ms until it holds, for at most `ms`: a server that never answers again must
 * fail the test, not keep it polling (and the test file running) for ever.
 */
async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await Promise.race([check(), sleep(deadline - Date.now()).then(() => false)])) return;
    await sleep(100);
  }
  throw new Error(`Cannot get an answer: the server did not answer within ${ms} ms`);
}
