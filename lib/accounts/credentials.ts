/**
 * What a username and a password may be, and when two usernames are the same.
 *
 * Usernames follow a stated profile, so that a name that looks like a taken one is not a second
 * account (issue 12.5: "straße" beside "strasse", "İstanbul" beside "istanbul", a Cyrillic "а" in
 * "аlice", "bob" with combining accents):
 *
 * - Form: RFC 8265's UsernameCaseMapped profile (PRECIS), with two deliberate departures that make it
 *   fold more: NFKC rather than width mapping and NFC, so compatibility forms ("ﬁ", "𝒜", full-width
 *   letters) are one name with their plain letters; and full case folding rather than lower-casing, so
 *   "ß", "ẞ" and "ss" are one name, and so are the dotless "ı", the dotted "İ" and "i".
 * - Repertoire: a narrower one than PRECIS's IdentifierClass, from UTS #39 (Unicode Security
 *   Mechanisms): letters, digits, ".", "_" and "-"; written in one script (§5.1 mixed-script
 *   detection: digits and punctuation go with any script, and Han with Hiragana and Katakana, Hangul
 *   or Bopomofo); no invisible (default-ignorable) characters; and in Latin, Greek and Cyrillic, whose
 *   accented letters are encoded whole, no combining mark that does not join its letter under NFKC.
 *
 * What this does not do is UTS #39's confusable skeleton, which would also make a name written wholly
 * in Cyrillic letters that look Latin ("асе") collide with its Latin twin ("ace"). That takes the
 * confusables.txt table of the Unicode Security data (not part of the Unicode Character Database),
 * committed as generated data with its generator and the Unicode licence: a step not taken yet, so
 * such whole-script look-alikes are still separate accounts. A different letter stays a different
 * name: "bób" is not "bob", nor "alicé" "alice", as in any other system.
 */
import { InvalidInputError } from '../errors.ts';

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

// Letters and digits of any script, plus . _ -: readable, and nothing that needs escaping in a URL.
const USERNAME = /^[\p{L}\p{M}\p{N}._-]+$/u;

// Invisible characters that are still letters or marks: the combining grapheme joiner, variation
// selectors, the Hangul fillers. "bo\u034Fb" would look exactly like "bob".
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

// A combining mark on a Latin, Greek or Cyrillic letter (or on a digit or "_") that NFKC did not
// compose into one letter, or a mark with nothing before it. These scripts encode the accented letters
// of nearly all their languages whole, so such a mark mostly makes a look-alike ("b\u0300ob") or a
// pile of accents; the price is that the few letters written only as a sequence (Yoruba "ẹ́") are
// refused. Scripts that need combining marks (Devanagari, Thai, Hebrew points, ...) keep them.
const STRAY_MARK = /^\p{M}|[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Common}]\p{M}/u;

// Every script of Unicode 15.0 (PropertyValueAliases.txt, "sc"), less Common, Inherited, Unknown and
// Katakana_Or_Hiragana (no character has it; JavaScript does not know it as a Script_Extensions value).
// A name in a script added later is refused as mixed: it matches none of these.
const SCRIPTS =
  'Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Bhks Bopo Brah Brai Bugi Buhd Cakm Cans Cari Cham Cher Chrs ' +
  'Copt Cpmn Cprt Cyrl Deva Diak Dogr Dsrt Dupl Egyp Elba Elym Ethi Geor Glag Gong Gonm Goth Gran Grek Gujr Guru Hang Hani ' +
  'Hano Hatr Hebr Hira Hluw Hmng Hmnp Hung Ital Java Kali Kana Kawi Khar Khmr Khoj Kits Knda Kthi Lana Laoo Latn Lepc ' +
  'Limb Lina Linb Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero Mlym Modi Mong Mroo Mtei Mult Mymr Nagm Nand ' +
  'Narb Nbat Newa Nkoo Nshu Ogam Olck Orkh Orya Osge Osma Ougr Palm Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr ' +
  'Samr Sarb Saur Sgnw Shaw Shrd Sidd Sind Sinh Sogd Sogo Sora Soyo Sund Sylo Syrc Tagb Takr Tale Talu Taml Tang Tavt Telu ' +
  'Tfng Tglg Thaa Thai Tibt Tirh Tnsa Toto Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb';

