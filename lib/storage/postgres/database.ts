/**
 * The connection to PostgreSQL: one pool per instance, its settings, and the one rule for its failures:
 * a value the database refuses as invalid (SQLSTATE class 22, such as a NUL in a text) is the
 * client's `InvalidInputError` (400); anything else but a decision the database made on purpose (a
 * unique name taken) is a `StorageError`, which the listener answers with 503 and `Retry-After`. A
 * transaction either committed or changed nothing, so a 503 never leaves half a sign-up or half a
 * rotation behind.
 *
 * Every storing operation has a deadline: what is left of the request's 2.5 s for storage
 * (`support/storage_deadline.ts`). Without one, postgres.js queues a query until it has a connection
 * and keeps trying to connect: writes took up to 17 s during a 16 s outage, and some were committed
 * (and answered 303) once the database came back. A transaction that misses its deadline never commits
 * later: see `transaction()`.
 */
import postgres from 'postgres';
import { InvalidInputError, StorageError } from '../../errors.ts';
import { STORAGE_DEADLINE_MS, storageTimeLeft } from '../../support/storage_deadline.ts';

export type Sql = postgres.Sql;
export type Transaction = postgres.TransactionSql;

/**
 * A query fails within ~2 s when the database cannot be reached (postgres.js waits 30 s by default),
 * so sign-up, login and refresh answer 503 quickly instead of holding the browser.
 */
export const CONNECT_TIMEOUT_SECONDS = 2;
/** Per instance. Each request holds a connection for a few milliseconds, inside one transaction. */
const POOL_SIZE = 10;

/**
 * A transaction must have sent its COMMIT this long before the deadline, or it rolls back instead:
 * the COMMIT's answer gets the rest of the time.
 */
export const COMMIT_ALLOWANCE_MS = 500;

/**
 * How long postgres.js waits before connecting again after a connection failed: from 100 ms, doubling,
 * at most 1 s. Its default grows to 20 s, so an instance went on waiting that long after the database
 * was back.
 */
function reconnectDelaySeconds(failures: number): number {
  return Math.min(0.1 * 2 ** failures, 1);
}

export function connect(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? POOL_SIZE,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    idle_timeout: 60,
    backoff: reconnectDelaySeconds,
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

/** Passed to `storing()` for work that is no request's, such as loading the whole state. */
export const NO_DEADLINE = Infinity;

/**
 * Runs `work` within what is left of the request's storage deadline, turning a failure of the database
 * (or of reaching it, or of answering in time) into a `StorageError`, and a value it refuses into an
 * `InvalidInputError`.
 *
 * At the deadline the caller is answered at once; a query still waiting for a connection is taken out
 * of postgres.js's queue, so it is never sent. Writes go through `transaction()`, which makes sure a
 * transaction given up on here does not commit later either. Loading the whole state (at start, after a
 * reconnection) is no request and passes `NO_DEADLINE`: it may take longer than a request should wait,
 * and the connection's `statement_timeout` still bounds it.
 */
export async function storing<T>(action: string, work: () => PromiseLike<T>, deadlineMs = storageTimeLeft()): Promise<T> {
  if (deadlineMs <= 0) throw failure(action, new DeadlineMissed());
  const pending = work();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    if (deadlineMs !== NO_DEADLINE) timer = setTimeout(() => reject(new DeadlineMissed()), deadlineMs);
  });
  try {
    return await Promise.race([pending, late]);
  } catch (error) {
    if (error instanceof DeadlineMissed) giveUp(pending);
    throw failure(action, error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `body` in one transaction that commits only before the deadline of the `storing()` around it.
 * A transaction the caller has given up on (and answered 503) must not commit later, and there are
 * three ways it could:
 * - it waited for a connection past the deadline and would start now: it refuses to start;
 * - a statement waits on a lock, or the client is gone mid-transaction: `statement_timeout` and
 *   `idle_in_transaction_session_timeout`, set for this transaction to the time left, make the server
 *   itself abort it, whatever happens to this process or its connection;
 * - its statements ended late: it checks the time before COMMIT, and rolls back instead.
 * What remains is the case no client can close: a COMMIT sent in time whose answer never comes. It is
 * answered 503 and may have committed; every write here can be retried safely (see docs/instances.md).
 */
export function transaction<T>(sql: Sql, body: (tx: Transaction) => Promise<T>): Promise<T> {
  const commitBy = performance.now() + storageTimeLeft() - COMMIT_ALLOWANCE_MS;
  const msLeft = () => Math.floor(commitBy - performance.now());
  // The cast: begin() would unwrap a result that is an array of promises, which none here is.
  return sql.begin(async (tx) => {
    if (msLeft() <= 0) throw new DeadlineMissed();
    const serverLimit = String(msLeft());
    await tx`SELECT set_config('statement_timeout', ${serverLimit}, true), set_config('idle_in_transaction_session_timeout', ${serverLimit}, true)`;
    const result = await body(tx);
    if (msLeft() <= 0) throw new DeadlineMissed();
    return result;
  }) as Promise<T>;
}

/** The database did not answer in time. Never seen by callers: `storing()` turns it into a `StorageError`. */
class DeadlineMissed extends Error {
  override readonly name = 'DeadlineMissed';
  constructor() {
    super(`no answer within the request's ${STORAGE_DEADLINE_MS} ms for storage`);
  }
}

/** A postgres.js query still queued is removed (and one running is cancelled); a late rejection is ignored. */
function giveUp(pending: PromiseLike<unknown>): void {
  Promise.resolve(pending).catch(() => {});
  const query = pending as Partial<postgres.PendingQuery<postgres.Row[]>>;
  if (typeof query.cancel === 'function') Promise.resolve(query.cancel()).catch(() => {});
}

/** A value the database refused is the client's mistake (400); any other failure is storage's (503). */
function failure(action: string, error: unknown): Error {
  if (error instanceof DeadlineMissed) return new StorageError(`Cannot ${action}: the database did not answer in time (${error.message})`, { cause: error });
  const code = reason(error);
  if (/^22[0-9A-Z]{3}$/.test(code)) {
    // Class 22, data exception: a NUL byte in a text (22021), a number out of range (22003)...
    return new InvalidInputError('This request holds a value that cannot be stored (such as an invisible control character)', { cause: error });
  }
  return new StorageError(`Cannot ${action}: the database did not answer (${code})`, { cause: error });
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
