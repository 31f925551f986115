/**
 * Device tokens: what the device cookie carries (OWASP, "Slow down online guessing attacks with device
 * cookies", linked from the Authentication Cheat Sheet). A browser that signed in to an account holds
 * one for that account; at login it is limited by its own failures, not by the account's backoff, so a
 * stranger guessing at the account cannot lock its owner out.
 *
 * A token is `<issued at, base 36 seconds>.<device id>.<signature>`, the signature an HMAC-SHA-256
 * over those two and the account's user id, under a key derived from the server secret with its own
 * label (so it can never be mistaken for, or turned into, an access token or a refresh successor). It
 * names no user: the login form says which account, and a token for another account does not verify.
 * Bound to the id, not the name: two stored accounts whose names look alike share no device.
 *
 * A valid signature is not enough: the account must still trust the device id (`User.deviceIds`, kept
 * by the user store). An account trusts its `MAX_DEVICES_PER_ACCOUNT` newest devices, a login with a
 * trusted device keeps its id rather than minting another, and "sign out everywhere" forgets them all
 * (`UserStore.forgetDevices`). So however many times someone signs in, at most that many cookies each
 * have their own allowance of guesses, and only until the owner forgets them.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../support/clock.ts';

/** How long a device stays trusted after its last sign-in: a year, under browsers' 400-day cap on Max-Age. */
export const DEVICE_TOKEN_SECONDS = 365 * 24 * 60 * 60;

/**
 * Devices an account trusts at once: a phone, a laptop, a work computer and a couple more. Each has
 * its own 6 guesses before it waits, so this also bounds what a thief of every cookie gains.
 */
export const MAX_DEVICES_PER_ACCOUNT = 5;

/** How far in the future an issue time may be (clocks of two servers sharing the secret may differ). */
const CLOCK_TOLERANCE_SECONDS = 60;

const TOKEN = /^([0-9a-z]{1,12})\.([\w-]{22})\.([\w-]{43})$/;

/** What the check of a device needs to know of its account. */
export interface DeviceOwner {
  readonly id: string;
  readonly deviceIds: readonly string[];
}

/** A new device id: 128 random bits, base64url. */
export function newDeviceId(): string {
  return randomBytes(16).toString('base64url');
}

/** The account's device ids with `deviceId` as the newest (moved to the end), keeping the newest `MAX_DEVICES_PER_ACCOUNT`. */
export function withNewestDevice(deviceIds: readonly string[], deviceId: string): string[] {
  return [...deviceIds.filter((id) => id !== deviceId), deviceId].slice(-MAX_DEVICES_PER_ACCOUNT);
}

export class DeviceTokens {
  readonly #key: Buffer;
  readonly #clock: Clock;

  constructor(secret: Uint8Array, clock: Clock) {
    this.#key = createHmac('sha256', secret).update('device-cookie-key').digest();
    this.#clock = clock;
  }

  /** A token for `deviceId`, bound to the account `userId`, issued now. */
  issue(userId: string, deviceId: string): string {
    const issuedAt = Math.floor(this.#clock() / 1000).toString(36);
    return `${issuedAt}.${deviceId}.${this.#sign(issuedAt, deviceId, userId)}`;
  }

  /** The device id when `token` was issued here for `userId` and has not expired; else undefined. */
  verify(token: string | undefined, userId: string): string | undefined {
    const match = TOKEN.exec(token ?? '');
    if (match === null) return undefined;
    const [issuedAt, deviceId, signature] = match.slice(1) as [string, string, string];
    const expected = Buffer.from(this.#sign(issuedAt, deviceId, userId));
    if (!timingSafeEqual(Buffer.from(signature), expected)) return undefined;
    const age = Math.floor(this.#clock() / 1000) - parseInt(issuedAt, 36);
    return age <= DEVICE_TOKEN_SECONDS && age >= -CLOCK_TOLERANCE_SECONDS ? deviceId : undefined;
  }

  /** The device id when `token` verifies for `owner` and the account still trusts that device; else undefined. */
  trustedDevice(token: string | undefined, owner: DeviceOwner): string | undefined {
    const deviceId = this.verify(token, owner.id);
    return owner.deviceIds.find((trusted) => trusted === deviceId);
  }

  #sign(issuedAt: string, deviceId: string, userId: string): string {
    // JSON keeps the three apart: no id can be made to read as another issue time or device.
    return createHmac('sha256', this.#key).update(JSON.stringify([issuedAt, deviceId, userId])).digest('base64url');
  }
}
