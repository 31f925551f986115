/**
 * Builds everything from the configuration and starts listening: what `server.ts` runs, and what
 * tests, the trace and the benchmark start in-process with their own clock or logger.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRequestListener } from './http/listener.ts';
import { trackConnections } from './http/graceful_stop.ts';
import type { Services } from './services.ts';
import { loadOrCreateCertificate } from './http/certificate.ts';
import { answerClientError } from './http/parser_errors.ts';
import { capConnections, defaultMaxConnections } from './http/connection_limits.ts';
import { MAX_HEADER_LINES } from './http/header_limit.ts';
import { systemClock, type Clock } from './support/clock.ts';
import type { FileSystem } from './storage/durable_file.ts';
import { loadOrCreateSecret } from './auth/jwt_secret.ts';
import { createLogger, type Logger } from './support/log.ts';
import { PasswordHasher, type PasswordHasherOptions } from './auth/passwords.ts';
import { LoginBackoff, RateLimiter } from './auth/rate_limit.ts';
import { buildRouter } from './routes.ts';
import { JsonSessionStore, type SessionLifetimes } from './storage/session_store.ts';
import { loadStaticFiles } from './http/static_files.ts';
import { AccessTokens } from './auth/access_tokens.ts';
import { DeviceTokens } from './auth/device_tokens.ts';
import { JsonUserStore } from './storage/user_store.ts';
import { prepareDataDir } from './storage/data_dir.ts';
import { ConfigError, type Config } from './config.ts';
import type { PostgresOptions, PostgresStorage } from './storage/postgres/open.ts';

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

/**
 * TLS 1.2 suites, all ECDHE (forward secrecy) and AEAD: AES-GCM and ChaCha20-Poly1305, for ECDSA
 * certificates (ours) and RSA ones. No CBC suite (LUCKY13 and the padding oracles before it), no CCM
 * and no ARIA: Mozilla's "intermediate" TLS 1.2 list without its DHE suites. TLS 1.3 suites are all AEAD and
 * set separately: Node keeps its defaults. Deno's TLS is rustls, which has no CBC suite to begin with
 * and ignores this option.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** How long a stop waits for requests in flight before cutting their connections. */
export const SHUTDOWN_GRACE_MS = 10_000;

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
  /** How long `close()` waits for requests in flight; `SHUTDOWN_GRACE_MS` by default. */
  shutdownGraceMs?: number;
  /** Open connections allowed at once; by default a little under the process's descriptor limit. */
  maxConnections?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly services: Services;
  /** The certificate in PEM, for clients that should trust exactly this server. */
  readonly certificate: string;
  /**
   * Stops accepting, lets requests in flight finish (cut after the grace period), closes every other
   * connection at once, and closes the stores (every write on disk, snapshots written).
   */
  close(): Promise<void>;
}

/**
 * The embedded stores, and a line saying what they hold and how long reading them took: with 100,000
 * users and sessions that is most of the start, and an operator should see it grow before it matters.
 */
async function openFiles(dataDir: string, options: { secret: Uint8Array; clock: Clock; lifetimes?: SessionLifetimes; fs?: FileSystem; log: Logger }) {
  const started = performance.now();
  const users = await JsonUserStore.open(dataDir, options);
  const sessions = await JsonSessionStore.open(dataDir, options);
  const count = (n: number, noun: string) => `${n.toLocaleString('en')} ${noun}${n === 1 ? '' : 's'}`;
  options.log.info(`Storage: ${count(users.size, 'user')} and ${count(sessions.size, 'session')} in ${dataDir} (read in ${Math.round(performance.now() - started)} ms)`);
  return { users, sessions };
}

