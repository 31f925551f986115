/**
 * The bench's bookkeeping, without running a benchmark: bench/RESULTS.md grows by one entry per full
 * run, the latest first, never rewriting an earlier one (bench/history.ts); the yardsticks replay the
 * project's recorded headers, all but those the runtime writes itself (bench/recorded_response.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { lastRecordedRatio, prependEntry } from '../../bench/history.ts';
import { replayedHeaders, type RecordedResponse } from '../../bench/recorded_response.ts';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const entry = (date: string, ratio: string) =>
  `## ${date}\n\n2 cores.\n\n| | measure | project | against | ratio | target | met | note |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n| 1. /order, Deno | req/s of the project on Deno against on Node | 900 | 1000 | ${ratio} | | | |\n`;

describe('prependEntry', () => {
  test('puts the new entry first and keeps every earlier one as it was', () => {
    const first = prependEntry(undefined, entry('2026-12-01T10:00:00Z', '0.90'));
    const second = prependEntry(first, entry('2026-12-02T10:00:00Z', '0.95'));
    const third = prependEntry(second, entry('2026-12-03T10:00:00Z', '0.97'));
    const dates = [...third.matchAll(/^## (\S+)$/gm)].map((match) => match[1]);
    assert.deepEqual(dates, ['2026-12-03T10:00:00Z', '2026-12-02T10:00:00Z', '2026-12-01T10:00:00Z']);
    assert.ok(third.endsWith(first.slice(first.indexOf('## '))), 'the first entry changed');
    assert.ok(third.startsWith('# Benchmark results\n\n'));
    assert.equal(third.match(/^# /gm)?.length, 1, 'one title');
  });

  test('keeps the recorded history of bench/RESULTS.md whole', () => {
    const history = readFileSync(path.join(PROJECT_ROOT, 'bench', 'RESULTS.md'), 'utf8');
    const updated = prependEntry(history, entry('2099-01-01T00:00:00Z', '1.00'));
    assert.ok(updated.endsWith(history.slice(history.indexOf('\n## ') + 1)));
    assert.equal(updated.match(/^# /gm)?.length, 1, 'one title');
    assert.equal(updated.split('Produced by `npm run bench`').length, 2, 'one introduction');
  });
});

describe('lastRecordedRatio', () => {
  test("reads the latest run's ratio for a measure", () => {
    const history = prependEntry(prependEntry(undefined, entry('2026-12-01T10:00:00Z', '0.90')), entry('2026-12-02T10:00:00Z', '0.95'));
    assert.equal(lastRecordedRatio(history, 'req/s of the project on Deno against on Node'), 0.95);
  });

  test('has nothing to say before any run measured it', () => {
    assert.equal(lastRecordedRatio(undefined, 'req/s of the project on Deno against on Node'), undefined);
    assert.equal(lastRecordedRatio(prependEntry(undefined, entry('2026-12-01T10:00:00Z', '')), 'req/s of the project on Deno against on Node'), undefined);
    assert.equal(lastRecordedRatio(prependEntry(undefined, entry('2026-12-01T10:00:00Z', '0.9')), 'another measure'), undefined);
  });
});

test('a yardstick replays every recorded header, in order, but those the runtime writes on every answer', () => {
  const recorded: RecordedResponse = {
    status: 200,
    statusMessage: 'OK',
    headers: [
      ['Content-Security-Policy', "default-src 'self'"],
      ['Content-Type', 'text/html; charset=utf-8'],
      ['Content-Length', '3131'],
      ['Date', 'Tue, 08 Dec 2026 01:10:44 GMT'],
      ['connection', 'keep-alive'],
      ['Keep-Alive', 'timeout=5'],
      ['Vary', 'Origin'],
    ],
    body: '',
    username: 'benchuser',
  };
  assert.deepEqual(replayedHeaders(recorded), [
    ['Content-Security-Policy', "default-src 'self'"],
    ['Content-Type', 'text/html; charset=utf-8'],
    ['Content-Length', '3131'],
    ['Vary', 'Origin'],
  ]);
});
