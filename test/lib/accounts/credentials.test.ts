import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { USERNAME_PROFILE, normalizePassword, skeleton, usernameKey, usernameUpperKey, validatePassword, validateUsername } from '../../../lib/accounts/credentials.ts';
import { DomainError, type InvalidInputError } from '../../../lib/errors.ts';
import { statusOf } from '../../../lib/http/error_reply.ts';

describe('usernameKey()', () => {
  const same: [a: string, b: string][] = [
    ['Alice', 'alice'],
    ['ALICE', 'alice'],
    ['ａｌｉｃｅ', 'alice'], // full-width Latin letters
    ['Ａｌｉｃｅ', 'alice'],
    ['ﬁona', 'fiona'], // the "ﬁ" ligature
    ['ZOË', 'zoë'],
    ['Zoe\u0308', 'zoë'], // "e" plus a combining diaeresis, composed by NFKC
    // Look-alikes that were separate accounts: full case folding, and the dot of "İ".
    ['straße', 'strasse'],
    ['STRAẞE', 'strasse'], // the capital sharp s
    ['İstanbul', 'istanbul'], // dotted capital I: lower-cases to "i" plus a combining dot above
    ['ıstanbul', 'istanbul'], // dotless small i
    ['ISTANBUL', 'ıstanbul'],
    ['ΣΟΦΟΣ', 'σοφοσ'], // Greek final and medial sigma
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
    // Different letters stay different names: accents are not stripped, nor spellings transliterated.
    ['bob', 'bób'],
    ['bob', 'bo\u0301b'], // the same "ó", composed by NFKC
    ['müller', 'mueller'],
    ['strase', 'strasse'],
    ['istanbul', 'istanbül'],
    ['日本', '日本語'],
    ['σοφος', 'sofos'],
  ];
  for (const [a, b] of different) {
    test(`keeps ${JSON.stringify(a)} and ${JSON.stringify(b)} apart`, () => {
      assert.notEqual(usernameKey(a), usernameKey(b));
    });
  }
});

