/**
 * The connection to PostgreSQL: one pool per instance, its settings, and the one rule for its failures:
 * anything but a decision the database made on purpose (a unique name taken) is a `StorageError`, which
 * the listener answers with 503 and `Retry-After`. A transaction either committed or changed nothing,
 * so a 503 never leaves half a sign-up or half a rotation behind.
 */
import postgres from 'postgres';
import { StorageError } from '../../errors.ts';

export type Sql = postgres.Sql;
export type Transaction = postgres.TransactionSql;

/**
 * A query fails within ~2 s when the database cannot be reached (postgres.js waits 30 s by default),
 * so sign-up, login and refresh answer 503 quickly instead of holding the browser.
 */
export const CONNECT_TIMEOUT_SECONDS = 2;
/** Per instance. Each request holds a connection for a few milliseconds, inside one transaction. */
const POOL_SIZE = 10;

export function connect(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? POOL_SIZE,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    idle_timeout: 60,
    // A database that has not answered for 15 s is taken as gone, and the query fails (then 503).
    connection: { statement_timeout: 15_000, application_name: 'jwt-cookie-redirect' },
    // "relation already exists, skipping" and the like: nothing an operator needs on the console.
    onnotice: () => {},
  });
}

/**
 * The URL without its password, for a log line: `postgres://app@db.internal:5432/app`.
 * The password must never reach a log, so the URL itself is never printed.
 */
export function describeDatabase(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.href;
}

/** Runs `work`, turning a failure of the database (or of reaching it) into a `StorageError`. */
export async function storing<T>(action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new StorageError(`Cannot ${action}: the database did not answer (${reason(error)})`, { cause: error });
  }
}

/** A short reason: the SQLSTATE or the socket error, never a connection string. */
function reason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown error';
}


/** Milliseconds stored as `bigint` come back as strings (they may exceed 2^53); ours never do. */
export function millis(value: unknown): number {
  return Number(value);
}
