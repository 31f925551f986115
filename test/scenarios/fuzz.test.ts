/**
 * Property-based tests (fast-check) on everything that reads attacker-controlled text before any
 * authentication: the body parser, the cookie parser, the router's path matching and `next`. Whatever
 * the input, each either returns a well-formed result or throws a domain error, never anything else
 * (anything else would become a 500). The cookie parser never throws at all.
 *
 * Run counts are kept moderate; a failure prints the seed and the shrunk input to replay it.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Services } from '../../lib/services.ts';
import { MAX_BODY_BYTES, MAX_FIELDS, parseFields, parseJsonFields, parseMediaType, readFields, type Fields } from '../../lib/http/body.ts';
import { getCookieValues, parseCookies } from '../../lib/http/cookies.ts';
import { DomainError } from '../../lib/errors.ts';
import { statusOf } from '../../lib/http/error_reply.ts';
import { DEFAULT_NEXT, safeNextPath } from '../../lib/defences/next_path.ts';
import { buildRouter } from '../../lib/routes.ts';
import { PUBLIC_DIR } from '../../lib/start_server.ts';
import { loadStaticFiles } from '../../lib/http/static_files.ts';

const RUNS = { numRuns: 300 };

/** Any string at all: lone surrogates, NULs, CR/LF included. */
const anyString = fc.string({ unit: 'binary', maxLength: 200 });

/** Strings made mostly of the characters a parser treats specially, so the edge cases come up often. */
function syntaxString(...special: string[]): fc.Arbitrary<string> {
  return fc.string({ unit: fc.oneof(fc.constantFrom(...special), fc.constantFrom('a', 'Z', '0', ' ', '\u00e9', '\u20ac', '\ud800')), maxLength: 120 });
}

/** Runs `parse` and says how it ended: fields, or a domain error with a 4xx status. */
function assertOnlyHttpErrors(parse: () => Fields): void {
  let fields: Fields;
  try {
    fields = parse();
  } catch (error) {
    assert.ok(error instanceof DomainError, `threw ${String(error)}`);
    const status = statusOf(error) ?? 0;
    assert.ok(status >= 400 && status < 500);
    return;
  }
  assertWellFormed(fields);
}

function assertWellFormed(fields: Fields): void {
  assert.equal(Object.getPrototypeOf(fields), null);
  const entries = Object.entries(fields);
  assert.ok(entries.length <= MAX_FIELDS);
  for (const [, value] of entries) assert.equal(typeof value, 'string');
}

const formBody = syntaxString('=', '&', '+', '%', '%2', '%41', '%E2%82', '%C3%A9', '__proto__', 'constructor');
const jsonBody = fc.oneof(fc.json({ maxDepth: 3 }), syntaxString('{', '}', '"', ':', ',', '[', ']', '\\u0000', '"__proto__"'));
const mediaType = fc.constantFrom('application/x-www-form-urlencoded' as const, 'application/json' as const);

test('parseFields() turns any bytes into fields or a DomainError', () => {
  fc.assert(fc.property(mediaType, fc.uint8Array({ maxLength: 300 }), (type, body) => assertOnlyHttpErrors(() => parseFields(type, body))), RUNS);
});

test('parseFields() turns form-like and JSON-like text into fields or a DomainError', () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  fc.assert(fc.property(formBody, (text) => assertOnlyHttpErrors(() => parseFields('application/x-www-form-urlencoded', encode(text)))), RUNS);
  fc.assert(fc.property(jsonBody, (text) => assertOnlyHttpErrors(() => parseFields('application/json', encode(text)))), RUNS);
});

test('JSON nested as deep as the body limit allows is a DomainError, not a stack overflow', () => {
  const depth = MAX_BODY_BYTES / 2;
  for (const text of ['['.repeat(depth) + ']'.repeat(depth), '{"a":'.repeat(depth / 5) + '"x"' + '}'.repeat(depth / 5)]) {
    assert.throws(() => parseFields('application/json', new TextEncoder().encode(text)), DomainError);
  }
});

test('parseMediaType() accepts our two types or throws a 415', () => {
  const header = fc.option(fc.oneof(anyString, syntaxString(';', '=', 'charset', 'utf-8', '"', 'application/json', 'application/x-www-form-urlencoded')));
  fc.assert(
    fc.property(header, (value) => {
      try {
        assert.match(parseMediaType(value ?? undefined), /^application\/(json|x-www-form-urlencoded)$/);
      } catch (error) {
        assert.ok(error instanceof DomainError && statusOf(error) === 415, `threw ${String(error)}`);
      }
    }),
    RUNS,
  );
});

/** A stand-in for an IncomingMessage: the headers and a body arriving in the given chunks. */
function fakeRequest(headers: Record<string, string | undefined>, chunks: Uint8Array[]): IncomingMessage {
  return Object.assign(Readable.from(chunks.map((chunk) => Buffer.from(chunk))), { headers }) as unknown as IncomingMessage;
}

