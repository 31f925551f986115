/**
 * docs/instances.md states numbers and messages the code decides; each is checked here against the
 * code, so the page cannot drift. (The behaviour behind them is tested in instances.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readConfig } from '../../lib/config.ts';
import { COMMIT_ALLOWANCE_MS, describeDatabase } from '../../lib/storage/postgres/database.ts';
import { ATTEMPT_LIMIT_MS } from '../../lib/storage/postgres/session_events.ts';
import { STORAGE_DEADLINE_MS } from '../../lib/support/storage_deadline.ts';
import { CHANNEL, DEFAULT_FEED_TIMING } from '../../lib/storage/postgres/session_events.ts';
import { MAX_SESSIONS_PER_USER } from '../../lib/sessions/rules.ts';
import { ECHO_WAIT_MS } from '../../lib/storage/postgres/session_store.ts';
import { PROJECT_ROOT, TEST_SECRET } from '../helpers/server.ts';

const page = await readFile(path.join(PROJECT_ROOT, 'docs', 'instances.md'), 'utf8');
/** The page's text on one line, so a sentence broken across lines still matches. */
const text = page.replace(/\s+/g, ' ');

test('docs/instances.md states the timings the code uses', () => {
  assert.ok(text.includes(`verifying from memory for ${DEFAULT_FEED_TIMING.staleAfterMs / 1000} s`));
  assert.equal(DEFAULT_FEED_TIMING.heartbeatMs, 1_000);
  assert.ok(text.includes('a heartbeat through the database every second'));
  assert.ok(text.includes(`Silent for ${DEFAULT_FEED_TIMING.reconnectAfterMs / 1000} s`));
  assert.ok(text.includes(`A waits for its own copy (at most ${ECHO_WAIT_MS} ms)`));
  assert.ok(text.includes(`A request may wait on the database ${STORAGE_DEADLINE_MS / 1000} s in all`));
  assert.ok(text.includes(`once the deadline is less than ${COMMIT_ALLOWANCE_MS / 1000} s away`));
  assert.ok(text.includes(`each attempt given up after ${ATTEMPT_LIMIT_MS / 1000} s`));
});

test('docs/instances.md names the channel and the session cap the code uses', () => {
  assert.ok(text.includes(`LISTEN on ${CHANNEL}`));
  assert.ok(text.includes(`an ${MAX_SESSIONS_PER_USER + 1}th session ends the oldest of the user's ${MAX_SESSIONS_PER_USER}`));
});

test("docs/instances.md quotes the server's own refusal and log line", () => {
  assert.throws(() => readConfig({ DATABASE_URL: 'postgres://app:password@db.internal:5432/app' }), (error: Error) => text.includes(`\`${error.message}\``));
  const logged = describeDatabase('postgres://app:password@db.internal:5432/app');
  assert.ok(text.includes(`\`Storage: PostgreSQL at ${logged}\``), logged);
  assert.ok(readConfig({ DATABASE_URL: 'postgres://app:password@db.internal:5432/app', JWT_SECRET: TEST_SECRET }).databaseUrl);
});
