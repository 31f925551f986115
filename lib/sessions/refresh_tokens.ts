/**
 * Refresh tokens: `<session id>.<generation>.<HMAC>`, the HMAC-SHA-256 of the first two under a key
 * derived from the server secret with its own label (so it can never be mistaken for, or turned into,
 * an access token or a device cookie).
 *
 * The generation counts the session's rotations: 0 at login, one more at each refresh. A store keeps
 * only each session's current generation, never a token: the HMAC proves that this server issued the
 * token, and the generation says which one it is. So a token that was never issued (a session id from
 * the /order page with a made-up generation or HMAC) is told apart from a genuine token that has been
 * replaced, however long ago, without remembering a single spent token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a genuine refresh token says. */
export interface RefreshTokenClaims {
  readonly sessionId: string;
  readonly generation: number;
}

/** A session id is a UUID; a generation a whole number exact in a double. */
const TOKEN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(0|[1-9][0-9]{0,14})\.([\w-]{43})$/;

export class RefreshTokens {
  readonly #key: Buffer;

  constructor(secret: Uint8Array) {
    this.#key = createHmac('sha256', secret).update('refresh-token-key').digest();
  }

  /** The token of `generation` in `sessionId`: the same text whenever it is computed, on any instance. */
  issue(sessionId: string, generation: number): string {
    return `${sessionId}.${generation}.${this.#sign(sessionId, generation)}`;
  }

  /** What `token` says when this server issued it (its HMAC verifies); undefined for anything else. */
  read(token: string | undefined): RefreshTokenClaims | undefined {
    const match = TOKEN.exec(token ?? '');
    if (match === null) return undefined;
    const [sessionId, digits, signature] = match.slice(1) as [string, string, string];
    const generation = Number(digits);
    if (!timingSafeEqual(Buffer.from(signature), Buffer.from(this.#sign(sessionId, generation)))) return undefined;
    return { sessionId, generation };
  }

  #sign(sessionId: string, generation: number): string {
    return createHmac('sha256', this.#key).update(`${sessionId}.${generation}`).digest('base64url');
  }
}
