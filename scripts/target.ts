/**
 * The server a script talks to, shared by `npm run trace` and `npm run attacks`: by default the real
 * server started in this process on a temporary DATA_DIR and certificate, with a clock the script can
 * move; or, with `--url`, one that is already running (`npm start`).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../lib/support/log.ts';
import { DEFAULT_ACCESS_SECONDS } from '../lib/sessions/access_tokens.ts';
import type { Endpoint } from './support/https_client.ts';
import { startInProcess } from './support/servers.ts';

/** `origin` (`https://localhost:41234`) and `ca`: exactly this server's, never `rejectUnauthorized: false`. */
export interface Target extends Endpoint {
  /** What the server's clock reads, in ms. */
  now(): number;
  /** Moves the server's clock forward; undefined for a running server, whose clock is its own. */
  readonly advanceClock: ((ms: number) => void) | undefined;
  /** The HS256 key when this script knows it (in-process: made here; `--url`: `JWT_SECRET` if set). */
  readonly secret: Uint8Array | undefined;
  /** How long an access token lives, in seconds. */
  readonly accessSeconds: number;
  close(): Promise<void>;
}

export interface TargetArgs {
  url?: string | undefined;
  cacert?: string | undefined;
}

/** `--url` and `--cacert`, the options both scripts take. */
export const TARGET_OPTIONS = {
  url: { type: 'string' },
  cacert: { type: 'string', default: 'certs/localhost-cert.pem' },
} as const;

/** The running server at `--url`, or a new one in this process. */
export function openTarget(args: TargetArgs): Promise<Target> {
  return args.url === undefined ? startLocal() : connect(args.url, args.cacert ?? TARGET_OPTIONS.cacert.default);
}

/** Warnings and errors only (a cookie-lint warning, a 500's stack): the trace is the output. */
const quietLogger: Logger = {
  request() {},
  info() {},
  warn: (message) => console.error(`server warning: ${message}`),
  error: (message, error) => console.error(`server error: ${message}`, error),
};

/**
 * Starts the real server here, on a free port, with a temporary DATA_DIR and certificate, a known
 * JWT_SECRET and a clock that only moves when told to. `rateLimit` 0 (the default) turns attempt
 * limiting off, as `RATE_LIMIT=0` does.
 */
export async function startLocal(options: { rateLimit?: number; unknownNamesRemembered?: number } = {}): Promise<Target> {
  let now = Date.now();
  const server = await startInProcess({
    env: { HOST: 'localhost', JWT_SECRET: randomBytes(32).toString('base64url'), RATE_LIMIT: String(options.rateLimit ?? 0) },
    clock: () => now,
    log: quietLogger,
    unknownNamesRemembered: options.unknownNamesRemembered,
  });
  return {
    origin: server.origin,
    ca: server.ca,
    now: () => now,
    advanceClock: (ms) => {
      now += ms;
    },
    secret: server.config.jwtSecret,
    accessSeconds: server.running.services.tokens.lifetimeSeconds,
    close: () => server.close(),
  };
}

async function connect(url: string, cacert: string): Promise<Target> {
  const { origin } = new URL(url);
  let ca: string;
  try {
    ca = await readFile(cacert, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read --cacert ${JSON.stringify(cacert)}: ${(error as Error).message}`);
  }
  const secret = process.env.JWT_SECRET;
  return {
    origin,
    ca,
    now: () => Date.now(),
    advanceClock: undefined,
    secret: secret ? new TextEncoder().encode(secret) : undefined,
    accessSeconds: DEFAULT_ACCESS_SECONDS,
    close: async () => {},
  };
}
