/**
 * Runs test stages one after another, each a child process, and totals them: a line per stage (its
 * counts and seconds), every failure in full, and last, alone on its line, `N passed, N failed` (then
 * `, N skipped` when any). The stages themselves are plain data (`scripts/test.ts`).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './support/project_root.ts';

export interface Stage {
  /** Short, as in the summary: `unit`, `deno`. */
  readonly name: string;
  /** Test files for node:test, relative to the project; `*` matches within one folder level. */
  readonly tests?: readonly string[];
  /** Or a command whose exit code is the stage's result, counted as one check (the type check). */
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Test files run at once (node's `--test-concurrency`); node's default when unset. */
  readonly concurrency?: number;
  /** A program from outside npm the stage needs, such as a browser or a database. */
  readonly needs?: {
    /** A path, or a name looked up on PATH. */
    readonly program: string;
    /** How to install it: shown when it is missing. */
    readonly hint: string;
    /** Runs the stage under the program (`pg_virtualenv node --test …`) when it is there. */
    readonly wrap?: boolean;
  };
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface RunOptions {
  /** Where the report goes; the terminal by default. */
  readonly write?: (text: string) => void;
  /** Under CI a missing program fails its stage instead of skipping it (`CI=true` by default). */
  readonly ci?: boolean;
  readonly cwd?: string;
}

/**
 * Two reports of one run: TAP on stdout, the machine-readable one the counts are read from, and the
 * spec reporter on stderr, whose closing "failing tests" section shows each failure in full.
 */
const REPORTERS = ['--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=spec', '--test-reporter-destination=stderr'];

/** Runs `stages` in order; resolves with the exit code: 0 only when nothing failed. */
export async function runStages(stages: readonly Stage[], options: RunOptions = {}): Promise<number> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const ci = options.ci ?? process.env.CI === 'true';
  const cwd = options.cwd ?? PROJECT_ROOT;
  const width = Math.max(...stages.map((stage) => stage.name.length));
  const total: Counts = { passed: 0, failed: 0, skipped: 0 };
  const started = performance.now();

  for (const stage of stages) {
    if (interrupted !== undefined) break;
    write(stage.name.padEnd(width + 2));
    const stageStarted = performance.now();
    const result = await runStage(stage, { ci, cwd });
    const seconds = ((performance.now() - stageStarted) / 1000).toFixed(1);
    total.passed += result.counts.passed;
    total.failed += result.counts.failed;
    total.skipped += result.counts.skipped;
    const notes = result.notes.length > 0 ? `  ${result.notes.join('; ')}` : '';
    write(`${formatCounts(result.counts)}  ${seconds} s${notes}\n`);
    if (result.report !== '') write(`${result.report.trimEnd()}\n\n`);
  }
  if (interrupted !== undefined) write(`\nStopped by ${interrupted}\n`);
  write(`\nAll stages: ${((performance.now() - started) / 1000).toFixed(1)} s\n${formatCounts(total)}\n`);
  return total.failed === 0 && interrupted === undefined ? 0 : 1;
}

/** `12 passed, 0 failed`, then `, 3 skipped` when any were. */
export function formatCounts(counts: Counts): string {
  return `${counts.passed} passed, ${counts.failed} failed${counts.skipped > 0 ? `, ${counts.skipped} skipped` : ''}`;
}

interface StageResult {
  counts: Counts;
  /** Shown on the stage's line: skip reasons, a missing program. */
  notes: string[];
  /** Shown under it: the failures in full. */
  report: string;
}

