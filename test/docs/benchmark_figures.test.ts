/**
 * docs/benchmarks.md quotes the storage figures of the last recorded run: each must be in
 * bench/RESULTS.md, so the page cannot keep quoting a run that was since replaced.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

/** The "result" cells of the table under the storage heading, without the "(before: …)" figures of older runs. */
function quotedResults(page: string): string[] {
  const section = page.slice(page.indexOf('## What the storage change measured'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| measure |')));
  return table
    .split('\n')
    .filter((row) => row.startsWith('| ') && !row.startsWith('| measure') && !row.startsWith('| ---'))
    .map((row) => row.split('|')[3]!.replace(/\(before:[^)]*\)/g, '').trim());
}

test('every storage figure docs/benchmarks.md quotes is in bench/RESULTS.md', () => {
  const results = read('bench/RESULTS.md');
  const cells = quotedResults(read('docs/benchmarks.md'));
  assert.ok(cells.length >= 8, `${cells.length} rows found: the table moved?`);
  for (const cell of cells) {
    for (const figure of cell.match(/\d[\d,]*(?:\.\d+)?/g) ?? []) {
      const asWritten = new RegExp(`(?<![\\d.,])${figure.replace(/[.,]/g, '\\$&')}(?![\\d]|\\.\\d)`);
      assert.match(results, asWritten, `"${figure}" (in "${cell}") is not in bench/RESULTS.md`);
    }
  }
});
