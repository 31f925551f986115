/**
 * The real server (under the test runtime) started with a DATABASE_URL an operator got wrong: it stops
 * with one line that names the database, never its password, and says what to check.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RUNTIME, TEST_SECRET, runUntilExit } from '../helpers/server.ts';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from './database.ts';

describeWithPostgres(`a DATABASE_URL the database refuses (server under ${RUNTIME})`, () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.drop());

  test('a wrong password: one line naming the database and the user, and no password', async () => {
    const url = new URL(database.url);
    url.password = 'not-the-password-s3cret';
    const { code, output, stderr } = await runUntilExit({ DATABASE_URL: url.href, JWT_SECRET: TEST_SECRET });
    assert.equal(code, 1, output);
    assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    url.password = '';
    assert.equal(stderr.trimEnd(), `Cannot start: PostgreSQL at ${url.href} refused the login (SQLSTATE 28P01): check the user name and password in DATABASE_URL`);
    assert.ok(!output.includes('s3cret'), 'the password is never printed');
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
  });

  test('a database that does not exist: one line saying so', async () => {
    const url = new URL(database.url);
    url.pathname = '/no_such_database';
    const { code, stderr } = await runUntilExit({ DATABASE_URL: url.href, JWT_SECRET: TEST_SECRET });
    assert.equal(code, 1, stderr);
    assert.match(stderr.trimEnd(), /^Cannot start: PostgreSQL at \S+\/no_such_database has no such database \(SQLSTATE 3D000\): create it, or correct DATABASE_URL$/);
  });
});
