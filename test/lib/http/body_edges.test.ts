/**
 * Body reading at its edges: the header spellings a client may send, the exact field limit of a JSON
 * body, the empty object, a missing field, and the cause kept on every 400 for the log.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { MAX_FIELDS, parseFields, parseFormFields, parseJsonFields, parseMediaType, readFields, requireField } from '../../../lib/http/body.ts';
import { statusOf } from '../../../lib/http/error_reply.ts';


/** A request stand-in: `body` as a stream, with `headers`. */
function fakeRequest(headers: Record<string, string>, body: string): IncomingMessage {
  return Object.assign(Readable.from([Buffer.from(body)]), { headers }) as unknown as IncomingMessage;
}

describe('the Content-Type and Content-Encoding a client may spell differently', () => {
  test('accepts a media type with spaces around it and an upper-case, quoted charset', () => {
    assert.equal(parseMediaType(' Application/JSON ; charset="UTF-8"'), 'application/json');
  });

  test('ignores parameters other than charset', () => {
    assert.equal(parseMediaType('application/x-www-form-urlencoded; boundary=x; foo=bar'), 'application/x-www-form-urlencoded');
  });

  test('refuses a charset with a quote inside it rather than around it', () => {
    for (const header of ['application/json; charset=utf-"8', 'application/json; charset=utf"-8']) {
      assert.throws(() => parseMediaType(header), { code: 'ERR_UNSUPPORTED_MEDIA_TYPE' }, header);
    }
  });

  test('accepts Content-Encoding " identity " with spaces around it', async () => {
    const req = fakeRequest({ 'content-type': 'application/json', 'content-encoding': ' identity ' }, '{"a":"b"}');
    assert.deepEqual({ ...(await readFields(req)) }, { a: 'b' });
  });
});

describe('JSON bodies at their limits', () => {
  test(`accepts exactly ${MAX_FIELDS} fields in a JSON object`, () => {
    const body = JSON.stringify(Object.fromEntries(Array.from({ length: MAX_FIELDS }, (_, i) => [`f${i}`, 'x'])));
    assert.equal(Object.keys(parseJsonFields(body)).length, MAX_FIELDS);
  });

  test('accepts an empty object as no fields, not as an error', () => {
    assert.deepEqual({ ...parseJsonFields('{}') }, {});
    assert.deepEqual({ ...parseJsonFields(' { } ') }, {});
  });
});

describe('requireField()', () => {
  test('returns the field, an empty one included', () => {
    const fields = parseFormFields('username=alice&password=');
    assert.equal(requireField(fields, 'username'), 'alice');
    assert.equal(requireField(fields, 'password'), '');
  });

  test('answers 400 naming a missing field', () => {
    assert.throws(() => requireField(parseFormFields('username=alice'), 'password'), { code: 'ERR_INVALID_INPUT', message: 'Missing field "password"' });
  });
});

describe('every 400 about a malformed body keeps what went wrong as its cause, for the log', () => {
  const cases: [description: string, parse: () => unknown][] = [
    ['invalid UTF-8', () => parseFields('application/json', new Uint8Array([0xff]))],
    ['a broken percent-escape', () => parseFormFields('a=%zz')],
    ['invalid JSON', () => parseJsonFields('{')],
  ];
  for (const [description, parse] of cases) {
    test(`${description}: a 400 whose cause is the decoder's error`, () => {
      assert.throws(parse, (error: unknown) => statusOf(error) === 400 && error instanceof Error && (error as Error).cause instanceof Error);
    });
  }

  test('a body that ends early: a 400 whose cause is the stream error', async () => {
    const req = Object.assign(
      new Readable({
        read() {
          this.destroy(new Error('aborted'));
        },
      }),
      { headers: { 'content-type': 'application/json' } },
    ) as unknown as IncomingMessage;
    await assert.rejects(readFields(req), (error: unknown) => statusOf(error) === 400 && error instanceof Error && (error as Error).cause instanceof Error);
  });
});

