import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { MAX_FIELDS, parseFields, type BodyMediaType, parseFormFields, parseJsonFields, parseMediaType, readBody, readFields, requireField } from '../../../lib/http/body.ts';
import { DomainError } from '../../../lib/errors.ts';
import { statusOf } from '../../../lib/http/error_reply.ts';
import { answerTo } from '../../helpers/answer_to.ts';

/** A request stand-in: a readable stream of `chunks` with `headers`, and a count of chunks read. */
function fakeRequest(headers: Record<string, string>, chunks: (string | Buffer)[] = []) {
  let read = 0;
  const stream = Readable.from(
    (function* () {
      for (const chunk of chunks) {
        read++;
        yield Buffer.from(chunk);
      }
    })(),
  );
  const req = Object.assign(stream, { headers }) as unknown as IncomingMessage;
  return { req, chunksRead: () => read };
}

/** Asserts that `run` throws (or rejects with) a domain error of `status` whose message matches. */
async function assertHttpError(run: () => unknown, status: number, message: RegExp): Promise<DomainError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof DomainError, `expected a DomainError, got ${String(caught)}`);
  assert.equal(statusOf(caught), status);
  assert.match(caught.message, message);
  return caught;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('parseMediaType()', () => {
  const accepted: [header: string, expected: string][] = [
    ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['application/json', 'application/json'],
    ['Application/JSON', 'application/json'],
    ['application/json; charset=utf-8', 'application/json'],
    ['application/json;charset=UTF-8', 'application/json'],
    ['application/x-www-form-urlencoded; charset="utf-8"', 'application/x-www-form-urlencoded'],
  ];
  for (const [header, expected] of accepted) {
    test(`accepts ${JSON.stringify(header)}`, () => {
      assert.equal(parseMediaType(header), expected);
    });
  }

  const refused: [header: string | undefined, message: RegExp][] = [
    [undefined, /Content-Type none is not supported/],
    ['', /Content-Type "" is not supported/],
    ['text/plain', /Content-Type "text\/plain" is not supported/],
    ['multipart/form-data; boundary=x', /is not supported/],
    ['application/json-patch+json', /is not supported/],
    ['application/json; charset=iso-8859-1', /charset "iso-8859-1" is not supported, send UTF-8/],
    ['application/x-www-form-urlencoded; charset=utf-16', /charset "utf-16" is not supported/],
  ];
  for (const [header, message] of refused) {
    test(`answers 415 to ${header === undefined ? 'no Content-Type' : JSON.stringify(header)}`, async () => {
      await assertHttpError(() => parseMediaType(header), 415, message);
    });
  }
});

describe('parseFormFields()', () => {
  const cases: [body: string, expected: Record<string, string>][] = [
    ['', {}],
    ['username=alice&password=secret', { username: 'alice', password: 'secret' }],
    ['a=one+two', { a: 'one two' }],
    ['a=%2B%26%3D%25', { a: '+&=%' }],
    ['a=caf%C3%A9', { a: 'café' }],
    ['na+me=v', { 'na me': 'v' }],
    ['flag', { flag: '' }],
    ['a=&b=', { a: '', b: '' }],
    ['a=1&&b=2&', { a: '1', b: '2' }],
    ['a=x=y', { a: 'x=y' }],
  ];
  for (const [body, expected] of cases) {
    test(`reads ${JSON.stringify(body)}`, () => {
      assert.deepEqual({ ...parseFormFields(body) }, expected);
    });
  }

  const refused: [description: string, body: string, message: RegExp][] = [
    ['a malformed percent-escape', 'a=%zz', /percent-escape is malformed or not UTF-8/],
    ['a truncated percent-escape', 'a=%4', /percent-escape is malformed/],
    ['a percent-escape that is not UTF-8', 'a=%FF', /percent-escape is malformed or not UTF-8/],
    ['a malformed escape in a name', '%zz=1', /percent-escape is malformed/],
    ['a repeated field', 'a=1&a=2', /field "a" is repeated/],
    ['a field repeated under another spelling', 'a=1&%61=2', /field "a" is repeated/],
    ['too many fields', Array.from({ length: MAX_FIELDS + 1 }, (_, i) => `f${i}=x`).join('&'), /more than 20 fields/],
  ];
  for (const [description, body, message] of refused) {
    test(`answers 400 to ${description}`, async () => {
      await assertHttpError(() => parseFormFields(body), 400, message);
    });
  }

  test(`accepts exactly ${MAX_FIELDS} fields`, () => {
    const body = Array.from({ length: MAX_FIELDS }, (_, i) => `f${i}=x`).join('&');
    assert.equal(Object.keys(parseFormFields(body)).length, MAX_FIELDS);
  });

  test('treats "__proto__" and "constructor" as plain field names', () => {
    const fields = parseFormFields('__proto__=x&constructor=y&polluted=z');
    assert.equal(Object.getPrototypeOf(fields), null);
    assert.equal(fields['__proto__'], 'x');
    assert.equal(fields['constructor'], 'y');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(({} as Record<string, unknown>)['x'], undefined);
  });
});

