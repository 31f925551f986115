/**
 * The services the routes use, built once at start by `start_server.ts` and handed to every handler:
 * one object to pass, and one place a test swaps a part.
 */
import type { AccessTokens } from './sessions/access_tokens.ts';
import type { RefreshTokens } from './sessions/refresh_tokens.ts';
import type { DeviceTokens } from './defences/device_tokens.ts';
import type { PasswordHasher } from './accounts/passwords.ts';
import type { LoginBackoff } from './defences/login_backoff.ts';
import type { Logger } from './support/log.ts';
import { type SessionStore } from './sessions/store.ts';
import { type UserStore } from './accounts/store.ts';

export interface Services {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly tokens: AccessTokens;
  readonly refreshTokens: RefreshTokens;
  readonly passwords: PasswordHasher;
  /** The growing wait after failed logins, per account, or per device for a browser with a device cookie. */
  readonly backoff: LoginBackoff;
  /** Signs and checks device cookies, which mark a browser that signed in to an account before. */
  readonly devices: DeviceTokens;
  /** Where a handler reports what the operator should know but the client need not (a rehash not stored). */
  readonly log: Pick<Logger, 'warn'>;
}

