/**
 * What a username and a password may be, and when two usernames are the same.
 *
 * Usernames follow a stated profile, so that a name that looks like a taken one is not a second
 * account ("straße" beside "strasse", "İstanbul" beside "istanbul", Cyrillic "асе" beside "ace",
 * Greek "ΚΙΜ" beside "kim", "bob" with combining accents):
 *
 * - Form: RFC 8265's UsernameCaseMapped profile (PRECIS), with two deliberate departures that make it
 *   fold more: NFKC rather than width mapping and NFC, so compatibility forms ("ﬁ", "𝒜", full-width
 *   letters) are one name with their plain letters; and full case folding rather than lower-casing, so
 *   "ß", "ẞ" and "ss" are one name, and so are the dotless "ı", the dotted "İ" and "i".
 * - Look-alikes: UTS #39 (Unicode Security Mechanisms) §4 confusable skeletons, from Unicode's
 *   confusables.txt (`confusables.ts`, generated). The data is case-sensitive ("Κ" → "K", but "κ" → "ĸ")
 *   and names are not, so a name has two skeletons: of its case-folded form (`usernameKey`, which also
 *   says which account a login names) and of its upper-case form (`usernameUpperKey`, for "ΚΙΜ" beside
 *   "KIM"). A sign-up whose name shares either with an account is refused (409): `асе`, `ΤΟΡΑ`, `ᏟᎪᎢ`
 *   beside `ace`, `topa`, `cat`. The price: names that differ only in letters the data calls alike are
 *   one name too, "rn" and "m", "l", "I" and "1", "O" and "0".
 * - Repertoire: a narrower one than PRECIS's IdentifierClass, from UTS #39: letters, digits, ".", "_"
 *   and "-"; written in one script (§5.1 mixed-script detection: digits and punctuation go with any
 *   script, and Han with Hiragana and Katakana, Hangul or Bopomofo); no letter of no script in
 *   particular (Common or Inherited: modifier letters such as "ʼ", the Arabic tatweel), save the
 *   Japanese prolonged sound mark "ー"; no invisible (default-ignorable) characters; and in Latin,
 *   Greek and Cyrillic, whose accented letters are encoded whole, no combining mark that does not join
 *   its letter under NFKC.
 *
 * A different letter stays a different name: "bób" is not "bob", nor "alicé" "alice", as in any other
 * system.
 */
import { InvalidInputError } from '../errors.ts';
import { CONFUSABLES_VERSION, PROTOTYPES } from './confusables.ts';

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

// A letter of no script in particular (Common, Inherited): it passes the one-script rule inside a name
// of any script, so it could only ever be a look-alike or a decoration. Modifier letters ("ˑ" U+02D1,
// "ʹ" U+02B9, "ʼ" U+02BC: apostrophes and colons that are letters), the Arabic tatweel U+0640 (it only
// stretches the line: "علـي" is "علي"). The one letter kept is the Japanese prolonged sound mark "ー"
// U+30FC, part of everyday Katakana ("スーパー"); "一" U+4E00 beside it is caught by the skeleton.
const SCRIPTLESS_LETTER = /(?!\u30FC)(?=\p{L})[\p{Script=Common}\p{Script=Inherited}]/u;

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
 * The case-folded form of a name. NFKC folds compatibility forms (full-width "ａｌｉｃｅ", the "ﬁ"
 * ligature). Then full case folding, as JavaScript offers it: lower-, upper-, then lower-case again, so
 * that "ẞ" → "ß" → "SS" → "ss", the dotless "ı" → "I" → "i", and "ς" meets "σ". "İ" lower-cases to "i"
 * plus a combining dot above, and a dot above on a letter that already has its dot (Unicode's
 * Soft_Dotted "i", "j", ...) is the same dot: it is dropped.
 */
function foldCase(username: string): string {
  const folded = username.normalize('NFKC').trim().toLowerCase().toUpperCase().toLowerCase();
  return folded.normalize('NFD').replace(/(?<=\p{Soft_Dotted})\u0307/gu, '').normalize('NFKC');
}

/** Each character a name can hold that confusables.txt maps, and the prototype it maps to. */
const PROTOTYPE_OF: ReadonlyMap<string, string> = new Map(PROTOTYPES.flatMap(([prototype, sources]) => [...sources].map((source) => [source, prototype] as const)));

/** UTS #39 §4: skeleton(X) = NFD(each character of NFD(X) replaced by its prototype). */
export function skeleton(text: string): string {
  let mapped = '';
  for (const char of text.normalize('NFD')) mapped += PROTOTYPE_OF.get(char) ?? char;
  return mapped.normalize('NFD');
}

/**
 * Names which `usernameKey` and `usernameUpperKey` stored keys were computed by: a store that keeps
 * keys (PostgreSQL) computes them again when this changes. Change it whenever either function does.
 */
export const USERNAME_PROFILE = `NFKC, full case folding, UTS #39 skeletons in lower and upper case, confusables ${CONFUSABLES_VERSION}`;

/**
 * What usernames are compared by, and the one place they are: the skeleton of the case-folded name.
 * A login names the account whose key equals its name's; a sign-up is refused when this key, or the
 * `usernameUpperKey`, is an account's (the user stores index both).
 */
export function usernameKey(username: string): string {
  return skeleton(foldCase(username));
}

/** The skeleton of the name in upper case: "ΚΙΜ" and "KIM" meet here ("Κ" → "K"), not in lower case ("κ" → "ĸ"). */
export function usernameUpperKey(username: string): string {
  return skeleton(foldCase(username).toUpperCase().normalize('NFKC'));
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
  if (SCRIPTLESS_LETTER.test(username)) {
    throw new InvalidInputError('Username may not hold a letter of no particular script, such as "ʼ" or the Arabic tatweel', { field: 'username' });
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
