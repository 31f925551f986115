/**
 * The PostgreSQL the tests use: the one `pg_virtualenv` made for this run (`npm run test:pg` starts
 * one), found through the PG* variables it sets. Each test file gets a database of its own.
 *
 * Without a reachable database the suites are skipped, visibly and with the install hint; under
 * `CI=true` they fail instead, since CI installs PostgreSQL and must not pass by skipping.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { describe, test, type SuiteFn } from 'node:test';
import postgres from 'postgres';

const execFileAsync = promisify(execFile);

export const INSTALL_HINT =
  'PostgreSQL is not reachable: install it (apt-get install -y postgresql) and run `npm run test:pg`, ' +
  'which starts a throwaway cluster with pg_virtualenv';

/** The server the PG* variables point at, as a URL; undefined when there is none. */
function serverUrl(database = process.env.PGDATABASE ?? 'postgres'): string | undefined {
  const { PGHOST, PGPORT = '5432', PGUSER = 'postgres', PGPASSWORD = '' } = process.env;
  if (PGHOST === undefined || PGHOST === '' || PGHOST.startsWith('/')) return undefined;
  return `postgres://${encodeURIComponent(PGUSER)}:${encodeURIComponent(PGPASSWORD)}@${PGHOST}:${PGPORT}/${encodeURIComponent(database)}`;
}

async function reachable(url: string | undefined): Promise<boolean> {
  if (url === undefined) return false;
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 0 });
  }
}

export const POSTGRES_AVAILABLE = await reachable(serverUrl());

/**
 * `describe`, run only where PostgreSQL is: skipped with the hint outside CI, failing under CI=true.
 */
export function describeWithPostgres(name: string, fn: SuiteFn): void {
  if (POSTGRES_AVAILABLE) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    test(name, () => {
      throw new Error(`${INSTALL_HINT} (CI=true: PostgreSQL tests fail rather than skip)`);
    });
  } else {
    // A skipped test, not a skipped suite: node --test counts tests, so the summary shows "# skipped N".
    test(name, { skip: INSTALL_HINT }, () => {});
  }
}

export interface TestDatabase {
  readonly url: string;
  /** A connection of the test's own, to look at or change rows directly. */
  readonly sql: postgres.Sql;
  /** The number a `SELECT count(*)` query counts: database.count`SELECT count(*) FROM users`. */
  count(query: TemplateStringsArray, ...values: postgres.ParameterOrFragment<never>[]): Promise<number>;
  drop(): Promise<void>;
}

/** A new, empty database on the test server; `drop()` removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `jwt_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl()!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = serverUrl(name)!;
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  return {
    url,
    sql,
    async count(query, ...values) {
      const [row] = await sql<{ count: string }[]>(query, ...values);
      return Number(row?.count);
    },
    async drop() {
      await sql.end({ timeout: 1 });
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 1 });
    },
  };
}

/**
 * The cluster `pg_virtualenv` made, to stop and start it as an outage would (`pg_ctlcluster` runs
 * `pg_ctl` as the postgres user). Undefined when the database is not a local Debian cluster.
 * Asynchronous, so that a test timing answers while the database stops or starts is not itself held up.
 */
export function localCluster(): { stop(): Promise<void>; start(): Promise<void> } | undefined {
  let listing: string;
  try {
    listing = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const port = process.env.PGPORT ?? '5432';
  // "15  regress 5433 online postgres /var/lib/postgresql/15/regress /var/log/..."
  const line = listing.split('\n').map((row) => row.trim().split(/\s+/)).find((fields) => fields[2] === port);
  if (line === undefined) return undefined;
  const [version, cluster] = line as [string, string];
  const pgCtlCluster = (...args: string[]) => execFileAsync('pg_ctlcluster', [version, cluster, ...args]);
  return {
    stop: async () => {
      await pgCtlCluster('stop', '-m', 'immediate');
    },
    /** Starts it, or leaves it running when it is; resolves once it accepts connections. */
    start: async () => {
      if (await pgCtlCluster('status').then(() => false, () => true)) await pgCtlCluster('start');
    },
  };
}
