/**
 * The wiring: builds everything from the configuration, lists the defences, and starts listening.
 * What `server.ts` runs, and what tests, the trace and the benchmark start in-process with their own
 * clock or logger.
 *
 * The lesson's path is short: the router (`routes.ts`) and the listener (`http/listener.ts`). Every
 * defence is one line in one of the lists below, with why it is there; deleting a line removes that
 * defence and nothing else.
 */
import type { Server } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PasswordHasher, type PasswordHasherOptions } from './accounts/passwords.ts';
import type { Config } from './config.ts';
import { LISTEN_BACKLOG, capConnections, connectionCap, descriptorLimit, limitUnreadAnswers } from './defences/connection_limits.ts';
import { lintCookies } from './defences/cookie_lint.ts';
import { refuseCrossSite, varyOnOrigin } from './defences/cross_site.ts';
import { DeviceTokens } from './defences/device_tokens.ts';
import { trackConnections } from './defences/graceful_stop.ts';
import { MAX_HEADER_LINES, refuseTooManyHeaders } from './defences/header_limit.ts';
import { answerClientError } from './defences/parser_errors.ts';
import { LoginBackoff } from './defences/login_backoff.ts';
import { REFRESHES_PER_MINUTE, REFRESH_BURST, RateLimiter, clientAddress, limitRequests } from './defences/rate_limit.ts';
import { addSecurityHeaders } from './defences/security_headers.ts';
import { signInChallenge } from './http/error_reply.ts';
import { createRequestListener, type Guard, type Hook } from './http/listener.ts';
import { loadStaticFiles } from './http/static_files.ts';
import { buildRouter } from './routes.ts';
import type { Services } from './services.ts';
import { AccessTokens, ISSUER } from './sessions/access_tokens.ts';
import { ACCESS_COOKIE, CLEAR_REFRESH_COOKIE, REFRESH_COOKIE, readSessionCookie } from './sessions/cookies.ts';
import { RefreshTokens } from './sessions/refresh_tokens.ts';
import type { SessionLifetimes } from './sessions/rules.ts';
import { loadOrCreateCertificate } from './startup/certificate.ts';
import { DEFAULT_TIMEOUTS, createHttpsServer, listen, type ServerTimeouts } from './startup/https_server.ts';
import { SECRET_FILE, loadSecret, newSecret, saveSecret } from './startup/jwt_secret.ts';
import { lockDataDir, prepareDataDir } from './storage/data_dir.ts';
import type { DataDirLock } from './storage/data_dir_lock.ts';
import type { FileSystem } from './storage/durable_file.ts';
import { openStorage } from './storage/open.ts';
import { systemClock, type Clock } from './support/clock.ts';
import { createLogger, type Logger } from './support/log.ts';

