import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { AccessTokens, AUDIENCE, DEFAULT_ACCESS_SECONDS, ISSUER } from '../../../lib/sessions/access_tokens.ts';
import { replaceSegment } from '../../../scripts/support/forge_jwt.ts';
import { manualClock, TEST_SECRET } from '../../helpers/server.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);
const OTHER_SECRET = new TextEncoder().encode('another-secret-that-is-at-least-32-bytes');
/** A whole second, so "now" in seconds is exactly the clock divided by 1000. */
const START = Date.UTC(2026, 0, 1, 12, 0, 0);
/** The leeway `AccessTokens` allows for clock skew, in milliseconds. */
const TOLERANCE_MS = 5_000;

async function tokensWith(clock: { now: () => number }, secret = SECRET, lifetimeSeconds?: number): Promise<AccessTokens> {
  return AccessTokens.create(secret, { clock: clock.now, lifetimeSeconds });
}

/** Signs a valid payload with `changes` applied (undefined removes a claim), as a holder of `secret` could. */
function sign(changes: Record<string, unknown>, secret = SECRET, alg = 'HS256'): Promise<string> {
  const iat = START / 1000;
  const payload = { sub: 'user-1', sid: 'session-1', jti: 'jti-1', iat, exp: iat + 900, iss: ISSUER, aud: AUDIENCE, ...changes };
  const defined = Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined));
  return new SignJWT(defined).setProtectedHeader({ alg, typ: 'JWT' }).sign(secret);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The segment with its last character swapped for the one that differs only in the lowest of its six
 * bits: a segment whose length is not a multiple of 4 ends in a character with unused low bits, so both
 * decode to the same bytes (RFC 4648 §3.5).
 */
function twin(segment: string): string {
  assert.notEqual(segment.length % 4, 0, 'a segment with no unused bits has no twin');
  return segment.slice(0, -1) + BASE64URL[BASE64URL.indexOf(segment.at(-1)!) ^ 1];
}

/** What each segment decodes to, as Node's lenient decoder reads it. */
function segmentBytes(token: string): string[] {
  return token.split('.').map((segment) => Buffer.from(segment, 'base64url').toString('hex'));
}

