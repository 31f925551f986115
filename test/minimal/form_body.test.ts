/**
 * How the minimal server reads the sign-up form: only application/x-www-form-urlencoded, with a
 * Content-Length, and at most 16 KiB of it, refused before a byte of an oversized body is read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawRequest } from '../../scripts/support/wire.ts';
import { send } from '../helpers/https_client.ts';
import { launchMinimalServer, minimalUsers } from '../helpers/minimal_server.ts';
import { RUNTIME, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchMinimalServer();
});
after(async () => {
  await server.stop();
});

const LIMIT = 16 * 1024;
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
const postBody = (body: string, headers: Record<string, string> = FORM_TYPE) => send(`${server.origin}/signup`, server.ca, 'POST', { body, headers });

/** A valid sign-up form for `username`, padded with an ignored field to exactly `bytes` bytes. */
function formOfSize(username: string, bytes: number): string {
  const form = `username=${username}&password=correct+horse+battery&pad=`;
  return form + 'x'.repeat(bytes - form.length);
}

describe(`the sign-up form's body (${RUNTIME})`, () => {
  test('a form of exactly 16 KiB is accepted', async () => {
    assert.equal((await postBody(formOfSize('atthelimit', LIMIT))).status, 303);
  });

  test('a form one byte over 16 KiB is refused with 413 and Connection: close, and nothing is stored', async () => {
    const response = await postBody(formOfSize('overthelimit', LIMIT + 1));
    assert.equal(response.status, 413);
    assert.equal(response.headers.connection, 'close');
    assert.deepEqual(response.setCookies, []);
    assert.ok(!(await minimalUsers(server.dataDir)).some((user) => user.username === 'overthelimit'));
  });

  test('a Content-Length of a megabyte is refused with 413 before the body is sent', async () => {
    const host = new URL(server.origin).host;
    const response = await rawRequest(server, `POST /signup HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nusername=`);
    assert.equal(response.status, 413);
    assert.deepEqual(response.headers.get('connection'), ['close']);
  });

  test('a chunked form, whose size no header bounds, is refused with 411', async () => {
    const host = new URL(server.origin).host;
    const body = 'username=chunky&password=correct+horse+battery';
    const request = `POST /signup HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    assert.equal((await rawRequest(server, request)).status, 411);
  });

  test('a body of another type is refused with 415; a charset parameter on a form is fine', async () => {
    const json = await postBody(JSON.stringify({ username: 'jason', password: 'correct horse battery' }), { 'content-type': 'application/json' });
    assert.equal(json.status, 415);
    assert.equal((await postBody('username=plain&password=correct+horse+battery', { 'content-type': 'text/plain' })).status, 415);
    assert.equal((await postBody('username=charset&password=correct+horse+battery', { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' })).status, 303);
  });
});
