/**
 * `npm run test:pg`: the PostgreSQL suites (test/postgres/), under Node, then the multi-instance
 * scenario again with the servers under Deno.
 *
 * They need a database: with PGHOST set (or DATABASE_URL-less PG* variables from your own set-up) they
 * use it; otherwise, where Debian's `pg_virtualenv` is installed (apt-get install postgresql), this
 * script runs itself again inside it: a throwaway cluster for the run, dropped afterwards. Without
 * either, the suites skip with the install hint (and fail under CI=true).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SUITES = path.join(PROJECT_ROOT, 'test', 'postgres');
/** The suite that launches server.ts, and so runs once per runtime. */
const SCENARIO = path.join(SUITES, 'instances.test.ts');

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const result = spawnSync(command, args, { stdio: 'inherit', env, cwd: PROJECT_ROOT });
  if (result.error !== undefined) throw result.error;
  return result.status ?? 1;
}

function hasPgVirtualenv(): boolean {
  return spawnSync('sh', ['-c', 'command -v pg_virtualenv'], { stdio: 'ignore' }).status === 0;
}

if ((process.env.PGHOST ?? '') === '' && hasPgVirtualenv()) {
  // pg_virtualenv sets PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE for the command it runs.
  process.exit(run('pg_virtualenv', [process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url)]));
}

const files = readdirSync(SUITES).filter((name) => name.endsWith('.test.ts')).map((name) => path.join(SUITES, name));
// One file at a time: the outage test stops the one database every suite uses.
const node = run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]);
const deno = run(process.execPath, ['--import', 'tsx', '--test', SCENARIO], { ...process.env, TEST_RUNTIME: 'deno' });
process.exit(node !== 0 ? node : deno);