// UTS #39 §5.1: Han is written with Hiragana and Katakana (Japanese), Hangul (Korean) or Bopomofo.
const WRITING_SYSTEMS = [...SCRIPTS.split(' ').map((script) => [script]), ['Hani', 'Hira', 'Kana'], ['Hani', 'Hang'], ['Hani', 'Bopo']];

// One pattern per writing system: every character belongs to it by its Script_Extensions, or to no
// script in particular (digits, ".", "_", "-" are Common; combining marks are Inherited).
const ONE_WRITING_SYSTEM = WRITING_SYSTEMS.map(
  (scripts) => new RegExp(`^[${scripts.map((script) => `\\p{Script_Extensions=${script}}`).join('')}\\p{Script_Extensions=Zyyy}\\p{Script_Extensions=Zinh}]+$`, 'u'),
);

/** True when every character of `name` can be read as one script (UTS #39 §5.1: not mixed-script). */
function isSingleScript(name: string): boolean {
  return ONE_WRITING_SYSTEM.some((pattern) => pattern.test(name));
}

/**
 * The form usernames are compared in, and the one place they are: two names are the same account
 * exactly when their keys are equal (the user store indexes by it).
 *
 * NFKC folds compatibility forms (full-width "ａｌｉｃｅ", the "ﬁ" ligature). Then full case folding,
 * as JavaScript offers it: lower-, upper-, then lower-case again, so that "ẞ" → "ß" → "SS" → "ss", the
 * dotless "ı" → "I" → "i", and "ς" meets "σ". "İ" lower-cases to "i" plus a combining dot above,
 * and a dot above on a letter that already has its dot (Unicode's Soft_Dotted "i", "j", ...) is the
 * same dot: it is dropped.
 */
export function usernameKey(username: string): string {
  const folded = username.normalize('NFKC').trim().toLowerCase().toUpperCase().toLowerCase();
  return folded.normalize('NFD').replace(/(?<=\p{Soft_Dotted})\u0307/gu, '').normalize('NFKC');
}

/** The username as it will be shown (NFKC-normalised), or a 400 saying what is wrong with it. */
export function validateUsername(raw: string): string {
  const username = raw.normalize('NFKC').trim();
  const length = [...username].length;
  if (length < USERNAME_MIN || length > USERNAME_MAX) {
    throw new InvalidInputError(`Username must be ${USERNAME_MIN} to ${USERNAME_MAX} characters`, { field: 'username' });
  }
  if (!USERNAME.test(username)) {
    throw new InvalidInputError('Username may only hold letters, digits, ".", "_" and "-"', { field: 'username' });
  }
  if (INVISIBLE.test(username)) {
    throw new InvalidInputError('Username may not hold invisible characters', { field: 'username' });
  }
  if (STRAY_MARK.test(username)) {
    throw new InvalidInputError('Username may not hold a combining mark that does not join its letter: type the accented letter itself', { field: 'username' });
  }
  if (!isSingleScript(username)) {
    throw new InvalidInputError('Username must be written in one script: it may not mix, say, Latin and Cyrillic letters', { field: 'username' });
  }
  return username;
}

// C0 and C1 control characters and DEL: nobody types them in a form. A NUL matters most: PostgreSQL
// refuses it in any text, which must not reach the database and come back as a failure of its own.
const CONTROL_CHARACTER = /\p{Cc}/u;

/** `value` as it is, or a 400 when it holds a control character, which no username or password may. */
export function refuseControlCharacters(field: 'username' | 'password', value: string): string {
  if (CONTROL_CHARACTER.test(value)) {
    throw new InvalidInputError(`${field === 'username' ? 'Username' : 'Password'} may not hold control characters`, { field });
  }
  return value;
}

/**
 * The password, NFKC-normalised so the same password typed on two keyboards hashes the same, or a 400.
 * Length and no control character are the only rules: NIST SP 800-63B §3.1.1.2 advises against
 * composition rules.
 */
export function validatePassword(raw: string): string {
  const password = refuseControlCharacters('password', normalizePassword(raw));
  const length = [...password].length;
  if (length < PASSWORD_MIN) throw new InvalidInputError(`Password must be at least ${PASSWORD_MIN} characters`, { field: 'password' });
  if (length > PASSWORD_MAX) throw new InvalidInputError(`Password must be at most ${PASSWORD_MAX} characters`, { field: 'password' });
  return password;
}

/** The form a password is hashed and verified in (NIST SP 800-63B §5.1.1.2: NFKC or NFKD). */
export function normalizePassword(raw: string): string {
  return raw.normalize('NFKC');
}
