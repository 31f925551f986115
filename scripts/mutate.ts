/**
 * `npm run mutate`: mutation testing (StrykerJS) of every module that makes a security decision, each
 * against its own tests. Stryker changes one thing at a time in the module (a `===` into `!==`, a
 * limit into another number, a check into `false`) and runs the tests; a change that leaves them green
 * is a check that no test protects. The scores and each remaining survivor are in docs/testing.md.
 *
 *   npm run mutate                       every module, incremental (only what changed is re-tested)
 *   npm run mutate -- next_path cookies  only these modules
 *   npm run mutate -- --force            every mutant again, ignoring the incremental files
 *   npm run mutate -- --concurrency 2    two test runs at a time (default 1)
 *
 * `node --test` has no Stryker runner, so each module runs with Stryker's command runner, which runs
 * the whole command once per mutant: the command is only the tests of that module, to stay fast.
 * Reports go to reports/mutation/ (git-ignored): `<module>.html` to read, `<module>.json`, and the
 * incremental file `<module>.incremental.json` that makes a re-run cost only the changed code.
 * Ends with `mutation: N passed, M failed` (modules at or over the threshold, and under it), and exits 1
 * when a module scores under the threshold. CI runs it after `npm test` (`.ci/run`).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { MutantResult, PartialStrykerOptions } from '@stryker-mutator/api/core';

/** Each module that makes a security decision, and the tests that must catch any change to it. */
export const MODULES: ReadonlyArray<{ name: string; module: string; tests: readonly string[] }> = [
  { name: 'next_path', module: 'lib/defences/next_path.ts', tests: ['test/lib/defences/next_path.test.ts'] },
  { name: 'cross_site', module: 'lib/defences/cross_site.ts', tests: ['test/lib/defences/cross_site.test.ts'] },
  { name: 'cookies', module: 'lib/http/cookies.ts', tests: ['test/lib/http/cookies.test.ts'] },
  { name: 'session_cookies', module: 'lib/sessions/cookies.ts', tests: ['test/lib/sessions/cookies.test.ts'] },
  { name: 'credentials', module: 'lib/accounts/credentials.ts', tests: ['test/lib/accounts/credentials.test.ts'] },
  { name: 'access_tokens', module: 'lib/sessions/access_tokens.ts', tests: ['test/lib/sessions/access_tokens.test.ts'] },
  { name: 'static_files', module: 'lib/http/static_files.ts', tests: ['test/lib/http/static_files.test.ts'] },
  // Last: these three are being rewritten (see docs/testing.md).
  { name: 'body', module: 'lib/http/body.ts', tests: ['test/lib/http/body.test.ts'] },
  { name: 'rate_limit', module: 'lib/defences/rate_limit.ts', tests: ['test/lib/defences/rate_limit.test.ts'] },
  { name: 'login_backoff', module: 'lib/defences/login_backoff.ts', tests: ['test/lib/defences/login_backoff.test.ts'] },
  { name: 'lru_map', module: 'lib/support/lru_map.ts', tests: ['test/lib/support/lru_map.test.ts'] },
  { name: 'device_tokens', module: 'lib/defences/device_tokens.ts', tests: ['test/lib/defences/device_tokens.test.ts'] },
  { name: 'device_cookie', module: 'lib/defences/device_cookie.ts', tests: ['test/lib/defences/device_cookie.test.ts'] },
  { name: 'header_limit', module: 'lib/defences/header_limit.ts', tests: ['test/lib/defences/header_limit.test.ts'] },
  { name: 'connection_limits', module: 'lib/defences/connection_limits.ts', tests: ['test/lib/defences/connection_limits.test.ts'] },
  { name: 'session_rules', module: 'lib/sessions/rules.ts', tests: ['test/lib/sessions/rules.test.ts', 'test/lib/storage/store_contract.test.ts'] },
  { name: 'refresh_tokens', module: 'lib/sessions/refresh_tokens.ts', tests: ['test/lib/sessions/refresh_tokens.test.ts'] },
  // The journal store's bookkeeping (undo, replay, pruning), through its public methods and its files only.
  {
    name: 'session_store',
    module: 'lib/storage/session_store.ts',
    tests: ['test/lib/storage/session_store.test.ts', 'test/lib/storage/session_store_bookkeeping.test.ts', 'test/lib/storage/store_contract.test.ts'],
  },
];

