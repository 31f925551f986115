/**
 * docs/benchmarks.md describes what `npm run bench` does: the sections bench/run.ts runs, the figures
 * of bench/plan.ts (rounds, seconds, connections, store sizes, targets), the servers it starts, the
 * variables it reads, and the history it keeps in bench/RESULTS.md. Change the bench, and this fails
 * until the page says so too.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FAST_CONNECTIONS, ORDER, RUNTIMES, RUNTIME_NAMES, SIGNUP, STORE_SIZES, TARGETS } from '../../bench/plan.ts';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
const page = read('docs/benchmarks.md');
const runTs = read('bench/run.ts');
const benchSources = readdirSync(path.join(PROJECT_ROOT, 'bench'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => read(`bench/${name}`))
  .join('\n');

/** The text under a `## ` heading, up to the next one. */
function section(heading: string): string {
  const start = page.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `docs/benchmarks.md has no "## ${heading}" section`);
  const end = page.indexOf('\n## ', start + 1);
  return page.slice(start, end === -1 ? undefined : end);
}

/** The numbered items of "How it measures", by number. */
function items(): Map<number, string> {
  const list = section('How it measures');
  const parts = list.split(/^(?=\d+\. \*\*)/m).slice(1);
  return new Map(parts.map((part) => [Number(/^(\d+)\./.exec(part)![1]), part.replace(/\s+/g, ' ')]));
}

const WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'];

describe('docs/benchmarks.md, "How it measures", against bench/run.ts and bench/plan.ts', () => {
  test('one numbered item per section bench/run.ts runs, in order', () => {
    const sections = [...new Set([...runTs.matchAll(/ONLY\.has\((\d)\)/g)].map((match) => Number(match[1])))].sort();
    assert.deepEqual([...items().keys()], sections);
  });

  test('1: /order on every runtime, against both yardsticks, in interleaved rounds of the planned length', () => {
    const item = items().get(1)!;
    for (const runtime of RUNTIMES) assert.match(item, new RegExp(`\\b${RUNTIME_NAMES[runtime]}\\b`));
    assert.ok(item.includes(`${WORDS[RUNTIMES.length * 3]} servers at once`), 'the number of servers');
    assert.ok(item.includes(`warmed up for ${ORDER.warmUpSeconds} s`));
    assert.ok(item.includes(`${ORDER.rounds} rounds of ${ORDER.seconds} s`));
    assert.ok(item.includes(`${FAST_CONNECTIONS} connections`));
    assert.ok(item.includes('in turn'), 'the rounds interleave the servers');
    assert.ok(item.includes('`bench/bare_server.ts`') && item.includes('`bench/fastify_server.ts`'));
  });

  test('2: sign-up on the project and Fastify on every runtime, in the same rounds as raw argon2', () => {
    const item = items().get(2)!;
    assert.ok(item.includes('`bench/argon2_raw.ts`'));
    assert.ok(item.includes(`${SIGNUP.rounds} rounds of ${SIGNUP.seconds} s`));
    assert.ok(item.includes(`the ${WORDS[1 + RUNTIMES.length * 2]} in turn`), 'raw argon2 and two servers per runtime');
    assert.ok(item.includes(`${4 * 4} in flight`), "four times libuv's default pool of 4");
    assert.match(runTs, /const ARGON2_CONCURRENCY = 4 \* POOL_SIZE;/);
  });

  test('3: the store sizes', () => {
    const item = items().get(3)!;
    for (const size of STORE_SIZES.filter((size) => size > 0)) assert.ok(item.includes(size.toLocaleString('en')), `${size}`);
  });

  test('every server script in bench/ is named on the page, and every one named exists', () => {
    const scripts = readdirSync(path.join(PROJECT_ROOT, 'bench')).filter((name) => /_server\.ts$|_raw\.ts$/.test(name));
    for (const script of scripts) assert.ok(page.includes(`bench/${script}`), `bench/${script} is not described`);
    // Not what runs write: bench/charts/ comes with the first full run, the partial charts with a quick one.
  const written = (named: string) => named.endsWith('/') || named.includes('.partial.');
  for (const [, named] of page.matchAll(/`(bench\/[\w./]+)`/g)) {
    if (!written(named!)) assert.ok(existsSync(path.join(PROJECT_ROOT, named!)), `${named} does not exist`);
  }
  });
});

test('the targets table gives every target bench/plan.ts reports', () => {
  const table = section('The targets');
  const expected = [
    `≥ ${TARGETS.orderRps}×`,
    `≤ ${TARGETS.orderP99}×`,
    `≥ ${TARGETS.signup}×`,
    `≤ ${TARGETS.startEmptyMs} ms`,
    `≤ ${TARGETS.startLargestMs} ms`,
    `≤ ${TARGETS.rssLargestMb} MB`,
  ];
  for (const target of expected) assert.ok(table.includes(target), `"${target}" is not in the targets table`);
});

test('the variables the page lists are those the bench reads', () => {
  const readByBench = new Set([...benchSources.matchAll(/process\.env\.(BENCH_\w+)/g)].map((match) => match[1]));
  const listed = new Set([...page.matchAll(/\b(BENCH_[A-Z]+)=/g)].map((match) => match[1]));
  assert.deepEqual([...listed].sort(), [...readByBench].sort());
});

test('the build step the page describes is the one package.json runs', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const build = section('The build step');
  assert.equal(scripts.prestart, 'node scripts/build.mjs');
  assert.ok(build.includes('`scripts/build.mjs`'));
  assert.ok(build.includes(`\`${scripts.start!.replace(/^exec /, '')}\``), 'the start command');
  assert.ok(build.includes('`npm run build`') && scripts.build !== undefined);
});

test('bench/RESULTS.md is a history: dated entries, the latest first, each chart it shows present', () => {
  const results = read('bench/RESULTS.md');
  const dates = [...results.matchAll(/^## (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$/gm)].map((match) => match[1]!);
  assert.ok(dates.length >= 1, 'no dated entry');
  assert.deepEqual(dates, [...dates].sort().reverse());
  for (const [, file] of results.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) assert.ok(existsSync(path.join(PROJECT_ROOT, 'bench', file!)), `${file} is missing`);
});