test('readFields() ends any request in fields or a DomainError (400, 413 or 415)', async () => {
  const headers = fc.record(
    {
      'content-type': fc.oneof(mediaType, anyString),
      'content-length': fc.oneof(fc.nat({ max: 2 * MAX_BODY_BYTES }).map(String), anyString),
      'content-encoding': fc.oneof(fc.constantFrom('identity', ' Identity ', 'gzip', 'br', ''), anyString),
    },
    { requiredKeys: [] },
  );
  const chunks = fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 });
  await fc.assert(
    fc.asyncProperty(headers, chunks, fc.integer({ min: 1, max: 512 }), async (head, body, limit) => {
      try {
        assertWellFormed(await readFields(fakeRequest(head, body), limit));
      } catch (error) {
        assert.ok(error instanceof DomainError, `threw ${String(error)}`);
        assert.ok([400, 413, 415].includes(statusOf(error) ?? 0), `status ${statusOf(error)}`);
      }
    }),
    { numRuns: 200 },
  );
});

test('field names like __proto__ and constructor stay plain names: no prototype is polluted', () => {
  const dangerous = fc.constantFrom('__proto__', 'constructor', 'prototype', '__proto__[polluted]', 'constructor[prototype][polluted]');
  fc.assert(
    fc.property(fc.uniqueArray(dangerous, { minLength: 1 }), (names) => {
      const form = parseFields('application/x-www-form-urlencoded', new TextEncoder().encode(names.map((name) => `${encodeURIComponent(name)}=yes`).join('&')));
      const json = parseJsonFields(JSON.stringify(Object.fromEntries(names.map((name) => [name, 'yes']))));
      for (const fields of [form, json]) {
        assert.equal(Object.getPrototypeOf(fields), null);
        assert.deepEqual(Object.keys(fields).sort(), [...names].sort());
      }
    }),
    RUNS,
  );
  assert.throws(() => parseJsonFields('{"__proto__": {"polluted": "yes"}}'), DomainError);
  assert.equal((({}) as Record<string, unknown>).polluted, undefined);
  assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
});

test('parseCookies() and getCookieValues() never throw, and the result has no prototype', () => {
  const header = fc.oneof(anyString, syntaxString(';', '=', '"', ' ', '__Host-jwt', '__proto__', 'constructor', '%', '\\'));
  fc.assert(
    fc.property(header, fc.oneof(anyString, fc.constantFrom('__Host-jwt', '__proto__')), (value, name) => {
      const cookies = parseCookies(value);
      assert.equal(Object.getPrototypeOf(cookies), null);
      for (const cookieValue of Object.values(cookies)) assert.equal(typeof cookieValue, 'string');
      const values = getCookieValues(value, name);
      // The first value getCookieValues() sees is the one parseCookies() kept.
      if (values.length > 0) assert.equal(cookies[name.trim()], values[0]);
    }),
    RUNS,
  );
});

test('the router returns a handler only for an exact route, and otherwise throws 404 or 405', async () => {
  const router = buildRouter({} as Services, await loadStaticFiles(PUBLIC_DIR));
  const known = ['/', '/signup', '/login', '/order', '/session/refresh', '/session/logout', '/style.css', '/favicon.svg'];
  const method = fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'get'), anyString);
  const nearMiss = fc
    .tuple(fc.constantFrom(...known), syntaxString('/', '.', '..', '%2e', '%2f', '%2F', '%00', '\\', '?', '#', ';', 'order'))
    .map(([path, noise]) => path + noise);
  const path = fc.oneof(fc.constantFrom(...known), nearMiss, anyString);
  fc.assert(
    fc.property(method, path, (verb, target) => {
      try {
        assert.ok(router.match(verb, target));
        assert.ok(known.includes(target), `matched ${JSON.stringify(target)}`);
      } catch (error) {
        assert.ok(error instanceof DomainError, `threw ${String(error)}`);
        assert.ok(statusOf(error) === 404 || statusOf(error) === 405);
      }
    }),
    { numRuns: 1000 },
  );
});

test('safeNextPath() never throws and only ever yields a path on this origin', () => {
  const ORIGIN = 'https://app.example';
  const next = fc.oneof(
    anyString,
    fc.webUrl(),
    fc.webPath(),
    syntaxString('/', '\\', '//', '/\\', ':', '@', '.', '%2f', '%5c', '\t', '\r', '\n', '?', '#', 'evil.example', 'javascript:'),
  );
  fc.assert(
    fc.property(fc.option(next), (value) => {
      const path = safeNextPath(value);
      assert.ok(path === DEFAULT_NEXT || path === value || safeNextPath(path) === path, 'kept as sent, or resolved to a path kept as it is');
      assert.match(path, /^\/[\x21-\x7e]*$/);
      assert.equal(new URL(path, ORIGIN).origin, ORIGIN, `${JSON.stringify(value)} leaves the origin`);
    }),
    { numRuns: 1000 },
  );
});