/** The lowest mutation score a module may have, in percent. */
export const THRESHOLD = 90;

export const REPORT_DIR = 'reports/mutation';

/** Where the bundled tests go, inside Stryker's sandbox (never in the project itself). */
const BUILD_DIR = '.mutation-build';

/** The node:test reporter that ends a run at its first failure. */
const STOP_AT_FIRST_FAILURE = 'scripts/support/stop_at_first_failure.ts';

/** Where esbuild writes the bundle of `file`. */
const built = (file: string) => `${BUILD_DIR}/${file.replace(/\.ts$/, '.mjs')}`;

/** The options of one module's run. */
export function strykerOptions(entry: (typeof MODULES)[number], force: boolean, concurrency: number): PartialStrykerOptions {
  const report = (extension: string) => path.join(REPORT_DIR, `${entry.name}.${extension}`);
  return {
    mutate: [entry.module],
    testRunner: 'command',
    // The command runs once per mutant, so it is made cheap: the tests are bundled to JavaScript once,
    // after Stryker has instrumented the module (every mutant is in the bundle, switched on by an
    // environment variable), which spares loading tsx for each run and halves the CPU time of one.
    // Each bundle runs as a plain script: node:test still runs its tests and exits 1 on a failure,
    // without the second process per file that `node --test` starts.
    buildCommand: `npx esbuild ${[...entry.tests, STOP_AT_FIRST_FAILURE].join(' ')} --bundle --platform=node --format=esm --packages=external --outdir=${BUILD_DIR} --outbase=. --out-extension:.js=.mjs --log-level=warning`,
    // A mutant is killed by its first failing test: the reporter ends the run there, and `&&` skips
    // the files after it. Only a surviving mutant runs every test.
    commandRunner: { command: entry.tests.map((file) => `node --test-reporter=./${built(STOP_AT_FIRST_FAILURE)} ${built(file)}`).join(' && ') },
    coverageAnalysis: 'off', // the command runner cannot tell which test covers what
    concurrency,
    // Type errors in a mutant are not checked (no checker plugin): Stryker marks every mutated file
    // `// @ts-nocheck`, and tsx strips types without checking them anyway.
    checkers: [],
    incremental: true,
    incrementalFile: report('incremental.json'),
    force,
    reporters: ['progress', 'html', 'json'],
    htmlReporter: { fileName: report('html') },
    jsonReporter: { fileName: report('json') },
    // The sandbox is a copy of the project; none of these are needed by a unit test.
    ignorePatterns: ['data', 'reports', 'test/artifacts', 'bench/profiles', 'docs/screenshots', '*.cpuprofile', 'jar.txt', '.ci'],
    // The machine is shared: a test run under load may take twice its usual time before it counts as hung.
    timeoutMS: 20_000,
    timeoutFactor: 2,
    thresholds: { high: 95, low: THRESHOLD, break: null },
  };
}

export interface ModuleScore {
  name: string;
  mutants: number;
  killed: number;
  timedOut: number;
  survived: number;
  noCoverage: number;
  /** Killed (time-outs included) over every mutant that compiled, in percent. */
  score: number;
}

