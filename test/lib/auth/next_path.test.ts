import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_NEXT, safeNextPath } from '../../../lib/auth/next_path.ts';

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
  ];
  for (const [description, next] of refused) {
    test(`replaces ${description} with ${DEFAULT_NEXT}`, () => {
      assert.equal(safeNextPath(next), '/order');
    });
  }

  test('keeps a path of exactly 2048 characters', () => {
    const next = `/${'a'.repeat(2047)}`;
    assert.equal(safeNextPath(next), next);
  });
});
