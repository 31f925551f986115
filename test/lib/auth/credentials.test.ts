import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizePassword, usernameKey, validatePassword, validateUsername } from '../../../lib/auth/credentials.ts';
import { HttpError } from '../../../lib/http/http_error.ts';

describe('usernameKey()', () => {
  const same: [a: string, b: string][] = [
    ['Alice', 'alice'],
    ['ALICE', 'alice'],
    ['ａｌｉｃｅ', 'alice'], // full-width Latin letters
    ['Ａｌｉｃｅ', 'alice'],
    ['ﬁona', 'fiona'], // the "ﬁ" ligature
    ['ZOË', 'zoë'],
    ['Zoe\u0308', 'zoë'], // "e" plus a combining diaeresis, composed by NFKC
  ];
  for (const [a, b] of same) {
    test(`makes ${JSON.stringify(a)} and ${JSON.stringify(b)} the same key`, () => {
      assert.equal(usernameKey(a), usernameKey(b));
    });
  }

  const different: [a: string, b: string][] = [
    ['alice', 'alice2'],
    ['alice', 'alicé'],
    ['bob', 'b.o.b'],
  ];
  for (const [a, b] of different) {
    test(`keeps ${JSON.stringify(a)} and ${JSON.stringify(b)} apart`, () => {
      assert.notEqual(usernameKey(a), usernameKey(b));
    });
  }
});

describe('validateUsername()', () => {
  const valid: [raw: string, shown: string][] = [
    ['alice', 'alice'],
    ['Alice', 'Alice'],
    ['a_b', 'a_b'],
    ['a.b-c', 'a.b-c'],
    ['007', '007'],
    ['zoë', 'zoë'],
    ['ｂｏｂ', 'bob'],
    ['  carol  ', 'carol'],
    ['日本語', '日本語'], // three characters, the minimum
    ['𝒜𝒷𝒸', 'Abc'], // mathematical letters: NFKC folds them before counting
    ['a'.repeat(32), 'a'.repeat(32)],
    ['𠀀'.repeat(32), '𠀀'.repeat(32)], // 32 characters, 64 UTF-16 code units
  ];
  for (const [raw, shown] of valid) {
    test(`accepts ${JSON.stringify(raw)} as ${JSON.stringify(shown)}`, () => {
      assert.equal(validateUsername(raw), shown);
    });
  }

  const refused: [description: string, raw: string, message: RegExp][] = [
    ['an empty name', '', /3 to 32 characters/],
    ['two characters', 'ab', /3 to 32 characters/],
    ['two characters padded with spaces', '  ab  ', /3 to 32 characters/],
    ['two astral characters (four UTF-16 units)', '𠀀𠀀', /3 to 32 characters/],
    ['33 characters', 'a'.repeat(33), /3 to 32 characters/],
    ['33 astral characters', '𠀀'.repeat(33), /3 to 32 characters/],
    ['a space inside', 'al ice', /may only hold letters, digits/],
    ['"<"', '<script>', /may only hold letters, digits/],
    ['"@"', 'alice@example.com', /may only hold letters, digits/],
    ['"/"', 'a/b', /may only hold letters, digits/],
    ['a quote', "o'brien", /may only hold letters, digits/],
    ['an emoji', 'alice😀', /may only hold letters, digits/],
    ['a zero-width space', 'ali\u200bce', /may only hold letters, digits/],
    ['a control character', 'ali\nce', /may only hold letters, digits/],
  ];
  for (const [description, raw, message] of refused) {
    test(`answers 400 on the username field to ${description}`, () => {
      assert.throws(() => validateUsername(raw), (error: unknown) => {
        assert.ok(error instanceof HttpError);
        assert.equal(error.status, 400);
        assert.equal(error.field, 'username');
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

describe('validatePassword()', () => {
  const valid: [description: string, raw: string][] = [
    ['8 ASCII characters', 'abcdefgh'],
    ['1024 characters', 'a'.repeat(1024)],
    ['8 emoji (16 UTF-16 units)', '😀'.repeat(8)],
    ['1024 emoji (2048 UTF-16 units)', '😀'.repeat(1024)],
    ['only lower-case letters', 'correcthorsebatterystaple'],
    ['only digits', '12345678'],
    ['spaces', '        '],
  ];
  for (const [description, raw] of valid) {
    test(`accepts ${description}, with no composition rules`, () => {
      assert.equal(validatePassword(raw), raw);
    });
  }

  const refused: [description: string, raw: string, message: RegExp][] = [
    ['an empty password', '', /at least 8 characters/],
    ['7 characters', 'abcdefg', /at least 8 characters/],
    ['7 emoji, although they are 14 UTF-16 units', '😀'.repeat(7), /at least 8 characters/],
    ['1025 characters', 'a'.repeat(1025), /at most 1024 characters/],
  ];
  for (const [description, raw, message] of refused) {
    test(`answers 400 on the password field to ${description}`, () => {
      assert.throws(() => validatePassword(raw), (error: unknown) => {
        assert.ok(error instanceof HttpError);
        assert.equal(error.status, 400);
        assert.equal(error.field, 'password');
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test('returns the password NFKC-normalised, as normalizePassword() does', () => {
    assert.equal(validatePassword('ｐａｓｓｗｏｒｄ'), 'password');
    assert.equal(normalizePassword('ｐａｓｓｗｏｒｄ'), 'password');
  });
});
