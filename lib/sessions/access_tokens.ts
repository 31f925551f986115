/**
 * Access tokens: short-lived HS256 JWTs (RFC 7519) signed and verified with `jose`.
 */
import { randomUUID, webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify, errors, type JWTPayload } from 'jose';
import type { Clock } from '../support/clock.ts';
import { LruMap } from '../support/lru_map.ts';

/** The claims every access token carries, checked for presence and type on every verification. */
export interface AccessClaims {
  /** The user's id. */
  readonly sub: string;
  /** The session it belongs to, so logout can end the whole session. */
  readonly sid: string;
  /** A unique id, so one token can be put on the deny list. */
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

export const ISSUER = 'jwt-cookie-redirect';
export const AUDIENCE = 'jwt-cookie-redirect';
export const DEFAULT_ACCESS_SECONDS = 15 * 60;

/** How far the clocks of whoever signs and verifies may disagree. */
const CLOCK_TOLERANCE_SECONDS = 5;

/** Verified tokens remembered (by their full text, signature included) to skip re-verifying them. */
const VERIFIED_CACHE_SIZE = 10_000;

export interface AccessTokenOptions {
  clock: Clock;
  lifetimeSeconds?: number;
}

export class AccessTokens {
  readonly lifetimeSeconds: number;
  readonly #key: webcrypto.CryptoKey;
  readonly #clock: Clock;
  readonly #verified = new LruMap<string, AccessClaims>(VERIFIED_CACHE_SIZE);

  private constructor(key: webcrypto.CryptoKey, options: AccessTokenOptions) {
    this.#key = key;
    this.#clock = options.clock;
    this.lifetimeSeconds = options.lifetimeSeconds ?? DEFAULT_ACCESS_SECONDS;
  }

  /** Imports the HMAC key once; importing it per request would cost more than the HMAC itself. */
  static async create(secret: Uint8Array, options: AccessTokenOptions): Promise<AccessTokens> {
    const key = await webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    return new AccessTokens(key, options);
  }

  /** Signs a new token for a user's session. */
  async issue(userId: string, sessionId: string): Promise<{ token: string; claims: AccessClaims }> {
    const iat = Math.floor(this.#clock() / 1000);
    const claims: AccessClaims = { sub: userId, sid: sessionId, jti: randomUUID(), iat, exp: iat + this.lifetimeSeconds };
    const token = await new SignJWT({ sid: claims.sid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setJti(claims.jti)
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.exp)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(this.#key);
    return { token, claims };
  }

  /**
   * Verifies signature, algorithm, issuer, audience and times; throws a `jose` error (`isExpiredTokenError`
   * tells an expired token from every other failure).
   *
   * A token that verified once is remembered by its exact text, signature and all, so a repeat only
   * needs its expiry re-checked: the signature cannot have changed. Revocation (the deny list) is
   * the caller's check and runs on every request either way.
   */
  async verify(token: string): Promise<AccessClaims> {
    const now = Math.floor(this.#clock() / 1000);
    const cached = this.#verified.get(token);
    if (cached !== undefined && now < cached.exp + CLOCK_TOLERANCE_SECONDS) return cached;
    if (cached !== undefined) this.#verified.delete(token);

    assertCanonical(token);
    const claims = await this.#verifyFully(token, now);
    this.#verified.set(token, claims);
    return claims;
  }

  /**
   * Like `verify`, but an authentic token that has expired is still accepted: enough to log out with,
   * since a browser may well hold an expired token when its user clicks "Sign out".
   */
  async verifyAllowingExpired(token: string): Promise<AccessClaims> {
    try {
      return await this.verify(token);
    } catch (error) {
      // jose checks expiry only after the signature, issuer and audience, so this payload is authentic.
      if (isExpiredTokenError(error)) return toAccessClaims((error as errors.JWTExpired).payload);
      throw error;
    }
  }

  async #verifyFully(token: string, now: number): Promise<AccessClaims> {
    const { payload } = await jwtVerify(token, this.#key, {
      algorithms: ['HS256'], // never let the token's own header choose the algorithm ("alg": "none", key confusion)
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
      maxTokenAge: this.lifetimeSeconds, // also rejects an `iat` in the future
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now * 1000),
    });
    return toAccessClaims(payload);
  }
}

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]*$/;

/**
 * Refuses a token unless each of its three segments is canonical base64url (RFC 7515 §2: no padding;
 * RFC 4648 §3.5: unused bits are zero), that is, re-encoding the decoded bytes gives the same text.
 * Decoders are lenient: `sig=` and a last character swapped for the one that differs only in its
 * unused bits decode to the same signature, so without this one token has several spellings that all
 * verify. Nothing here is revoked by the token's text (the deny list goes by `jti`, sessions by `sid`),
 * but the verified-token cache and any log or filter that compares tokens as text would count two.
 */
function assertCanonical(token: string): void {
  const segments = token.split('.');
  const canonical =
    segments.length === 3 &&
    segments.every((segment) => BASE64URL_SEGMENT.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment);
  if (!canonical) throw new errors.JWSInvalid('JWS segments must be canonical base64url: no padding, no other alphabet, unused bits zero');
}

/** True when `verify` failed only because the token's time is up: the 401 then says "expired". */
export function isExpiredTokenError(error: unknown): boolean {
  return error instanceof errors.JWTExpired;
}

const CLAIM_TYPES = { sub: 'string', sid: 'string', jti: 'string', iat: 'number', exp: 'number' } as const;

/** jose checks that the claims are present; this checks they have the types we rely on. */
function toAccessClaims(payload: JWTPayload): AccessClaims {
  for (const [claim, type] of Object.entries(CLAIM_TYPES)) {
    if (typeof payload[claim] !== type) {
      throw new errors.JWTClaimValidationFailed(`"${claim}" claim must be a ${type}`, payload, claim, 'check_failed');
    }
  }
  const { sub, sid, jti, iat, exp } = payload as JWTPayload & AccessClaims;
  return { sub, sid, jti, iat, exp };
}