describe('parseJsonFields()', () => {
  test('reads an object of strings', () => {
    assert.deepEqual({ ...parseJsonFields('{"username":"alice","password":"p w"}') }, { username: 'alice', password: 'p w' });
  });

  test('reads keys and values holding quotes, backslashes and escapes', () => {
    const text = JSON.stringify({ 'a"b': 'c\\"d', e: '"e"', '\\': 'x' });
    assert.deepEqual({ ...parseJsonFields(text) }, { 'a"b': 'c\\"d', e: '"e"', '\\': 'x' });
    assert.deepEqual({ ...parseJsonFields(' { "a" : "a" , "b" : "a" } ') }, { a: 'a', b: 'a' });
  });

  test('treats "__proto__" and "constructor" as plain field names', () => {
    const fields = parseJsonFields('{"__proto__":"x","constructor":"y"}');
    assert.equal(Object.getPrototypeOf(fields), null);
    assert.equal(fields['__proto__'], 'x');
    assert.equal(fields['constructor'], 'y');
  });

  test('leaves Object.prototype alone when "__proto__" holds an object', async () => {
    await assertHttpError(() => parseJsonFields('{"__proto__":{"polluted":"yes"}}'), 400, /field "__proto__" must be a string/);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  const refused: [description: string, body: string, message: RegExp][] = [
    ['invalid JSON', '{"a":', /the body is not valid JSON/],
    ['an empty body', '', /the body is not valid JSON/],
    ['a string', '"alice"', /must be an object of string fields/],
    ['a number', '42', /must be an object of string fields/],
    ['null', 'null', /must be an object of string fields/],
    ['an array', '[{"a":"b"}]', /must be an object of string fields/],
    ['a number value', '{"username":"alice","password":12345678}', /field "password" must be a string/],
    ['a null value', '{"username":null}', /field "username" must be a string/],
    ['an array value', '{"username":["a","b"]}', /field "username" must be a string/],
    ['an object value', '{"username":{"$ne":""}}', /field "username" must be a string/],
    ['a repeated field', '{"username":"alice","username":"admin"}', /field "username" is repeated/],
    ['a field repeated under an escaped spelling', '{"a":"1","\\u0061":"2"}', /field "a" is repeated/],
    ['a repeated "__proto__"', '{"__proto__":"1","__proto__":"2"}', /field "__proto__" is repeated/],
    ['too many fields', JSON.stringify(Object.fromEntries(Array.from({ length: MAX_FIELDS + 1 }, (_, i) => [`f${i}`, 'x']))), /more than 20 fields/],
  ];
  for (const [description, body, message] of refused) {
    test(`answers 400 to ${description}`, async () => {
      await assertHttpError(() => parseJsonFields(body), 400, message);
    });
  }
});

describe('parseFields()', () => {
  test('decodes UTF-8 then parses by media type', () => {
    assert.deepEqual({ ...parseFields('application/json', utf8('{"a":"é"}')) }, { a: 'é' });
    assert.deepEqual({ ...parseFields('application/x-www-form-urlencoded', utf8('a=é')) }, { a: 'é' });
  });

  const notUtf8: [mediaType: BodyMediaType, body: Buffer][] = [
    ['application/json', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
    ['application/x-www-form-urlencoded', Buffer.concat([Buffer.from('a='), Buffer.from([0xff, 0xfe])])],
  ];
  for (const [mediaType, body] of notUtf8) {
    test(`answers 400 to bytes that are not UTF-8 in ${mediaType}`, async () => {
      await assertHttpError(() => parseFields(mediaType, body), 400, /not valid UTF-8/);
    });
  }
});

describe('readBody()', () => {
  test('collects every chunk of a body within the limit', async () => {
    const { req } = fakeRequest({}, ['user', 'name=', 'alice']);
    assert.equal((await readBody(req, 100)).toString(), 'username=alice');
  });

  test('accepts a body of exactly the limit', async () => {
    const { req } = fakeRequest({ 'content-length': '10' }, ['0123456789']);
    assert.equal((await readBody(req, 10)).length, 10);
  });

  test('answers 413 to a Content-Length over the limit without reading a byte', async () => {
    const { req, chunksRead } = fakeRequest({ 'content-length': '11' }, ['0123456789a']);
    const error = await assertHttpError(() => readBody(req, 10), 413, /larger than 10 bytes/);
    assert.equal(answerTo(error).headers['Connection'], 'close');
    assert.equal(chunksRead(), 0);
  });

  test('answers 413 as soon as a streamed body grows past the limit', async () => {
    const { req, chunksRead } = fakeRequest({}, ['012345', '678901', '234567', '890123']);
    const error = await assertHttpError(() => readBody(req, 10), 413, /larger than 10 bytes/);
    assert.equal(answerTo(error).headers['Connection'], 'close');
    assert.equal(chunksRead(), 2);
  });

  test('answers 411 to a chunked body without reading a byte, and closes the connection', async () => {
    const { req, chunksRead } = fakeRequest({ 'transfer-encoding': 'chunked' }, ['{}']);
    const error = await assertHttpError(() => readBody(req, 100), 411, /send it with a Content-Length/);
    assert.equal(answerTo(error).headers['Connection'], 'close');
    assert.equal(chunksRead(), 0);
  });

  test('answers 400 when the client goes away mid-body', async () => {
    const req = Object.assign(new Readable({ read() {} }), { headers: {} }) as unknown as IncomingMessage;
    req.push('part');
    setImmediate(() => req.destroy(new Error('aborted')));
    await assertHttpError(() => readBody(req, 100), 400, /the request ended early/);
  });
});

describe('readFields()', () => {
  test('reads a form body', async () => {
    const { req } = fakeRequest({ 'content-type': 'application/x-www-form-urlencoded' }, ['username=alice&password=x']);
    assert.deepEqual({ ...(await readFields(req)) }, { username: 'alice', password: 'x' });
  });

  test('accepts Content-Encoding: identity', async () => {
    const { req } = fakeRequest({ 'content-type': 'application/json', 'content-encoding': 'identity' }, ['{"a":"b"}']);
    assert.deepEqual({ ...(await readFields(req)) }, { a: 'b' });
  });

  for (const encoding of ['gzip', 'deflate', 'br', 'identity, gzip']) {
    test(`answers 415 to Content-Encoding: ${encoding} without reading a byte`, async () => {
      const { req, chunksRead } = fakeRequest({ 'content-type': 'application/json', 'content-encoding': encoding }, ['\x1f\x8b']);
      await assertHttpError(() => readFields(req), 415, /Content-Encoding ".*" is not accepted/);
      assert.equal(chunksRead(), 0);
    });
  }

  test('answers 415 to an unsupported Content-Type without reading a byte', async () => {
    const { req, chunksRead } = fakeRequest({ 'content-type': 'text/plain' }, ['hello']);
    await assertHttpError(() => readFields(req), 415, /Content-Type "text\/plain" is not supported/);
    assert.equal(chunksRead(), 0);
  });

  test('answers 413 to a body over the limit passed in', async () => {
    const { req } = fakeRequest({ 'content-type': 'application/json' }, ['{"a":"', 'x'.repeat(50), '"}']);
    await assertHttpError(() => readFields(req, 32), 413, /larger than 32 bytes/);
  });
});

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
    const req = fakeRequest({ 'content-type': 'application/json', 'content-encoding': ' identity ' }, ['{"a":"b"}']).req;
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