/** Stryker's mutation score: detected (killed or timed out) over valid mutants (compile errors excluded). */
export function scoreOf(name: string, results: readonly MutantResult[]): ModuleScore {
  const count = (status: MutantResult['status']) => results.filter((result) => result.status === status).length;
  const killed = count('Killed');
  const timedOut = count('Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const mutants = killed + timedOut + survived + noCoverage;
  return { name, mutants, killed, timedOut, survived, noCoverage, score: mutants === 0 ? 100 : (100 * (killed + timedOut)) / mutants };
}

/** One line per surviving mutant: where, which mutator, and what the code became. */
export function describeSurvivor(result: MutantResult, source: string): string {
  const { start, end } = result.location;
  const lines = source.split('\n');
  const original =
    start.line === end.line ? lines[start.line - 1]!.slice(start.column - 1, end.column - 1) : `${lines[start.line - 1]!.slice(start.column - 1)} …`;
  const replacement = (result.replacement ?? '').replace(/\s+/g, ' ');
  return `${result.fileName}:${start.line}:${start.column} ${result.mutatorName}: ${original.replace(/\s+/g, ' ')} → ${replacement}`;
}

/**
 * A digest of a module's tests and the shared test helpers. Stryker's incremental mode re-tests the
 * mutants whose code changed, but with the command runner it cannot see which tests changed: a
 * survivor would stay "survived" after a test that kills it was added. So a module whose tests
 * changed since its last run is run whole again.
 */
async function testsDigest(entry: (typeof MODULES)[number]): Promise<string> {
  const helpers = (await readdir('test/helpers')).filter((name) => name.endsWith('.ts')).map((name) => `test/helpers/${name}`);
  const hash = createHash('sha256');
  for (const file of [...entry.tests, ...helpers.sort()]) hash.update(`${file}\0`).update(await readFile(file)).update('\0');
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { force: { type: 'boolean', default: false }, concurrency: { type: 'string', default: '1' } },
  });
  const unknown = positionals.filter((name) => !MODULES.some((entry) => entry.name === name));
  if (unknown.length > 0) {
    console.error(`Cannot mutate: no module named ${unknown.map((name) => `"${name}"`).join(', ')} (known: ${MODULES.map((entry) => entry.name).join(', ')})`);
    process.exit(2);
  }
  // Loaded here, not at the top, so that the docs test can read MODULES without loading Stryker.
  const { Stryker } = await import('@stryker-mutator/core');
  const selected = positionals.length === 0 ? MODULES : MODULES.filter((entry) => positionals.includes(entry.name));
  await mkdir(REPORT_DIR, { recursive: true });

  const scores: ModuleScore[] = [];
  const survivors: string[] = [];
  const started = Date.now();
  for (const entry of selected) {
    const moduleStarted = Date.now();
    console.log(`\n${entry.name}: mutating ${entry.module} against ${entry.tests.join(', ')}`);
    const digestFile = path.join(REPORT_DIR, `${entry.name}.tests.sha256`);
    const digest = await testsDigest(entry);
    const testsChanged = (await readFile(digestFile, 'utf8').catch(() => '')) !== digest;
    if (testsChanged && !values.force) console.log(`${entry.name}: its tests changed since the last run, so every mutant is tested again`);
    const results = await new Stryker(strykerOptions(entry, values.force || testsChanged, Number(values.concurrency))).runMutationTest();
    await writeFile(digestFile, digest);
    const score = scoreOf(entry.name, results);
    scores.push(score);
    const source = await readFile(entry.module, 'utf8');
    for (const result of results) if (result.status === 'Survived' || result.status === 'NoCoverage') survivors.push(describeSurvivor(result, source));
    console.log(`${entry.name}: ${score.score.toFixed(1)} % (${score.killed + score.timedOut} of ${score.mutants}) in ${Math.round((Date.now() - moduleStarted) / 1000)} s`);
  }

  const table = [
    '| module | mutants | killed | survived | score |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...scores.map((s) => `| \`${s.name}\` | ${s.mutants} | ${s.killed + s.timedOut}${s.timedOut > 0 ? ` (${s.timedOut} by time-out)` : ''} | ${s.survived + s.noCoverage} | ${s.score.toFixed(1)} % |`),
  ].join('\n');
  const summary = `${table}\n\nSurvivors:\n${survivors.map((line) => `- ${line}`).join('\n') || '- none'}\n\nTook ${Math.round((Date.now() - started) / 1000)} s.\n`;
  console.log(`\n${summary}`);
  await writeFile(path.join(REPORT_DIR, 'summary.md'), summary);

  const failing = scores.filter((s) => s.score < THRESHOLD);
  // A closing line in the form CI and people read: modules at or over the threshold, and under it.
  console.log(`mutation: ${scores.length - failing.length} passed, ${failing.length} failed`);
  if (failing.length > 0) {
    console.error(`Mutation score under ${THRESHOLD} %: ${failing.map((s) => `${s.name} ${s.score.toFixed(1)} %`).join(', ')}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
