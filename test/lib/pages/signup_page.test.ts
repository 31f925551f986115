import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { SignupPage } from '../../../lib/pages/signup_page.ts';
import { PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN } from '../../../lib/accounts/credentials.ts';

const file = readFileSync(new URL('../../../public/index.html', import.meta.url), 'utf8');
const page = new SignupPage(file);

describe('the signup page (public/index.html)', () => {
  test('states the length rules lib/accounts/credentials.ts enforces', () => {
    assert.match(file, new RegExp(`<input id="username" [^>]* minlength="${USERNAME_MIN}" maxlength="${USERNAME_MAX}"`));
    assert.match(file, new RegExp(`<input id="password" [^>]* minlength="${PASSWORD_MIN}"`));
    assert.match(file, new RegExp(`${USERNAME_MIN}–${USERNAME_MAX} letters`));
    assert.match(file, new RegExp(`At least ${PASSWORD_MIN} characters`));
  });

  test('filled with no error, it is the file itself', () => {
    assert.equal(page.filled({}).value, file);
  });

  test('a field error goes after its input, which points at it and keeps the typed name, escaped', () => {
    const filled = page.filled({ error: 'The username "<b>" is taken', field: 'username', username: '<b>' }).value;
    assert.match(filled, /<input id="username" [^>]* aria-describedby="username-error username-hint" aria-invalid="true" value="&lt;b&gt;" autofocus>\n<p id="username-error" class="error" role="alert">The username &quot;&lt;b&gt;&quot; is taken<\/p>\n<p id="username-hint"/);
    assert.match(filled, /<p id="form-error" class="error" role="alert"><\/p>/);
    assert.match(filled, /<input id="password" [^>]* aria-describedby="password-hint">/);
  });

  test('a form-wide error goes above the form and both fields point at it; a password is never echoed', () => {
    const filled = page.filled({ error: 'Too many sign-ups', username: 'alice' }).value;
    assert.match(filled, /<p id="form-error" class="error" role="alert">Too many sign-ups<\/p>/);
    assert.match(filled, /<input id="username" [^>]* aria-describedby="form-error username-hint" value="alice">/);
    assert.match(filled, /<input id="password" [^>]* aria-describedby="form-error password-hint">/);
    assert.doesNotMatch(filled, /aria-invalid/);
  });

  test('everything outside the filled places is the file, byte for byte', () => {
    const filled = page.filled({ error: 'x', field: 'password', username: 'bob' }).value;
    const strip = (text: string) => text.replace(/<input [^>]*>\n(<p id="\w+-error"[^\n]*\n)?/g, '<input>\n');
    assert.equal(strip(filled), strip(file));
  });

  test('a file without a slot is refused when the server starts', () => {
    assert.throws(() => new SignupPage(file.replace(' aria-describedby="password-hint"', '')), /Cannot fill the signup page: 0 places match/);
  });
});
