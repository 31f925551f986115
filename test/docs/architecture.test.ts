/**
 * docs/architecture.md: the figures of each lesson request's path are the line counts of the files the
 * row names, so the page cannot drift from the code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

/** Lines that are neither blank nor only a comment (`//`, or inside `/* … *\/`). */
export function codeLines(text: string): number {
  let count = 0;
  let inComment = false;
  for (const line of text.split('\n').map((each) => each.trim())) {
    if (inComment) inComment = !line.includes('*/');
    else if (line.startsWith('/*')) inComment = !line.includes('*/');
    else if (line !== '' && !line.startsWith('//')) count++;
  }
  return count;
}

test('codeLines() leaves out blank lines and comments', () => {
  assert.equal(codeLines('/**\n * why\n */\nconst a = 1;\n\n// note\nconst b = 2; // kept\n/* one line */'), 2);
});

const page = read('docs/architecture.md');
const table = page.slice(page.indexOf('| request | files | lines | code |'));
const rows = table.split('\n').slice(2).filter((line) => line.startsWith('| '));

test('the table has the lesson\'s requests, the guards and the minimal server', () => assert.equal(rows.length, 5));

for (const row of rows) {
  const [request = '', files = '', lines = '', code = ''] = row.split(' | ').map((cell) => cell.replace(/^\| |\s*\|$/g, ''));
  test(`${request}: the lines and code lines of its files`, () => {
    const texts = [...files.matchAll(/`([^`]+)`/g)].map((match) => read(match[1]!));
    assert.equal(texts.reduce((sum, text) => sum + text.split('\n').length - 1, 0), Number(lines), 'lines');
    assert.equal(texts.reduce((sum, text) => sum + codeLines(text), 0), Number(code), 'code lines');
  });
}
