/**
 * Builds everything from the configuration and starts listening: what `server.ts` runs, and what
 * tests, the trace and the benchmark start in-process with their own clock or logger.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRequestListener } from './http/listener.ts';
import type { Services } from './services.ts';
import { loadOrCreateCertificate } from './http/certificate.ts';
import { answerClientError } from './http/parser_errors.ts';
import { systemClock, type Clock } from './support/clock.ts';
import type { Config } from './config.ts';
import type { FileSystem } from './storage/durable_file.ts';
import { loadOrCreateSecret } from './auth/jwt_secret.ts';
import { createLogger, type Logger } from './support/log.ts';
import { PasswordHasher, type PasswordHasherOptions } from './auth/passwords.ts';
import { LoginBackoff, RateLimiter } from './auth/rate_limit.ts';
import { buildRouter } from './routes.ts';
import { JsonSessionStore, type SessionLifetimes } from './storage/session_store.ts';
import { loadStaticFiles } from './http/static_files.ts';
import { AccessTokens } from './auth/access_tokens.ts';
import { JsonUserStore } from './storage/user_store.ts';
import { describeDatabase } from './storage/postgres/database.ts';
import { openPostgres } from './storage/postgres/open.ts';

export const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

/**
 * A client gets 10 s to send its headers and 30 s for the whole request (then 408 and the connection
 * is cut); an idle keep-alive connection is closed after 5 s. Without these, a slowloris client
 * trickling bytes holds a socket for ever. Node looks for expired ones every `checkIntervalMs`.
 */
export interface ServerTimeouts {
  headersMs: number;
  requestMs: number;
  keepAliveMs: number;
  checkIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = Object.freeze({
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  // Node's default is 30 s: a slowloris client would then keep its socket for up to 40 s, not 10 s.
  checkIntervalMs: 1_000,
});

/** How long shutdown waits for requests in flight before cutting connections. */
const SHUTDOWN_GRACE_MS = 10_000;

/** What tests and tools may swap; the server itself uses the defaults. */
export interface StartOptions {
  clock?: Clock;
  log?: Logger;
  passwords?: PasswordHasherOptions;
  accessSeconds?: number;
  lifetimes?: SessionLifetimes;
  /** Shorter timeouts let a test watch a slowloris client being cut without waiting 10 s. */
  timeouts?: Partial<ServerTimeouts>;
  /** The stores' file operations, so a test can make a write fail at open, write, fsync or rename. */
  fs?: FileSystem;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly services: Services;
  /** The certificate in PEM, for clients that should trust exactly this server. */
  readonly certificate: string;
  /** Stops accepting, lets requests in flight finish, and waits for every write to reach the disk. */
  close(): Promise<void>;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger();
  const clock = options.clock ?? systemClock;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });

  const tls = await loadOrCreateCertificate(config.tlsCertFile, config.tlsKeyFile, log);
  const secret = config.jwtSecret ?? (await loadOrCreateSecret(config.dataDir));
  // DATABASE_URL: users and sessions shared with every other instance (docs/instances.md).
  const database = config.databaseUrl === undefined ? undefined : await openPostgres(config.databaseUrl, { secret, clock, lifetimes: options.lifetimes });
  if (config.databaseUrl !== undefined) log.info(`Storage: PostgreSQL at ${describeDatabase(config.databaseUrl)}`);
  const services: Services = {
    users: database?.users ?? (await JsonUserStore.open(config.dataDir, { fs: options.fs, clock })),
    sessions: database?.sessions ?? (await JsonSessionStore.open(config.dataDir, { secret, clock, lifetimes: options.lifetimes, fs: options.fs })),
    tokens: await AccessTokens.create(secret, { clock, lifetimeSeconds: options.accessSeconds }),
    passwords: new PasswordHasher(options.passwords),
    attempts: new RateLimiter(config.rateLimit, clock),
    backoff: new LoginBackoff(config.rateLimit > 0, clock),
  };
  const router = buildRouter(services, await loadStaticFiles(PUBLIC_DIR));

  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const server = createServer(
    { cert: tls.cert, key: tls.key, connectionsCheckingInterval: timeouts.checkIntervalMs },
    createRequestListener(router, log, { lintCookies: config.development }),
  );
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.on('clientError', answerClientError); // Node's default answer, flushed before the socket closes (Deno)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  const url = `https://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info(`Listening on ${url}`);

  return {
    url,
    port,
    server,
    services,
    certificate: tls.cert,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(force);
      await Promise.all([services.users.flush(), services.sessions.flush()]);
      await database?.close();
    },
  };
}
