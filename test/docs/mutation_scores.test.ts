/**
 * docs/testing.md, "Mutation testing", against scripts/mutate.ts and .ci/run: the table has one row per
 * module that `npm run mutate` mutates and no other, every recorded score meets the threshold, the
 * command it shows exists, and the command the page says CI runs is the one .ci/run runs, after
 * `npm test`. (The scores themselves come from a Stryker run, too slow for every test run: `npm run
 * mutate` records them, and this keeps the page, the script and CI in step.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MODULES, THRESHOLD } from '../../scripts/mutate.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(path.join(ROOT, 'docs/testing.md'), 'utf8');
const SECTION = DOC.slice(DOC.indexOf('\n## Mutation testing\n'));

/** The rows of the section's first table: module name and score in percent. */
function scoreRows(): { name: string; mutants: number; killed: number; survived: number; score: number }[] {
  const rows = [...SECTION.matchAll(/^\| `(\w+)` \| (\d+) \| (\d+)[^|]* \| (\d+) \| ([\d.]+) % \|$/gm)];
  return rows.map(([, name, mutants, killed, survived, score]) => ({
    name: name!,
    mutants: Number(mutants),
    killed: Number(killed),
    survived: Number(survived),
    score: Number(score),
  }));
}

test('docs/testing.md has a "Mutation testing" section that shows npm run mutate, a script package.json has', () => {
  assert.ok(DOC.includes('\n## Mutation testing\n'), 'no "## Mutation testing" section');
  assert.match(SECTION, /npm run mutate/);
  const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
  assert.match(scripts['mutate'] ?? '', /scripts\/mutate\.ts/);
});

test('the score table lists exactly the modules npm run mutate mutates', () => {
  assert.deepEqual(scoreRows().map((row) => row.name).sort(), MODULES.map((entry) => entry.name).sort());
});

test(`every recorded score is at least ${THRESHOLD} % and adds up: killed + survived = mutants, score = killed / mutants`, () => {
  for (const row of scoreRows()) {
    assert.ok(row.score >= THRESHOLD, `${row.name}: ${row.score} %`);
    assert.equal(row.killed + row.survived, row.mutants, row.name);
    assert.equal(row.score, Number(((100 * row.killed) / row.mutants).toFixed(1)), row.name);
  }
});

/** The commands .ci/run runs, one per line, comments and blank lines left out. */
function ciCommands(): string[] {
  const script = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  return script.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

test('the command the page says CI runs is a line of .ci/run, after npm test, and names only known modules and options', () => {
  const said = /^- CI \(`\.ci\/run`\) runs it after `npm test`, as `([^`]+)`/m.exec(SECTION)?.[1];
  assert.ok(said, 'no "- CI (`.ci/run`) runs it after `npm test`, as `...`" line in the Mutation testing section');
  const commands = ciCommands();
  assert.ok(commands.includes('npm test'), '.ci/run runs npm test');
  assert.ok(commands.indexOf(said) > commands.indexOf('npm test'), `.ci/run runs "${said}" after npm test: ${JSON.stringify(commands)}`);
  const [, options = ''] = /^npm run mutate(?: -- (.*))?$/.exec(said) ?? [];
  assert.match(said, /^npm run mutate\b/);
  for (const word of options.split(/\s+/).filter(Boolean)) {
    const known = MODULES.some((entry) => entry.name === word) || ['--force', '--concurrency'].includes(word) || /^\d+$/.test(word);
    assert.ok(known, `"${word}" in "${said}"`);
  }
});

test('the page says what CI mutates: every module, so none is left out of CI by naming some', () => {
  const said = /^- CI \(`\.ci\/run`\) runs it after `npm test`, as `([^`]+)`/m.exec(SECTION)?.[1] ?? '';
  assert.equal(MODULES.filter((entry) => said.split(/\s+/).includes(entry.name)).length, 0, 'CI runs every module: the command names none');
});
