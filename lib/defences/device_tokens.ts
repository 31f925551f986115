/**
 * Device tokens: what the device cookie carries (OWASP, "Slow down online guessing attacks with device
 * cookies", linked from the Authentication Cheat Sheet). A browser that once signed in to an account
 * holds one for that account; at login it is limited by its own failures, not by the account's
 * backoff, so a stranger guessing at the account cannot lock its owner out.
 *
 * A token is `<issued at, base 36 seconds>.<device id>.<signature>`, the signature an HMAC-SHA-256
 * over those two and the account name, under a key derived from the server secret with its own label
 * (so it can never be mistaken for, or turned into, an access token or a refresh successor). It names
 * no user: the login form says which account, and a token for another account does not verify.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../support/clock.ts';

/** How long a device stays trusted after its last sign-in: a year, under browsers' 400-day cap on Max-Age. */
export const DEVICE_TOKEN_SECONDS = 365 * 24 * 60 * 60;

/** How far in the future an issue time may be (clocks of two servers sharing the secret may differ). */
const CLOCK_TOLERANCE_SECONDS = 60;

const TOKEN = /^([0-9a-z]{1,12})\.([\w-]{22})\.([\w-]{43})$/;

export class DeviceTokens {
  readonly #key: Buffer;
  readonly #clock: Clock;

  constructor(secret: Uint8Array, clock: Clock) {
    this.#key = createHmac('sha256', secret).update('device-cookie-key').digest();
    this.#clock = clock;
  }

  /** A token for a new device id, bound to `account` (the username as `usernameKey` compares it). */
  issue(account: string): string {
    const issuedAt = Math.floor(this.#clock() / 1000).toString(36);
    const deviceId = randomBytes(16).toString('base64url');
    return `${issuedAt}.${deviceId}.${this.#sign(issuedAt, deviceId, account)}`;
  }

  /** The device id when `token` was issued here for `account` and has not expired; else undefined. */
  verify(token: string | undefined, account: string): string | undefined {
    const match = TOKEN.exec(token ?? '');
    if (match === null) return undefined;
    const [, issuedAt = '', deviceId = '', signature = ''] = match;
    const expected = Buffer.from(this.#sign(issuedAt, deviceId, account));
    if (!timingSafeEqual(Buffer.from(signature), expected)) return undefined;
    const age = Math.floor(this.#clock() / 1000) - parseInt(issuedAt, 36);
    return age <= DEVICE_TOKEN_SECONDS && age >= -CLOCK_TOLERANCE_SECONDS ? deviceId : undefined;
  }

  #sign(issuedAt: string, deviceId: string, account: string): string {
    // JSON keeps the three apart: no account name can be made to read as another issue time or id.
    return createHmac('sha256', this.#key).update(JSON.stringify([issuedAt, deviceId, account])).digest('base64url');
  }
}
