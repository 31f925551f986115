/**
 * The environment, read once at start into a typed, frozen object. A bad value stops the start with a
 * message that names the variable, instead of surfacing later as a confusing failure.
 */
import path from 'node:path';
import { ConfigError } from './errors.ts';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** From `JWT_SECRET`; when absent, a secret is generated once and kept in `dataDir`. */
  readonly jwtSecret: Uint8Array | undefined;
  /** Sign-up and login attempts per client address per minute; 0 turns attempt limiting off, refresh limits included. */
  readonly rateLimit: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** In development the server lints every Set-Cookie it sends and warns about any broken rule. */
  readonly development: boolean;
  /**
   * From `DATABASE_URL` (`postgres://user:password@host:port/db`): users and sessions in PostgreSQL,
   * shared by every instance (docs/instances.md). Unset: the embedded store in `dataDir`. It holds a
   * password, so it is never logged; `describeDatabase` gives the loggable form.
   */
  readonly databaseUrl: string | undefined;
  /**
   * From `MAX_CONNECTIONS`: open connections allowed at once. Unset, as many as the descriptor limit
   * leaves room for (at most 10,000); set, never more than that either (`connection_limits.ts`).
   */
  readonly maxConnections: number | undefined;
}

/** HMAC-SHA256 wants a key at least as long as its output (RFC 7518 §3.2). */
export const MIN_SECRET_BYTES = 32;

/** The variables the server reads; Deno's `--allow-env` is scoped to exactly these. */
export const ENV_VARIABLES = ['PORT', 'HOST', 'DATA_DIR', 'JWT_SECRET', 'RATE_LIMIT', 'TLS_CERT', 'TLS_KEY', 'NODE_ENV', 'DATABASE_URL', 'MAX_CONNECTIONS'] as const;

type Env = Partial<Record<(typeof ENV_VARIABLES)[number], string>>;

export function readConfig(env: Env, cwd = process.cwd()): Config {
  const dataDir = path.resolve(cwd, nonEmpty(env.DATA_DIR) ?? 'data');
  const databaseUrl = readDatabaseUrl(env.DATABASE_URL);
  if (databaseUrl !== undefined && nonEmpty(env.JWT_SECRET) === undefined) {
    // Each instance would otherwise make its own secret in its own DATA_DIR, and refuse the others' tokens.
    throw new ConfigError('Cannot start: DATABASE_URL needs JWT_SECRET, the same on every instance that shares the database');
  }
  return Object.freeze({
    port: readInteger('PORT', env.PORT, 8443, 0, 65535),
    host: nonEmpty(env.HOST) ?? 'localhost',
    dataDir,
    jwtSecret: readSecret(env.JWT_SECRET),
    rateLimit: readInteger('RATE_LIMIT', env.RATE_LIMIT, 20, 0, 1_000_000),
    tlsCertFile: path.resolve(cwd, nonEmpty(env.TLS_CERT) ?? 'certs/localhost-cert.pem'),
    tlsKeyFile: path.resolve(cwd, nonEmpty(env.TLS_KEY) ?? 'certs/localhost-key.pem'),
    development: env.NODE_ENV !== 'production',
    databaseUrl,
    maxConnections: nonEmpty(env.MAX_CONNECTIONS) === undefined ? undefined : readInteger('MAX_CONNECTIONS', env.MAX_CONNECTIONS, 0, 1, 1_000_000),
  });
}

/** A postgres:// URL with a host. The value is never quoted back: it may hold a password. */
function readDatabaseUrl(raw: string | undefined): string | undefined {
  const text = nonEmpty(raw)?.trim();
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || !['postgres:', 'postgresql:'].includes(url.protocol) || url.hostname === '') {
    throw new ConfigError('Cannot start: DATABASE_URL must look like postgres://user:password@host:5432/database');
  }
  return text;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function readInteger(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  const text = nonEmpty(raw)?.trim();
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ConfigError(`Cannot start: ${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function readSecret(raw: string | undefined): Uint8Array | undefined {
  if (raw === undefined || raw === '') return undefined;
  const secret = new TextEncoder().encode(raw);
  if (secret.length < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `Cannot start: JWT_SECRET is ${secret.length} bytes, it must be at least ${MIN_SECRET_BYTES} ` +
        `(HS256 needs a key as long as its hash; try: node -e "console.log(crypto.randomBytes(32).toString('base64url'))")`,
    );
  }
  return secret;
}
