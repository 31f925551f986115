/**
 * `npm test`'s runner (scripts/test_runner.ts), run on a tiny stage with one passing, one failing and
 * one skipped test, and a known defect marked todo (counted as skipped, its reason printed): the total is its last line, the failure is shown in full, the exit code says so.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runStages, type Stage } from '../../scripts/test_runner.ts';

const FIXTURE = 'test/scripts/fixtures/one_of_each.ts';

async function report(stages: Stage[], ci = false): Promise<{ code: number; lines: string[]; text: string }> {
  let text = '';
  const code = await runStages(stages, { ci, write: (chunk) => (text += chunk) });
  return { code, lines: text.trimEnd().split('\n'), text };
}

test('the last line totals every stage: passed, failed, skipped', async () => {
  const { code, lines } = await report([
    { name: 'tiny', tests: [FIXTURE] },
    { name: 'check', command: [process.execPath, '-e', ''] },
  ]);
  assert.equal(lines.at(-1), '2 passed, 1 failed, 2 skipped');
  assert.match(
    lines.find((line) => line.startsWith('tiny')) ?? '',
    /^tiny +1 passed, 1 failed, 2 skipped +\d+\.\d s +skipped: no tool here: apt-get install tool; todo: the runtime drops it: reported upstream$/,
  );
  assert.match(lines.find((line) => line.startsWith('check')) ?? '', /^check +1 passed, 0 failed +\d+\.\d s$/);
  assert.equal(code, 1);
});

test('a failure is shown in full: its name and the assertion', async () => {
  const { text } = await report([{ name: 'tiny', tests: [FIXTURE] }]);
  assert.match(text, /a sum that is wrong/);
  assert.match(text, /one and one make three/);
  assert.match(text, /2 !== 3/);
  assert.doesNotMatch(text, /adds up/, 'a passing test is not listed');
});

test('without failures the exit code is 0 and "skipped" is left out when nothing was', async () => {
  const { code, lines } = await report([{ name: 'check', command: [process.execPath, '-e', ''] }]);
  assert.equal(lines.at(-1), '1 passed, 0 failed');
  assert.equal(code, 0);
});

test('a stage whose program is missing: skipped with its hint outside CI, failed under CI', async () => {
  const stage: Stage = { name: 'tool', command: [process.execPath, '-e', ''], needs: { program: 'no-such-program-here', hint: 'apt-get install it' } };
  const outside = await report([stage]);
  assert.equal(outside.lines.at(-1), '0 passed, 0 failed, 1 skipped');
  assert.match(outside.text, /no no-such-program-here: apt-get install it/);
  assert.equal(outside.code, 0);

  const underCi = await report([stage], true);
  assert.equal(underCi.lines.at(-1), '0 passed, 1 failed');
  assert.equal(underCi.code, 1);
});

test('a stage runs under the program it needs when that program is there (pg_virtualenv, say), without it when not', async () => {
  const under = await report([{ name: 'wrapped', tests: [FIXTURE], needs: { program: 'env', hint: 'coreutils', wrap: true } }]);
  assert.equal(under.lines.at(-1), '1 passed, 1 failed, 2 skipped');
  assert.doesNotMatch(under.text, /no env/);

  const without = await report([{ name: 'unwrapped', tests: [FIXTURE], needs: { program: 'no-such-wrapper-here', hint: 'apt-get install it', wrap: true } }]);
  assert.equal(without.lines.at(-1), '1 passed, 1 failed, 2 skipped');
  assert.match(without.text, /no no-such-wrapper-here: apt-get install it/);
});
