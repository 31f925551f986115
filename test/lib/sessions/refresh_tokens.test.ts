/**
 * Refresh tokens: `<session id>.<generation>.<HMAC>`. What this server issued reads back as its
 * session and generation; anything else, however close, reads as nothing.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { RefreshTokens } from '../../../lib/sessions/refresh_tokens.ts';

const SECRET = new TextEncoder().encode('refresh-token-test-secret-of-32-bytes!!');
const SESSION = '0b6f1c2e-5d4a-4b8e-9f3c-2a1d7e6b5c4f';
const tokens = new RefreshTokens(SECRET);

describe('RefreshTokens', () => {
  test('a token reads back as the session and generation it was issued for', () => {
    for (const generation of [0, 1, 7, 12345, 999_999_999_999_999]) {
      assert.deepEqual(tokens.read(tokens.issue(SESSION, generation)), { sessionId: SESSION, generation });
    }
  });

  test('a token is the session id, the generation and a 43-character HMAC, the same whenever it is issued', () => {
    const token = tokens.issue(SESSION, 3);
    assert.match(token, new RegExp(`^${SESSION}\\.3\\.[\\w-]{43}$`));
    assert.equal(tokens.issue(SESSION, 3), token);
    assert.equal(new RefreshTokens(SECRET).issue(SESSION, 3), token, 'another instance with the same secret');
  });

  test('the HMAC is keyed with a key of its own, derived from the secret with its label', () => {
    const key = createHmac('sha256', SECRET).update('refresh-token-key').digest();
    const mac = createHmac('sha256', key).update(`${SESSION}.3`).digest('base64url');
    assert.equal(tokens.issue(SESSION, 3), `${SESSION}.3.${mac}`);
    const underTheSecret = createHmac('sha256', SECRET).update(`${SESSION}.3`).digest('base64url');
    assert.equal(tokens.read(`${SESSION}.3.${underTheSecret}`), undefined, 'the secret itself is not the key');
  });

  test('a token issued under another secret, or for another session or generation, reads as nothing', () => {
    const other = new RefreshTokens(new TextEncoder().encode('another-secret-of-at-least-32-bytes-long'));
    const mac = tokens.issue(SESSION, 3).split('.')[2];
    const otherSession = '1b6f1c2e-5d4a-4b8e-9f3c-2a1d7e6b5c4f';
    for (const forged of [other.issue(SESSION, 3), `${SESSION}.4.${mac}`, `${SESSION}.2.${mac}`, `${otherSession}.3.${mac}`]) {
      assert.equal(tokens.read(forged), undefined, forged);
    }
  });

  test('anything but the exact form reads as nothing: padding, another alphabet, leading zeros, spaces, missing parts', () => {
    const token = tokens.issue(SESSION, 3);
    const [, , mac = ''] = token.split('.');
    const malformed = [
      undefined,
      '',
      'made-up-token',
      `${token}=`,
      ` ${token}`,
      `${token} `,
      `${token}.`,
      `${SESSION}.03.${mac}`,
      `${SESSION}.+3.${mac}`,
      `${SESSION}.3.0.${mac}`,
      `${SESSION}..${mac}`,
      `${SESSION}.3`,
      `${SESSION.toUpperCase()}.3.${mac}`,
      `x${SESSION}.3.${mac}`,
      `${SESSION}.3.${mac.slice(1)}`,
      `${SESSION}.3.${mac}A`,
      `${SESSION}.3.${mac.slice(0, 42)}+`,
      `${SESSION}.3.${mac.slice(0, 42)}/`,
      `${SESSION}.1234567890123456.${mac}`,
    ];
    for (const text of malformed) assert.equal(tokens.read(text), undefined, String(text));
  });

  test('a generation of up to 15 digits reads back exactly; 16 digits are refused', () => {
    assert.deepEqual(tokens.read(tokens.issue(SESSION, 999_999_999_999_999)), { sessionId: SESSION, generation: 999_999_999_999_999 });
    assert.equal(tokens.read(tokens.issue(SESSION, 1_000_000_000_000_000)), undefined);
  });
});
