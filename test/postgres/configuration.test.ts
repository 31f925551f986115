/**
 * DATABASE_URL: how it is read, what Deno is allowed to reach for it, and that its password never
 * reaches a log line. The last test runs `npm run start:deno` against the real database.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readConfig } from '../../lib/config.ts';
import { describeDatabase } from '../../lib/storage/postgres/database.ts';
import { denoPermissions } from '../../scripts/deno_permissions.ts';
import { TestBrowser } from '../helpers/https_client.ts';
import { PROJECT_ROOT, TEST_SECRET, makeTempDir, npmServerEnv } from '../helpers/server.ts';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from './database.ts';
import { ConfigError } from '../../lib/errors.ts';

const URL_WITH_PASSWORD = 'postgres://app:s3cret-pa55@db.internal:6543/app';

/** The values of every `--<name>=...` flag. */
function flagValues(flags: string[], name: string): string[] {
  return flags.filter((flag) => flag.startsWith(`--${name}=`)).flatMap((flag) => flag.slice(name.length + 3).split(','));
}

describe('DATABASE_URL', () => {
  test('unset, the embedded store is used; set, it is kept as given', () => {
    assert.equal(readConfig({}).databaseUrl, undefined);
    assert.equal(readConfig({ DATABASE_URL: URL_WITH_PASSWORD, JWT_SECRET: TEST_SECRET }).databaseUrl, URL_WITH_PASSWORD);
    assert.equal(readConfig({ DATABASE_URL: 'postgresql://db/app', JWT_SECRET: TEST_SECRET }).databaseUrl, 'postgresql://db/app');
  });

  test('something else is refused with an example, and the value (which may hold a password) is not quoted', () => {
    for (const bad of ['mysql://app:s3cret-pa55@db/app', 'db.internal:5432', 'postgres://:s3cret-pa55@/app']) {
      assert.throws(() => readConfig({ DATABASE_URL: bad, JWT_SECRET: TEST_SECRET }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^Cannot start: DATABASE_URL must look like postgres:\/\/user:password@host:5432\/database$/);
        assert.ok(!error.message.includes('s3cret'));
        return true;
      });
    }
  });

  test('needs JWT_SECRET: instances that share users must share the key that signs their tokens', () => {
    assert.throws(() => readConfig({ DATABASE_URL: URL_WITH_PASSWORD }), /^ConfigError: Cannot start: DATABASE_URL needs JWT_SECRET, the same on every instance/);
  });

  test('is described for the log without its password', () => {
    assert.equal(describeDatabase(URL_WITH_PASSWORD), 'postgres://app@db.internal:6543/app');
  });

  test('under Deno, the server may connect to the database host and port, and nowhere else', async () => {
    const listen = { HOST: '127.0.0.1', PORT: '8443', JWT_SECRET: TEST_SECRET };
    const table: [string, string][] = [
      [URL_WITH_PASSWORD, 'db.internal:6543'],
      ['postgres://app@db.internal/app', 'db.internal:5432'],
      ['postgres://app@[::1]:5433/app', '[::1]:5433'],
    ];
    for (const [url, allowed] of table) {
      assert.deepEqual(flagValues(await denoPermissions({ ...listen, DATABASE_URL: url }, PROJECT_ROOT), 'allow-net'), ['127.0.0.1:8443', allowed]);
    }
    assert.deepEqual(flagValues(await denoPermissions(listen, PROJECT_ROOT), 'allow-net'), ['127.0.0.1:8443']);
  });
});

describeWithPostgres('npm run start:deno with DATABASE_URL', () => {
  let database: TestDatabase;
  let root: string;
  before(async () => {
    database = await createTestDatabase();
    root = await makeTempDir('jwt-start-deno-pg-');
  });
  after(async () => {
    await database.drop();
    await rm(root, { recursive: true, force: true });
  });

  test('grants --allow-net to the database host:port only, signs up through it, and never prints the password', async () => {
    const env = { ...npmServerEnv(root), DATABASE_URL: database.url };
    // As a user starts it: npm runs the launcher, which prints the `deno run` command, and npm's shell execs it.
    const child = spawn('npm', ['run', '--silent', 'start:deno'], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let origin: string | undefined;
      for (const deadline = Date.now() + 60_000; origin === undefined && Date.now() < deadline && child.exitCode === null; ) {
        origin = /Listening on (https:\/\/\S+)/.exec(output)?.[1];
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(origin, output);
      const database_ = new URL(database.url);
      assert.deepEqual(flagValues(/^\$ .*$/m.exec(output)![0].split(' '), 'allow-net'), ['127.0.0.1:0', `${database_.hostname}:${database_.port}`]);
      const browser = new TestBrowser(origin, await readFile(env.TLS_CERT, 'utf8'));
      assert.deepEqual((await browser.signup('deno-pg')).hops, ['/signup', '/order']);
      assert.equal(await database.count`SELECT count(*) FROM users WHERE username = 'deno-pg'`, 1);
      assert.match(output, /Storage: PostgreSQL at postgres:\/\/postgres@/);
      assert.ok(!output.includes(decodeURIComponent(database_.password)), 'the password is never printed');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});
