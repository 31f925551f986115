/**
 * The services the routes use, built once at start by `start_server.ts` and handed to every handler:
 * one object to pass, and one place a test swaps a part.
 */
import type { AccessTokens } from './auth/access_tokens.ts';
import type { DeviceTokens } from './auth/device_tokens.ts';
import type { PasswordHasher } from './auth/passwords.ts';
import type { LoginBackoff, RateLimiter } from './auth/rate_limit.ts';
import type { SessionStore } from './storage/session_store.ts';
import type { Logger } from './support/log.ts';
import type { UserStore } from './storage/user_store.ts';

export interface Services {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly tokens: AccessTokens;
  readonly passwords: PasswordHasher;
  /** Sign-up and login attempts per client address. */
  readonly attempts: RateLimiter;
  /** The growing wait after failed logins, per account, or per device for a browser with a device cookie. */
  readonly backoff: LoginBackoff;
  /** Refreshes per session, and per client address (see `start_server.ts` for the rates). */
  readonly sessionRefreshes: RateLimiter;
  readonly addressRefreshes: RateLimiter;
  /** Signs and checks device cookies, which mark a browser that signed in to an account before. */
  readonly devices: DeviceTokens;
  /** Where a handler reports what the operator should know but the client need not (a rehash not stored). */
  readonly log: Pick<Logger, 'warn'>;
}

