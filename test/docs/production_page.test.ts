/**
 * docs/from-minimal-to-production.md: each row's attacks are attacks the lab runs, its room and its
 * test exist, and its figure is the room's line count, so the page cannot drift from the code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const page = readFileSync(path.join(PROJECT_ROOT, 'docs/from-minimal-to-production.md'), 'utf8');
const lab = readFileSync(path.join(PROJECT_ROOT, 'scripts/attacks.ts'), 'utf8');
const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

/** The table rows: `| defence | attack | room | test | lines |`, header and rule left out. */
const rows = page
  .split('\n')
  .filter((line) => line.startsWith('| ') && !line.startsWith('| defence') && !line.startsWith('| ---'))
  .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| |\s*\|$/g, '')));

test('the page has a row for each defence, with a room, a test and a figure', () => {
  assert.ok(rows.length >= 15, `${rows.length} rows`);
  for (const row of rows) assert.equal(row.length, 5, row.join(' | '));
});

for (const [defence = '', attacks = '', room = '', testFile = '', lines = ''] of rows) {
  test(`"${defence}": the room, the test, the attacks and the line count are real`, () => {
    const roomFile = room.replaceAll('`', '');
    assert.equal(read(roomFile).split('\n').length - 1, Number(lines), `${roomFile} has another number of lines`);
    assert.ok(read(testFile.replaceAll('`', '')).length > 0);
    for (const [, name] of attacks.matchAll(/`([^`]+)`/g)) {
      assert.ok(lab.includes(`name: '${name}'`) || lab.includes(`name: "${name}"`), `no attack named "${name}" in scripts/attacks.ts`);
    }
  });
}
