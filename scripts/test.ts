/**
 * `npm test`: every stage in order, a line each, and one total at the end. `npm run test:unit` and the
 * others run one stage the same way (`node --import tsx scripts/test.ts unit`).
 *
 * A stage is one entry below: a name, then test files for node:test or a command. One that needs a
 * program npm does not install names it, with the install hint: outside CI its tests skip (and are
 * counted as skipped, with the hint); under CI=true the stage fails. A PostgreSQL stage, say:
 *   { name: 'postgres', tests: ['test/postgres/*.test.ts'], needs: { program: 'pg_virtualenv', hint: 'apt-get install postgresql', wrap: true } }
 */
import { runStages, type Stage } from './test_runner.ts';

const CHROME_PATH = process.env.CHROME_PATH || '/usr/bin/chromium';

export const STAGES: readonly Stage[] = [
  { name: 'typecheck', command: ['npm', 'run', '--silent', 'typecheck'] },
  // Modules alone: no server, no child process, no network.
  { name: 'unit', tests: ['test/lib/*.test.ts', 'test/lib/*/*.test.ts'] },
  // Whole behaviours in-process: brute force, fuzzing, slow clients, storage faults, a stop under load.
  { name: 'scenarios', tests: ['test/scenarios/*.test.ts'] },
  // What the README and docs/ show: transcripts run, links resolve, figures and paths exist.
  { name: 'docs', tests: ['test/docs/*.test.ts'] },
  // The project's own tools: the test runner, the Deno launcher.
  { name: 'scripts', tests: ['test/scripts/*.test.ts'] },
  { name: 'http', tests: ['test/https/*.test.ts'] },
  { name: 'deno', tests: ['test/https/*.test.ts'], env: { TEST_RUNTIME: 'deno' } },
  // The one-file server of lib/minimal/, black-box, under Node and then under Deno.
  { name: 'minimal', tests: ['test/minimal/*.test.ts'] },
  { name: 'minimal-deno', tests: ['test/minimal/*.test.ts'], env: { TEST_RUNTIME: 'deno' } },
  // The embedded store's own tests (recovery, the model, the contract) under Deno's test runner.
  { name: 'deno-storage', command: ['deno', 'test', '-A', '--no-check', 'test/lib/storage/'] },
  // PostgreSQL: each stage in a throwaway cluster of its own (pg_virtualenv), one file at a time (one
  // test stops the database); the two-instance scenario and the refused starts again with the servers under Deno.
  { name: 'postgres', tests: ['test/postgres/*.test.ts'], concurrency: 1, needs: { program: 'pg_virtualenv', hint: 'apt-get install postgresql', wrap: true } },
  { name: 'postgres-deno', tests: ['test/postgres/instances.test.ts', 'test/postgres/start_errors.test.ts'], env: { TEST_RUNTIME: 'deno' }, needs: { program: 'pg_virtualenv', hint: 'apt-get install postgresql', wrap: true } },
  // The browser scenarios, one engine after another (on two cores, engines side by side only slow each other).
  { name: 'chromium', tests: ['test/browser/chromium.test.ts', 'test/browser/forms.test.ts', 'test/browser/pages.test.ts'], needs: { program: CHROME_PATH, hint: 'apt-get install chromium (or set CHROME_PATH)' } },
  { name: 'firefox', tests: ['test/browser/firefox.test.ts'], needs: { program: 'firefox-esr', hint: 'apt-get install firefox-esr' } },
  { name: 'webkit', tests: ['test/browser/webkit.test.ts'], needs: { program: 'WebKitWebDriver', hint: 'apt-get install webkit2gtk-driver xvfb' } },
];

const names = process.argv.slice(2);
const unknown = names.filter((name) => !STAGES.some((stage) => stage.name === name));
if (unknown.length > 0) {
  console.error(`Cannot run tests: no stage ${unknown.map((name) => `"${name}"`).join(', ')} (the stages: ${STAGES.map((stage) => stage.name).join(', ')})`);
  process.exit(2);
}
process.exitCode = await runStages(names.length === 0 ? STAGES : STAGES.filter((stage) => names.includes(stage.name)));