export const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

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
  /** Open connections allowed at once, as MAX_CONNECTIONS (which it overrides) sets it. */
  maxConnections?: number;
  /** Names with no account whose failed logins are remembered (`UNKNOWN_NAMES_REMEMBERED` by default), so a test can fill it. */
  unknownNamesRemembered?: number;
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

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const lock = await claimDataDir(config);
  try {
    const running = await start(config, options);
    return {
      ...running,
      async close() {
        try {
          await running.close();
        } finally {
          await lock?.release();
        }
      },
    };
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

/**
 * One server per DATA_DIR, locked before anything in it is read or repaired (docs/storage.md). Under
 * DATABASE_URL the folder holds nothing the server reads or writes (JWT_SECRET is required then), so
 * instances that share a database may share it too, and nothing is locked.
 */
async function claimDataDir(config: Config): Promise<DataDirLock | undefined> {
  if (config.databaseUrl === undefined) return lockDataDir(config.dataDir);
  await prepareDataDir(config.dataDir);
  return undefined;
}

async function start(config: Config, options: StartOptions): Promise<RunningServer> {
  const log = options.log ?? createLogger();
  const clock = options.clock ?? systemClock;
  const tls = await loadOrCreateCertificate(config.tlsCertFile, config.tlsKeyFile, log);
  // A new folder's secret is kept once its stores have their first files: so a folder whose secret is
  // there and whose stores are not has lost them, and the stores refuse to start empty (`expected`).
  // (Nobody else writes the secret meanwhile: the folder is locked.)
  const kept = config.jwtSecret === undefined ? await loadSecret(config.dataDir) : undefined;
  const secret = config.jwtSecret ?? kept ?? newSecret();
  const expected = kept === undefined ? undefined : `${path.join(config.dataDir, SECRET_FILE)} is there`;
  const storage = await openStorage({ ...config, secret, clock, log, lifetimes: options.lifetimes, fs: options.fs, expected });
  if (config.jwtSecret === undefined && kept === undefined) await saveSecret(config.dataDir, secret);
  const limited = config.rateLimit > 0; // RATE_LIMIT=0 turns every attempt and refresh limit off
  const services: Services = {
    users: storage.users,
    sessions: storage.sessions,
    tokens: await AccessTokens.create(secret, { clock, lifetimeSeconds: options.accessSeconds }),
    refreshTokens: new RefreshTokens(secret),
    passwords: await PasswordHasher.create(options.passwords),
    backoff: new LoginBackoff(limited, clock, options.unknownNamesRemembered),
    devices: new DeviceTokens(secret, clock),
    log,
  };
  const router = buildRouter(services, await loadStaticFiles(PUBLIC_DIR));

  const refreshes = ['GET /session/refresh', 'HEAD /session/refresh', 'POST /session/refresh'];
  const guards: Guard[] = [
    // 431 first: past the cap the runtime drops header lines, and a dropped Origin would look same-origin.
    refuseTooManyHeaders,
    // 403 to an unsafe method from another site (CSRF, by Fetch Metadata), before any work is done.
    refuseCrossSite,
    // 429: password guessing and sign-up floods, per client address (the per-account backoff is in the login route).
    limitRequests(new RateLimiter(config.rateLimit, clock), ['POST /signup', 'POST /login'], clientAddress),
    // 429: a script refreshing in a loop, one disk write each, per address and per session.
    limitRequests(rateLimiter(limited, REFRESH_BURST.perAddress, clock, 'Too many refreshes from your address'), refreshes, clientAddress),
    limitRequests(rateLimiter(limited, REFRESH_BURST.perSession, clock, 'Too many refreshes of this session'), refreshes, (request) =>
      services.refreshTokens.read(readSessionCookie(request.req.headers.cookie, REFRESH_COOKIE))?.sessionId,
    ),
  ];
  const hooks: Hook[] = [
    // An answer to an unsafe method depends on Origin and Sec-Fetch-Site: caches must key on them.
    varyOnOrigin,
    // CSP, nosniff, Referrer-Policy and (off localhost) HSTS on every answer.
    addSecurityHeaders,
    // Development only: warn about a Set-Cookie that breaks the project's cookie rules.
    ...(config.development ? [lintCookies(log)] : []),
  ];
  const listener = createRequestListener(router, {
    guards,
    hooks,
    challenge: signInChallenge(ISSUER, ACCESS_COOKIE),
    clearOnRefreshFailure: [CLEAR_REFRESH_COOKIE],
    runHandler: storage.bounded,
    log,
  });

  const server = createHttpsServer(tls, { ...DEFAULT_TIMEOUTS, ...options.timeouts }, listener);
  // Past so many header lines a request is refused (431 above) and the runtime keeps no more.
  server.maxHeadersCount = MAX_HEADER_LINES;
  // Pipelining: a connection with too many answers waiting for its client to read them is closed.
  limitUnreadAnswers(server);
  // Connections beyond the cap are closed at once, so the server never runs out of descriptors.
  const cap = connectionCap(options.maxConnections ?? config.maxConnections, descriptorLimit());
  if (cap.limited) log.warn(`MAX_CONNECTIONS is above what the descriptor limit (ulimit -n) leaves room for: capped at ${cap.max}`);
  capConnections(server, cap.max, log);
  // A request the parser refuses gets its answer flushed before the socket closes (Deno).
  server.on('clientError', answerClientError);
  // A stop finishes requests in flight and closes everything else, in bounded time.
  const connections = trackConnections(server);

  const { url, port } = await listen(server, config.host, config.port, LISTEN_BACKLOG);
  log.info(`Listening on ${url}`);
  return {
    url,
    port,
    server,
    services,
    certificate: tls.cert,
    async close() {
      await connections.stop(options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS);
      await storage.close();
    },
  };
}

function rateLimiter(enabled: boolean, burst: number, clock: Clock, message: string): RateLimiter {
  return new RateLimiter(enabled ? REFRESHES_PER_MINUTE : 0, clock, { burst, message: `${message}: wait a moment and try again` });
}
