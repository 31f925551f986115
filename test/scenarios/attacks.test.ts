import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/server.ts';

test('npm run attacks: every attack is blocked, and the lab exits 0', async () => {
  // execFile rejects on a non-zero exit, with the output in the error: the failing line is in the report.
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/attacks.ts'], { cwd: PROJECT_ROOT });
  const lines = stdout.split('\n').filter((line) => /^(blocked|GOT IN|ERROR|skipped)/.test(line));
  assert.equal(lines.length, 32, stdout);
  for (const line of lines) assert.match(line, /^blocked {2}\S/, line);
  assert.match(stdout, /Every attack was blocked\./);
});
