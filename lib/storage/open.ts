/**
 * Opens the stores the configuration asks for: PostgreSQL when `DATABASE_URL` is set (shared by every
 * instance, docs/instances.md), else the embedded journal stores in `DATA_DIR`.
 */
import type { UserStore } from '../accounts/store.ts';
import type { SessionLifetimes } from '../sessions/rules.ts';
import type { SessionStore } from '../sessions/store.ts';
import type { Clock } from '../support/clock.ts';
import type { Logger } from '../support/log.ts';
import type { FileSystem } from './durable_file.ts';
import { JsonSessionStore } from './session_store.ts';
import { JsonUserStore } from './user_store.ts';

export interface Storage {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  /**
   * Runs a request's handler so that its storing operations, together, wait at most a few seconds: a
   * database that answers one query and then goes away must not hold the browser for the sum. The
   * embedded store, on the local disk, needs no such bound and runs the handler as it is.
   */
  bounded<T>(handle: () => T): T;
  /** Stores everything pending and closes the files or the connections. */
  close(): Promise<void>;
}

export interface StorageOptions {
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** Keys the derivation of refresh successors: the JWT secret, under its own label. */
  readonly secret: Uint8Array;
  readonly clock: Clock;
  readonly log: Logger;
  readonly lifetimes?: SessionLifetimes | undefined;
  /** The embedded stores' file operations, so a test can make a write fail at open, write, fsync or rename. */
  readonly fs?: FileSystem | undefined;
  /**
   * Why `dataDir` must already hold the embedded stores (its `jwt-secret` is there): a store found
   * missing then refuses the start instead of starting empty (docs/storage.md).
   */
  readonly expected?: string | undefined;
}

export function openStorage(options: StorageOptions): Promise<Storage> {
  return options.databaseUrl === undefined ? openFiles(options) : openDatabase(options.databaseUrl, options);
}

/**
 * The embedded stores, and a line saying what they hold and how long reading them took: with 100,000
 * users and sessions that is most of the start, and an operator should see it grow before it matters.
 */
async function openFiles(options: StorageOptions): Promise<Storage> {
  const started = performance.now();
  const users = await JsonUserStore.open(options.dataDir, options);
  const sessions = await JsonSessionStore.open(options.dataDir, options);
  const count = (n: number, noun: string) => `${groupDigits(n)} ${noun}${n === 1 ? '' : 's'}`;
  const ms = Math.round(performance.now() - started);
  options.log.info(`Storage: ${count(users.size, 'user')} and ${count(sessions.size, 'session')} in ${options.dataDir} (read in ${ms} ms)`);
  return { users, sessions, bounded: (handle) => handle(), close: () => Promise.all([users.close(), sessions.close()]).then(() => {}) };
}

/** PostgreSQL, loaded only when `DATABASE_URL` asks for it: the embedded store never needs its client. */
async function openDatabase(url: string, options: StorageOptions): Promise<Storage> {
  const [{ openPostgres }, { describeDatabase }, { withStorageDeadline }] = await Promise.all([
    import('./postgres/open.ts'),
    import('./postgres/database.ts'),
    import('../support/storage_deadline.ts'),
  ]);
  const database = await openPostgres(url, options);
  options.log.info(`Storage: PostgreSQL at ${describeDatabase(url)}`);
  const { users, sessions } = database;
  // AsyncLocalStorage carries the deadline to the stores; loaded only here, it costs the embedded store nothing.
  return { users, sessions, bounded: withStorageDeadline, close: () => Promise.all([users.close(), sessions.close()]).then(() => database.close()) };
}

/** `100000` → `100,000`, by hand: `toLocaleString` loads the ICU locale data, a tenth of a start. */
function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
}