describe('AccessTokens', () => {
  test('issue() then verify() returns the claims that were signed', async () => {
    const tokens = await tokensWith(manualClock(START));
    const { token, claims } = await tokens.issue('user-1', 'session-1');
    assert.deepEqual(await tokens.verify(token), claims);
    assert.deepEqual(claims, { sub: 'user-1', sid: 'session-1', jti: claims.jti, iat: START / 1000, exp: START / 1000 + 900 });
  });

  test('issue() signs the header {"alg":"HS256","typ":"JWT"}', async () => {
    const { token } = await (await tokensWith(manualClock(START))).issue('user-1', 'session-1');
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' });
  });

  test('issue() puts sub, sid, jti, iat, exp, iss and aud in the payload, and nothing else', async () => {
    const { token, claims } = await (await tokensWith(manualClock(START))).issue('user-1', 'session-1');
    assert.deepEqual(decodeJwt(token), { ...claims, iss: ISSUER, aud: AUDIENCE });
    assert.deepEqual(Object.keys(decodeJwt(token)).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
  });

  for (const lifetimeSeconds of [undefined, 60]) {
    const expected = lifetimeSeconds ?? DEFAULT_ACCESS_SECONDS;
    test(`issue() sets exp - iat to the lifetime (${expected} s${lifetimeSeconds === undefined ? ', the default' : ''})`, async () => {
      const tokens = await tokensWith(manualClock(START + 999), SECRET, lifetimeSeconds); // iat rounds down to START
      const payload = decodeJwt((await tokens.issue('user-1', 'session-1')).token);
      assert.equal(tokens.lifetimeSeconds, expected);
      assert.equal(payload.iat, START / 1000);
      assert.equal(payload.exp! - payload.iat!, expected);
    });
  }

  test('issue() gives every token its own jti', async () => {
    const tokens = await tokensWith(manualClock(START));
    const first = await tokens.issue('user-1', 'session-1');
    const second = await tokens.issue('user-1', 'session-1');
    assert.notEqual(first.claims.jti, second.claims.jti);
    assert.notEqual(first.token, second.token);
  });

  test('verify() still accepts a token within the clock tolerance past exp', async () => {
    const clock = manualClock(START);
    const tokens = await tokensWith(clock);
    const { token } = await tokens.issue('user-1', 'session-1');
    clock.advance(DEFAULT_ACCESS_SECONDS * 1000 + TOLERANCE_MS - 1000);
    assert.equal((await tokens.verify(token)).sub, 'user-1');
  });

  test('verify() rejects with ERR_JWT_EXPIRED once the clock passes exp + tolerance', async () => {
    const clock = manualClock(START);
    const tokens = await tokensWith(clock);
    const { token } = await tokens.issue('user-1', 'session-1');
    clock.advance(DEFAULT_ACCESS_SECONDS * 1000 + TOLERANCE_MS);
    await assert.rejects(tokens.verify(token), { code: 'ERR_JWT_EXPIRED' });
  });

  test('verify() rejects a token it verified before, once that token has expired', async () => {
    const clock = manualClock(START);
    const tokens = await tokensWith(clock);
    const { token } = await tokens.issue('user-1', 'session-1');
    await tokens.verify(token);
    clock.advance(DEFAULT_ACCESS_SECONDS * 1000 + TOLERANCE_MS);
    await assert.rejects(tokens.verify(token), { code: 'ERR_JWT_EXPIRED' });
  });

  test('verify() rejects a token whose iat is in the future beyond the tolerance', async () => {
    const clock = manualClock(START);
    const { token } = await (await tokensWith(manualClock(START + 60_000))).issue('user-1', 'session-1');
    await assert.rejects((await tokensWith(clock)).verify(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iat' });
  });

  test('verify() accepts an iat in the future within the tolerance', async () => {
    const { token } = await (await tokensWith(manualClock(START + TOLERANCE_MS))).issue('user-1', 'session-1');
    assert.equal((await (await tokensWith(manualClock(START))).verify(token)).sub, 'user-1');
  });

  test('verify() rejects a token signed with another secret', async () => {
    const { token } = await (await tokensWith(manualClock(START), OTHER_SECRET)).issue('user-1', 'session-1');
    await assert.rejects((await tokensWith(manualClock(START))).verify(token), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test('verify() rejects a token whose payload was changed after signing', async () => {
    const tokens = await tokensWith(manualClock(START));
    const [header, , signature] = (await tokens.issue('user-1', 'session-1')).token.split('.');
    const payload = Buffer.from(JSON.stringify({ ...decodeJwt(await sign({})), sub: 'admin' })).toString('base64url');
    await assert.rejects(tokens.verify(`${header}.${payload}.${signature}`), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test('verify() rejects a token signed with the right key but another algorithm', async () => {
    const token = await sign({}, SECRET, 'HS512');
    await assert.rejects((await tokensWith(manualClock(START))).verify(token), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  });

  test('verify() rejects an unsigned token ("alg": "none")', async () => {
    const header = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
    const payload = Buffer.from(JSON.stringify(decodeJwt(await sign({})))).toString('base64url');
    await assert.rejects((await tokensWith(manualClock(START))).verify(`${header}.${payload}.`), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  });

  const wrongClaims: [description: string, changes: Record<string, unknown>][] = [
    ['another issuer', { iss: 'someone-else' }],
    ['another audience', { aud: 'someone-else' }],
    ['no sid', { sid: undefined }],
    ['no jti', { jti: undefined }],
    ['no exp', { exp: undefined }],
    ['a numeric sid', { sid: 42 }],
  ];
  for (const [description, changes] of wrongClaims) {
    test(`verify() rejects a token with ${description}, although the signature is good`, async () => {
      const token = await sign(changes);
      await assert.rejects((await tokensWith(manualClock(START))).verify(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    });
  }

  // Two spellings of one token must not both verify: a cache, a deny list or a log keyed by the
  // token's text would take them for two tokens. Only the signature can be respelled unnoticed (the
  // header and payload are signed as text), so that is where these respell it.
  const respellings: [description: string, respell: (token: string) => string][] = [
    ['a "=" after the signature', (token) => `${token}=`],
    ["the signature's last character swapped for its twin (the same bytes, other unused bits)", (token) => replaceSegment(token, 2, twin(token.split('.')[2]!))],
    ['standard base64 "+" and "/" in place of "-" and "_"', (token) => `${token.split('.').slice(0, 2).join('.')}.${Buffer.from(token.split('.')[2]!, 'base64url').toString('base64').replace(/=+$/, '')}`],
  ];
  for (const [description, respell] of respellings) {
    test(`verify() rejects a respelling of a good token: ${description}`, async () => {
      const tokens = await tokensWith(manualClock(START));
      // A signature without "-" or "_" (one in four) has no standard-base64 respelling: issue until one has.
      let token = (await tokens.issue('user-1', 'session-1')).token;
      for (let tries = 0; respell(token) === token && tries < 100; tries++) token = (await tokens.issue('user-1', 'session-1')).token;
      const respelled = respell(token);
      assert.deepEqual(segmentBytes(respelled), segmentBytes(token), 'the respelling decodes to the very same bytes');
      await assert.rejects(tokens.verify(respelled), { code: 'ERR_JWS_INVALID' });
      await tokens.verify(token); // and the original still verifies, the cache holding it or not
      await assert.rejects(tokens.verify(respelled), { code: 'ERR_JWS_INVALID' });
    });
  }

  test('verifyAllowingExpired() accepts an authentic token that has expired', async () => {
    const clock = manualClock(START);
    const tokens = await tokensWith(clock);
    const { token, claims } = await tokens.issue('user-1', 'session-1');
    clock.advance(24 * 60 * 60 * 1000);
    await assert.rejects(tokens.verify(token), { code: 'ERR_JWT_EXPIRED' });
    assert.deepEqual(await tokens.verifyAllowingExpired(token), claims);
  });

  test('verifyAllowingExpired() rejects an expired token signed with another secret', async () => {
    const clock = manualClock(START);
    const { token } = await (await tokensWith(clock, OTHER_SECRET)).issue('user-1', 'session-1');
    const tokens = await tokensWith(clock);
    clock.advance(24 * 60 * 60 * 1000);
    await assert.rejects(tokens.verifyAllowingExpired(token), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test('verifyAllowingExpired() rejects an expired token from another issuer', async () => {
    const clock = manualClock(START + 24 * 60 * 60 * 1000);
    const token = await sign({ iss: 'someone-else' });
    await assert.rejects((await tokensWith(clock)).verifyAllowingExpired(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
  });
});

describe('AccessTokens: the claims every token must carry, with their types', () => {
  // Each of these is signed with the right key, so only the claim checks stand between it and a session.
  const verifyAt = async (token: string, now = START) => (await tokensWith(manualClock(now))).verify(token);

  test('verify() rejects a token without sub: it names no user', async () => {
    await assert.rejects(verifyAt(await sign({ sub: undefined })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'sub' });
  });

  test('verify() rejects a token without iat: its age cannot be checked against the lifetime', async () => {
    await assert.rejects(verifyAt(await sign({ iat: undefined })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iat' });
  });

  test('verify() rejects a token whose sub is a number, not a user id', async () => {
    await assert.rejects(verifyAt(await sign({ sub: 42 })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'sub' });
  });

  test('verifyAllowingExpired() rejects an expired token without sub, or with a numeric sub, although it is authentic', async () => {
    const later = START + 24 * 60 * 60 * 1000;
    const tokens = await tokensWith(manualClock(later));
    await assert.rejects(tokens.verifyAllowingExpired(await sign({ sub: undefined })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'sub' });
    await assert.rejects(tokens.verifyAllowingExpired(await sign({ sub: 42 })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'sub' });
  });

  test('verify() calls an expired token without sub invalid, not expired: a token that names no user was never a session', async () => {
    // The 401 then says "not valid" rather than "expired", and verifyAllowingExpired() cannot log out with it.
    const later = START + 24 * 60 * 60 * 1000;
    await assert.rejects(verifyAt(await sign({ sub: undefined }), later), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'sub' });
    await assert.rejects(verifyAt(await sign({ exp: undefined }), later), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'exp' });
  });

  test('issue() names this service as issuer and audience, "jwt-cookie-redirect", and verify() holds a token to it', async () => {
    const tokens = await tokensWith(manualClock(START));
    const payload = decodeJwt((await tokens.issue('user-1', 'session-1')).token);
    assert.equal(payload.iss, 'jwt-cookie-redirect');
    assert.equal(payload.aud, 'jwt-cookie-redirect');
    await assert.rejects(tokens.verify(await sign({ iss: '', aud: '' })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
  });

  test('a claim of the wrong type is refused with a message naming the claim and the type it must have', async () => {
    await assert.rejects(verifyAt(await sign({ sub: 42 })), {
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'sub',
      reason: 'check_failed',
      message: '"sub" claim must be a string',
    });
  });
});

describe('AccessTokens: only the canonical three-segment form is verified', () => {
  for (const [description, respell] of [
    ['two segments', (token: string) => token.split('.').slice(0, 2).join('.')],
    ['a fourth segment', (token: string) => `${token}.${token.split('.')[2]}`],
    ['padding on the payload', (token: string) => replaceSegment(token, 1, `${token.split('.')[1]}=`)],
  ] as const) {
    test(`verify() refuses a token with ${description} as not canonical, before any signature check`, async () => {
      const tokens = await tokensWith(manualClock(START));
      const { token } = await tokens.issue('user-1', 'session-1');
      await assert.rejects(tokens.verify(respell(token)), { code: 'ERR_JWS_INVALID', message: /canonical base64url/ });
    });
  }
});

