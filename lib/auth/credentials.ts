/**
 * What a username and a password may be, and when two usernames are the same.
 */
import { HttpError } from '../http/http_error.ts';

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

// Letters and digits of any script, plus . _ -: readable, and nothing that needs escaping in a URL.
const USERNAME = /^[\p{L}\p{M}\p{N}._-]+$/u;

/**
 * The form usernames are compared in: NFKC folds look-alike forms (full-width "ａｌｉｃｅ", the "ﬁ"
 * ligature) into one, and lower-casing makes "Alice" and "alice" the same account.
 */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

/** The username as it will be shown (NFKC-normalised), or a 400 saying what is wrong with it. */
export function validateUsername(raw: string): string {
  const username = raw.normalize('NFKC').trim();
  const length = [...username].length;
  if (length < USERNAME_MIN || length > USERNAME_MAX) {
    throw new HttpError(400, `Username must be ${USERNAME_MIN} to ${USERNAME_MAX} characters`, { field: 'username' });
  }
  if (!USERNAME.test(username)) {
    throw new HttpError(400, 'Username may only hold letters, digits, ".", "_" and "-"', { field: 'username' });
  }
  return username;
}

/**
 * The password, NFKC-normalised so the same password typed on two keyboards hashes the same, or a 400.
 * Length is the only rule: NIST SP 800-63B §3.1.1.2 advises against composition rules.
 */
export function validatePassword(raw: string): string {
  const password = normalizePassword(raw);
  const length = [...password].length;
  if (length < PASSWORD_MIN) throw new HttpError(400, `Password must be at least ${PASSWORD_MIN} characters`, { field: 'password' });
  if (length > PASSWORD_MAX) throw new HttpError(400, `Password must be at most ${PASSWORD_MAX} characters`, { field: 'password' });
  return password;
}

/** The form a password is hashed and verified in (NIST SP 800-63B §5.1.1.2: NFKC or NFKD). */
export function normalizePassword(raw: string): string {
  return raw.normalize('NFKC');
}
