import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/server.ts';

test('npm run attacks: every attack is blocked, and the lab exits 0', async () => {
  // execFile rejects on a non-zero exit, with the output in the error: the failing line is in the report.
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/attacks.ts'], { cwd: PROJECT_ROOT });
  const lines = stdout.split('\n').filter((line) => /^(blocked|GOT IN|ERROR|skipped)/.test(line));
  // One line per attack the lab defines, so none can drop out of the run unnoticed.
  const defined = (await readFile(`${PROJECT_ROOT}/scripts/attacks.ts`, 'utf8')).match(/^ {4}name: ['"]/gm)?.length;
  assert.equal(lines.length, defined, stdout);
  for (const line of lines) assert.match(line, /^blocked {2}\S/, line);
  // The third round's: a flushed lockout, spare device cookies, whole-script look-alikes.
  for (const name of ['lockout flush', 'spare device cookies', 'look-alike username']) {
    assert.ok(lines.some((line) => line.includes(` ${name} `)), name);
  }
  assert.match(stdout, /Every attack was blocked\./);
});
