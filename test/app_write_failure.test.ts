import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createRequestListener, type Route } from '../lib/app.ts';
import type { Logger } from '../lib/log.ts';
import { Router } from '../lib/router.ts';

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path }, (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0))).on('error', reject).end();
  });
}

test('a response Node refuses to write costs that request, not the process', async () => {
  const errors: string[] = [];
  const log: Logger = { request() {}, info() {}, warn() {}, error: (message) => errors.push(message) };
  const router = new Router<Route>()
    .add('GET', '/split', { handle: () => ({ status: 303, headers: { Location: '/x\r\nSet-Cookie: a=b' }, body: '' }) })
    .add('GET', '/fine', { handle: () => ({ status: 204, headers: {}, body: '' }) });
  const server = createServer(createRequestListener(router, log));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await assert.rejects(get(port, '/split'), { code: 'ECONNRESET' });
    assert.deepEqual(errors, ['Cannot write the response to a GET request']);
    assert.equal(await get(port, '/fine'), 204);
  } finally {
    server.close();
  }
});
