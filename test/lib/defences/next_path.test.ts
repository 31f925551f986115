import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_NEXT, safeNextPath } from '../../../lib/defences/next_path.ts';

describe('safeNextPath()', () => {
  const kept = ['/order', '/', '/x?y=1', '/a/b/c?x=1&y=2#top', '/refresh?next=%2Forder', '/caf%C3%A9', "/!$&'()*+,;=:@-._~"];
  for (const next of kept) {
    test(`keeps the same-origin path ${JSON.stringify(next)}`, () => {
      assert.equal(safeNextPath(next), next);
    });
  }

  const refused: [description: string, next: string | null | undefined][] = [
    ['a network-path reference', '//evil.example'],
    ['a network-path reference with a path', '//evil.example/order'],
    ['a backslash after the slash, read as "//" by browsers', '/\\evil.example'],
    ['two backslashes', '\\\\evil.example'],
    ['a full https URL', 'https://evil.example/order'],
    ['a scheme without slashes', 'http:evil.example'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative path', 'order'],
    ['a percent-encoded CR LF', '/%0d%0aSet-Cookie:x=1'],
    ['an upper-case percent-encoded CR LF', '/%0D%0ASet-Cookie:x=1'],
    ['a percent-encoded NUL', '/order%00'],
    ['a raw CR LF', '/\r\nSet-Cookie:x=1'],
    ['a raw LF', '/order\n'],
    ['a tab, which URL parsers drop', '/\t/evil.example'],
    ['a space', '/order page'],
    ['DEL', '/order\x7f'],
    ['an empty string', ''],
    ['null', null],
    ['undefined', undefined],
    ['a path over 2048 characters', `/${'a'.repeat(2048)}`],
    ['non-ASCII characters', '/café'],
    ['a full-width solidus', '/／evil.example'],
    // Dot segments that resolve to a network-path reference: a hop that normalises the path (RFC 3986
    // §5.2.4, or any URL parser) would turn each into `//evil.com`.
    ['"/./" before a second slash', '/.//evil.com'],
    ['"/./" before a backslash', '/./\\evil'],
    ['an encoded dot segment and an encoded slash', '/%2e/%2fevil.com'],
    ['"/a/.." before a second slash', '/a/..//evil.com'],
    ['".." past the root before a second slash', '/../..//evil.com'],
    ['an upper-case encoded dot segment', '/%2E%2E/order'],
    ['a dot segment half encoded', '/.%2e/order'],
    ['an encoded slash further along the path', '/order/%2f%2fevil.com'],
    ['an encoded backslash further along the path', '/order/%5Cevil.com'],
    ['a backslash further along the path', '/order\\..\\..\\evil.com'],
    ['an encoded "%", which one more decoding turns into "%2e%2e"', '/%252e%252e//evil.com'],
    ['an empty segment further along the path', '/a//evil.com'],
  ];
  for (const [description, next] of refused) {
    test(`replaces ${description} with ${DEFAULT_NEXT}`, () => {
      assert.equal(safeNextPath(next), '/order');
    });
  }

  const resolved: [next: string, location: string][] = [
    ['/a/../order', '/order'],
    ['/./order', '/order'],
    ['/order/.', '/order/'],
    ['/a/b/../../order?x=1', '/order?x=1'],
    ['/../order', '/order'],
    ['/order/..?x=/../..//evil.com', '/?x=/../..//evil.com'], // the query is not a path: left as it is
  ];
  for (const [next, location] of resolved) {
    test(`resolves the dot segments of ${JSON.stringify(next)} to ${JSON.stringify(location)}`, () => {
      assert.equal(safeNextPath(next), location);
    });
  }

  test('for any input, Location resolves to this origin with a path that is not "//...", even after a second pass', () => {
    const ORIGIN = 'https://host.example';
    // Mostly the pieces that matter (slashes, dots, their encodings, a second "%" layer), and any text.
    const piece = fc.constantFrom('/', '//', '\\', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '%25', '%', '2e', '?', '#', '\t', '\n', ':', '@', 'a', 'evil.com', 'é');
    const pieces = fc.array(piece, { maxLength: 10 }).map((list) => list.join(''));
    const next = fc.oneof(pieces.map((path) => `/${path}`), pieces, fc.string({ unit: 'binary', maxLength: 60 }), fc.webPath());
    fc.assert(
      fc.property(next, (value) => {
        const location = safeNextPath(value);
        const first = new URL(location, ORIGIN);
        assert.equal(first.origin, ORIGIN, `${JSON.stringify(value)} leaves the origin`);
        assert.ok(!first.pathname.startsWith('//'), `${JSON.stringify(value)} gives the path ${first.pathname}`);
        // A later hop that decodes the path once and resolves it again (a proxy, a framework's router).
        const second = new URL(decodeOnce(first.pathname) + first.search, ORIGIN);
        assert.equal(second.origin, ORIGIN, `${JSON.stringify(value)} leaves the origin on a second pass`);
        assert.ok(!second.pathname.startsWith('//'), `${JSON.stringify(value)} gives the path ${second.pathname} on a second pass`);
      }),
      { numRuns: 2000 },
    );
  });

  test('keeps a path of exactly 2048 characters', () => {
    const next = `/${'a'.repeat(2047)}`;
    assert.equal(safeNextPath(next), next);
  });
});

/** Decodes each `%XX` once, leaving anything that is not a valid escape as it is. */
function decodeOnce(path: string): string {
  return path.replace(/(?:%[0-9a-f]{2})+/gi, (escapes) => {
    try {
      return decodeURIComponent(escapes);
    } catch {
      return escapes;
    }
  });
}

describe('safeNextPath(): percent-escapes that a second decoding would turn into a redirect or a header split', () => {
  test('refuses /%5cevil.example: decoded once, "/\\evil.example" is read as "//evil.example"', () => {
    assert.equal(safeNextPath('/%5cevil.example'), DEFAULT_NEXT);
  });

  test('refuses /%5Cevil.example, the same backslash in upper case', () => {
    assert.equal(safeNextPath('/%5Cevil.example'), DEFAULT_NEXT);
  });

  test('refuses /order%1b, an encoded control character from the 0x10-0x1f range (ESC)', () => {
    assert.equal(safeNextPath('/order%1b'), DEFAULT_NEXT);
    assert.equal(safeNextPath('/order%1F'), DEFAULT_NEXT);
  });

  test('refuses /order%7f, an encoded DEL', () => {
    assert.equal(safeNextPath('/order%7f'), DEFAULT_NEXT);
    assert.equal(safeNextPath('/order%7F'), DEFAULT_NEXT);
  });

  test('refuses encoded control characters in the query too, where a later hop may decode them', () => {
    assert.equal(safeNextPath('/order?x=%1b'), DEFAULT_NEXT);
    assert.equal(safeNextPath('/order?x=%7f'), DEFAULT_NEXT);
  });

  test('keeps the printable escapes next to them: %20, %7e, %2d', () => {
    for (const next of ['/order%20x', '/order%7e', '/order%2d']) assert.equal(safeNextPath(next), next);
  });
});