async function runStage(stage: Stage, { ci, cwd }: { ci: boolean; cwd: string }): Promise<StageResult> {
  const missing = stage.needs !== undefined && !isInstalled(stage.needs.program, cwd);
  const notes = missing ? [`no ${stage.needs!.program}: ${stage.needs!.hint}`] : [];
  // Under CI a missing program is a broken machine, never a pass.
  if (missing && ci) return { counts: { passed: 0, failed: 1, skipped: 0 }, notes, report: '' };
  const wrapper = stage.needs?.wrap && !missing ? [stage.needs.program] : [];

  if (stage.tests === undefined) {
    if (stage.command === undefined) throw new Error(`Cannot run stage "${stage.name}": it has neither tests nor a command`);
    if (missing) return { counts: { passed: 0, failed: 0, skipped: 1 }, notes, report: '' };
    const [command = '', ...args] = [...wrapper, ...stage.command];
    const { code, stdout, stderr } = await run(command, args, stage.env, cwd);
    return code === 0
      ? { counts: { passed: 1, failed: 0, skipped: 0 }, notes, report: '' }
      : { counts: { passed: 0, failed: 1, skipped: 0 }, notes, report: [`${stdout}${stderr}`.trimEnd(), `(exit code ${code})`].filter(Boolean).join('\n') };
  }

  const files = stage.tests.flatMap((pattern) => expandGlob(pattern, cwd));
  // node --test with no file looks for tests on its own: never what a stage means.
  if (files.length === 0) return { counts: { passed: 0, failed: 1, skipped: 0 }, notes: [...notes, `no file matches ${stage.tests.join(' ')}`], report: '' };
  const concurrency = stage.concurrency === undefined ? [] : [`--test-concurrency=${stage.concurrency}`];
  const [command = '', ...args] = [...wrapper, process.execPath, '--import', 'tsx', '--test', ...concurrency, ...REPORTERS, ...files];
  const { code, stdout: tap, stderr: spec } = await run(command, args, stage.env, cwd);
  const totals = tapTotals(tap);
  const counts: Counts = {
    passed: totals.pass ?? 0,
    failed: (totals.fail ?? 0) + (totals.cancelled ?? 0),
    // Every test or suite reported `# SKIP`: node:test's own `skipped` leaves out a skipped suite,
    // whose tests are never defined, so a suite skipped whole would otherwise count as zero.
    skipped: (tap.match(/^\s*ok \d+ - .* # SKIP\b/gm) ?? []).length + (totals.todo ?? 0),
  };
  // A run that ended badly outside any test (a crash, no summary) still failed.
  if (code !== 0 && counts.failed === 0) counts.failed = 1;
  // Nothing ran for want of a program: skipped, and said so, never a quiet zero.
  if (missing && counts.passed + counts.failed + counts.skipped === 0) counts.skipped = 1;
  // Each reason once: a skip's (`# SKIP reason`) and a known defect's (`# TODO reason`), which counts as skipped.
  const skipNotes = [...new Set(tap.match(/(?<= # SKIP ).+$/gm) ?? [])].map((reason) => `skipped: ${reason}`);
  const todoNotes = [...new Set(tap.match(/(?<= # TODO ).+$/gm) ?? [])].map((reason) => `todo: ${reason}`);
  return { counts, notes: [...notes, ...skipNotes, ...todoNotes], report: code === 0 ? '' : failures(spec, code) };
}

/** node:test's own totals, the last lines of its TAP: `# pass 12`, `# fail 0`… */
function tapTotals(tap: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const [, name, count] of tap.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) totals[name!] = Number(count);
  return totals;
}

/** The spec reporter's "failing tests" section; all it printed when there is none (a crash). */
function failures(spec: string, code: number): string {
  const section = spec.lastIndexOf('✖ failing tests:');
  return section === -1 ? [spec.trimEnd(), `(exit code ${code})`].filter(Boolean).join('\n') : spec.slice(section);
}

/** The signal that stopped the run, if one did. */
let interrupted: NodeJS.Signals | undefined;

function run(command: string, args: readonly string[], env: Readonly<Record<string, string>> | undefined, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Without node:test's marker, which would make a stage run from inside a test report to that test.
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    const child = spawn(command, args, { cwd, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    // SIGINT or SIGTERM stops the stage's process too, and the stages after it are not started.
    const stop = (signal: NodeJS.Signals) => {
      interrupted = signal;
      child.kill(signal);
    };
    process.on('SIGINT', stop).on('SIGTERM', stop);
    child.once('close', () => process.off('SIGINT', stop).off('SIGTERM', stop));
    child.once('error', (error) => resolve({ code: 127, stdout, stderr: `Cannot run ${command}: ${error.message}` }));
    child.once('close', (code, signal) => resolve({ code: code ?? 128, stdout, stderr: signal === null ? stderr : `${stderr}\n(killed by ${signal})` }));
  });
}

/** Whether `program` (a path, or a name on PATH) is there to run. */
function isInstalled(program: string, cwd: string): boolean {
  const candidates = program.includes('/')
    ? [path.resolve(cwd, program)]
    : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((folder) => path.join(folder, program));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** `test/lib/*\/*.test.ts` → the matching files, sorted; a pattern without `*` is kept as it is. */
export function expandGlob(pattern: string, cwd: string): string[] {
  let matches = [''];
  for (const segment of pattern.split('/')) {
    if (!segment.includes('*')) {
      matches = matches.map((prefix) => path.join(prefix, segment));
      continue;
    }
    const regex = new RegExp(`^${segment.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
    matches = matches.flatMap((prefix) => {
      try {
        return readdirSync(path.join(cwd, prefix)).filter((name) => regex.test(name)).sort().map((name) => path.join(prefix, name));
      } catch {
        return [];
      }
    });
  }
  return matches;
}