describe('look-alike names (UTS #39 confusable skeletons)', () => {
  /** A sign-up of one is refused (409) while the other is an account: either skeleton is shared. */
  const looksAlike = (a: string, b: string) => usernameKey(a) === usernameKey(b) || usernameUpperKey(a) === usernameUpperKey(b);

  // Round 3, finding 4: whole-script confusables, each a name of one script beside its Latin twin.
  const twins: [lookAlike: string, taken: string, what: string][] = [
    ['\u0430\u0441\u0435', 'ace', 'Cyrillic асе'],
    ['\u0440\u043e\u0440', 'pop', 'Cyrillic рор'],
    ['\u0443\u0435\u0455', 'yes', 'Cyrillic уеѕ'],
    ['\u04bb\u043e\u0440\u0435', 'hope', 'Cyrillic һоре'],
    ['\u0435\u0501\u0501\u0443', 'eddy', 'Cyrillic еԁԁу'],
    ['\u039a\u0399\u039c', 'kim', 'Greek ΚΙΜ, alike in upper case only'],
    ['\u03a4\u039f\u03a1\u0391', 'topa', 'Greek ΤΟΡΑ'],
    ['\u13df\u13aa\u13a2', 'cat', 'Cherokee ᏟᎪᎢ'],
    ['\u0570\u0585\u057d', 'hou', 'Armenian հօս, alike in lower case only'],
    ['\u30b9\u4e00\u30d1\u30fc', '\u30b9\u30fc\u30d1\u30fc', 'Han 一 in ス一パー beside the prolonged sound mark of スーパー'],
    ['modern', 'rnodern', '"m" and "rn"'],
    ['user1', 'userl', 'the digit 1 and the letter l'],
    ['b0b', 'BOB', 'the digit 0 and the letter O'],
    ['ΚΑΤΟ', 'kato', 'Greek capitals beside their Latin look-alikes'],
  ];
  for (const [lookAlike, taken, what] of twins) {
    test(`${what}: a valid name of one script, yet the same name as ${JSON.stringify(taken)}`, () => {
      assert.equal(validateUsername(lookAlike), lookAlike);
      assert.ok(looksAlike(lookAlike, taken), `${JSON.stringify([usernameKey(lookAlike), usernameUpperKey(lookAlike)])} vs ${JSON.stringify([usernameKey(taken), usernameUpperKey(taken)])}`);
    });
  }

  const apart: [a: string, b: string][] = [
    ['bill', 'bili'],
    ['kim', 'klm'],
    ['bob', 'bób'],
    ['σοφος', 'sofos'],
    ['müller', 'mueller'],
  ];
  for (const [a, b] of apart) {
    test(`keeps ${JSON.stringify(a)} and ${JSON.stringify(b)} apart in both cases`, () => {
      assert.equal(looksAlike(a, b), false);
    });
  }

  test('skeleton() is NFD, each character replaced by its prototype, NFD again (UTS #39 §4)', () => {
    assert.equal(skeleton('\u0430'), 'a');
    assert.equal(skeleton('m'), 'rn', 'a prototype of two characters');
    assert.equal(skeleton('\u00e9'), 'e\u0301', 'NFD first: the precomposed é is its e and its accent');
    assert.equal(skeleton('\u00f6'), 'o\u0308', 'so a mapping of a precomposed letter never applies (confusables.txt maps ö to ة)');
    assert.equal(skeleton('\u0439'), '\u1d0e\u0306', 'й is и and a breve: и maps to ᴎ, the breve stays');
    assert.equal(skeleton('alice'), 'alice', 'a character without a mapping is its own prototype');
  });

  test('the profile a store keys names under names the confusables data it was made with', () => {
    assert.equal(USERNAME_PROFILE, 'NFKC, full case folding, UTS #39 skeletons in lower and upper case, confusables 17.0.0');
  });

  test('a key is the skeleton of the case-folded name; the upper key, of the name in upper case', () => {
    assert.equal(usernameKey('STRAẞE'), 'strasse');
    assert.equal(usernameKey('ΚΙΜ'), '\u0138i\u03bc', 'κ → ĸ: Greek lower case is not Latin');
    assert.equal(usernameUpperKey('kim'), 'KlM', 'I → l: the data maps the capital I to a small l');
    assert.equal(usernameUpperKey('ǆemal'), 'DZ\u0306EMAL', 'NFKC after upper-casing: Ǆ is D, Z and a caron (which maps to a breve)');
  });
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
    // One script each; a mark that joins its letter (NFKC composes it), or a script that needs marks.
    ['bo\u0301b', 'bób'],
    ['straße', 'straße'],
    ['İstanbul', 'İstanbul'],
    ['Ελληνικά', 'Ελληνικά'],
    ['русский', 'русский'],
    ['ひらがな漢字', 'ひらがな漢字'], // Japanese: Han with Hiragana and Katakana is one writing system
    ['한국어漢字', '한국어漢字'], // Korean: Hangul with Han
    ['हिन्दी', 'हिन्दी'], // Devanagari needs its combining vowel signs and virama
    ['ไม้ไผ่', 'ไม้ไผ่'], // Thai tone marks
    ['alice_2024', 'alice_2024'], // digits and "_" go with any script
    ['ユーザー', 'ユーザー'], // the prolonged sound mark is shared by Hiragana and Katakana
    ['スーパー', 'スーパー'], // the one letter of no particular script that a name may hold
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
    // Look-alikes: a name mixing scripts, marks that do not join a letter, invisible letters.
    ['a Cyrillic "а" among Latin letters', '\u0430lice', /one script/],
    ['a Greek "ο" among Latin letters', 'b\u03bfb', /one script/],
    ['Latin among Cyrillic letters', 'пaвел', /one script/],
    ['Arabic-Indic digits with Latin letters', 'bob\u0663', /one script/],
    ['"bob" with a combining grave on the "b"', 'b\u0300ob', /combining mark/],
    ['"bob" with a combining overlay stroke', 'bo\u0336b', /combining mark/],
    ['"bob" with stacked accents', 'bo\u0301\u0301b', /combining mark/],
    ['a combining mark first', '\u0301bob', /combining mark/],
    ['a combining grapheme joiner, which is invisible', 'bo\u034fb', /invisible/],
    ['a variation selector', 'bob\ufe0f', /invisible/],
    ['Hangul fillers, invisible letters', '\u3164\u3164\u3164', /invisible/],
    // Letters of no particular script (Common), which pass the one-script rule in a name of any script (round 3, finding 4).
    ['the modifier letter "ˑ" U+02D1', 'ab\u02d1c', /no particular script/],
    ['the modifier letter prime "ʹ" U+02B9', 'ab\u02b9c', /no particular script/],
    ['the modifier letter apostrophe "ʼ" U+02BC', 'o\u02bcbrien', /no particular script/],
    ['the Arabic tatweel U+0640 in "علـي", which only stretches "علي"', '\u0639\u0644\u0640\u064a', /no particular script/],
    ['the Hawaiian ʻokina U+02BB', 'hawai\u02bbi', /no particular script/],
  ];
  for (const [description, raw, message] of refused) {
    test(`answers 400 on the username field to ${description}`, () => {
      assert.throws(() => validateUsername(raw), (error: unknown) => {
        assert.ok(error instanceof DomainError);
        assert.equal(statusOf(error), 400);
        assert.equal((error as InvalidInputError).field, 'username');
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
    ['a NUL', 'correct\u0000horse', /may not hold control characters/],
    ['a tab, a line feed or DEL', 'correct\thorse\n\u007f', /may not hold control characters/],
    ['a C1 control character', 'correct\u0085horse', /may not hold control characters/],
  ];
  for (const [description, raw, message] of refused) {
    test(`answers 400 on the password field to ${description}`, () => {
      assert.throws(() => validatePassword(raw), (error: unknown) => {
        assert.ok(error instanceof DomainError);
        assert.equal(statusOf(error), 400);
        assert.equal((error as InvalidInputError).field, 'password');
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

describe('usernameKey(): the exact form of a key, not only which keys are equal', () => {
  // Keys are stored (the user store indexes by them) and compared with keys made later, maybe by
  // another version of this code: a key must be the one documented form, not merely consistent.
  const keys: [username: string, key: string][] = [
    ['Alice', 'alice'],
    ['  Alice\t', 'alice'],
    ['ＡＬＩＣＥ', 'alice'],
    ['Straße', 'strasse'],
    ['İstanbul', 'istanbul'],
    ['ΣΊΣΥΦΟΣ', 'oi\u0301ou\u0278o\u03c2'], // σίσυφος, its Greek letters at their Latin prototypes
    ['асе', 'ace'],
  ];
  for (const [username, key] of keys) {
    test(`turns ${JSON.stringify(username)} into the key ${JSON.stringify(key)}: NFKC, trimmed, case-folded to lower case, its skeleton`, () => {
      assert.equal(usernameKey(username), key);
    });
  }
});

describe('validateUsername(): every script is a script a name may be written in, and mixing them is refused', () => {
  // One name from each line of the list of scripts, so that no part of the list can go missing
  // unnoticed: a script left out would refuse every name written in it.
  const scripts: [script: string, name: string][] = [
    ['Arabic', 'سارة'],
    ['Cherokee', 'ᏣᎳᎩ'],
    ['Malayalam', 'മലയാളം'],
    ['Myanmar', 'မြန်မာ'],
    ['Odia', 'ଓଡ଼ିଆ'],
    ['Tamil', 'தமிழ்'],
    ['Telugu', 'తెలుగు'],
    ['Thai', 'ภาษาไทย'],
    ['Han with Bopomofo (Taiwan)', '注音ㄅㄆㄇ'],
  ];
  for (const [script, name] of scripts) {
    test(`accepts a name written in ${script}: ${name}`, () => {
      assert.equal(validateUsername(name), name.normalize('NFKC'));
    });
  }

  test('refuses a name with a single Latin letter among Cyrillic, Japanese or Korean letters ("сeть", "ひらがなe")', () => {
    for (const name of ['с\u0065ть', 'а\u0073\u0068а', 'к\u0074о', 'ひらがなe', '漢字sa', '한국어h', '注音ㄅw']) {
      assert.throws(() => validateUsername(name), { code: 'ERR_INVALID_INPUT', message: /one script/ }, JSON.stringify(name));
    }
  });
});