/** PostgreSQL, loaded only when `DATABASE_URL` asks for it: the embedded store never needs its client. */
async function openDatabase(url: string, options: PostgresOptions, log: Logger): Promise<PostgresStorage> {
  const [{ openPostgres }, { describeDatabase }] = await Promise.all([import('./storage/postgres/open.ts'), import('./storage/postgres/database.ts')]);
  const database = await openPostgres(url, options);
  log.info(`Storage: PostgreSQL at ${describeDatabase(url)}`);
  return database;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger();
  const clock = options.clock ?? systemClock;
  await prepareDataDir(config.dataDir);

  const tls = await loadOrCreateCertificate(config.tlsCertFile, config.tlsKeyFile, log);
  const secret = config.jwtSecret ?? (await loadOrCreateSecret(config.dataDir));
  // DATABASE_URL: users and sessions shared with every other instance (docs/instances.md).
  const database = config.databaseUrl === undefined ? undefined : await openDatabase(config.databaseUrl, { secret, clock, lifetimes: options.lifetimes }, log);
  const stores = database ?? (await openFiles(config.dataDir, { secret, clock, lifetimes: options.lifetimes, fs: options.fs, log }));
  const services: Services = {
    users: stores.users,
    sessions: stores.sessions,
    tokens: await AccessTokens.create(secret, { clock, lifetimeSeconds: options.accessSeconds }),
    passwords: await PasswordHasher.create(options.passwords),
    attempts: new RateLimiter(config.rateLimit, clock),
    backoff: new LoginBackoff(config.rateLimit > 0, clock),
    devices: new DeviceTokens(secret, clock),
    log,
    // A browser refreshes a session once per access token (15 min), or a few times at once when tabs
    // wake together; a burst of 10 a session and 60 an address (a household or an office behind one
    // NAT), each refilled at one a second, is never reached by that, and still caps a script that
    // refreshes in a loop (each rotation is a write to disk). RATE_LIMIT=0 turns them off too.
    sessionRefreshes: new RateLimiter(config.rateLimit > 0 ? 60 : 0, clock, {
      burst: 10,
      message: 'Too many refreshes of this session: wait a moment and try again',
    }),
    addressRefreshes: new RateLimiter(config.rateLimit > 0 ? 60 : 0, clock, {
      burst: 60,
      message: 'Too many refreshes from your address: wait a moment and try again',
    }),
  };
  const router = buildRouter(services, await loadStaticFiles(PUBLIC_DIR));

  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const server = createServer(
    // requireHostHeader is Node's default, stated because security_headers.ts relies on it (Deno does the same).
    { cert: tls.cert, key: tls.key, ciphers: TLS12_CIPHERS, requireHostHeader: true, connectionsCheckingInterval: timeouts.checkIntervalMs },
    createRequestListener(router, log, { lintCookies: config.development }),
  );
  server.maxHeadersCount = MAX_HEADER_LINES;
  capConnections(server, options.maxConnections ?? defaultMaxConnections(), log);
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.on('clientError', answerClientError); // Node's default answer, flushed before the socket closes (Deno)
  const connections = trackConnections(server);
  await new Promise<void>((resolve, reject) => {
    const refuse = (error: NodeJS.ErrnoException) => reject(listenRefusal(error, config));
    server.once('error', refuse);
    server.listen(config.port, config.host, () => {
      server.off('error', refuse);
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
      await connections.stop(options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS);
      await Promise.all([services.users.close(), services.sessions.close()]);
      await database?.close();
    },
  };
}

/** A listen failure the operator can fix, as one line saying what to do; anything else as it is. */
function listenRefusal(error: NodeJS.ErrnoException, { host, port }: Config): Error {
  const start = `Cannot listen on ${host}:${port}: `;
  switch (error.code) {
    case 'EADDRINUSE':
      return new ConfigError(`${start}the port is in use (EADDRINUSE), perhaps by an earlier start still running; stop that process, or set PORT to a free port`);
    case 'EACCES':
      return new ConfigError(`${start}permission denied (EACCES); ports below 1024 need privileges: set PORT to 1024 or above`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${start}no network interface here has that address (EADDRNOTAVAIL); set HOST to one of this machine's addresses`);
    default:
      return error;
  }
}
