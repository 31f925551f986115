/**
 * The reading path: the README lists it, it reads in about 30 minutes (at most 7,000 words at ~230 a
 * minute), and every page of docs/ says whether it is a step of the path or reference.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
const MAX_WORDS = 7_000;

/** The files the numbered steps of the README's "The reading path" section link, in order. */
function readingPath(): string[] {
  const readme = read('README.md');
  const start = readme.indexOf('## The reading path');
  const steps = readme.slice(start, readme.indexOf('\n## ', start)).split('\n').filter((line) => /^\d+\. /.test(line));
  return steps.flatMap((line) => [...line.matchAll(/\]\(([^)#\s]+)\)/g)].map((match) => match[1]!));
}

test('the README lists the reading path: itself, the minimal server, how it works, the session lifecycle, from minimal to production', () => {
  assert.deepEqual(readingPath(), ['lib/minimal/server.ts', 'docs/how-it-works.md', 'docs/session-lifecycle.md', 'docs/from-minimal-to-production.md']);
});

test(`the reading path, the README included, is at most ${MAX_WORDS.toLocaleString('en')} words`, () => {
  const total = ['README.md', ...readingPath()].reduce((sum, file) => sum + words(read(file)), 0);
  assert.ok(total <= MAX_WORDS, `${total} words`);
});

test('every page of docs/ says whether it is a step of the reading path or reference', () => {
  const steps = readingPath().filter((file) => file.startsWith('docs/'));
  for (const name of readdirSync(path.join(PROJECT_ROOT, 'docs')).filter((file) => file.endsWith('.md'))) {
    const second = read(`docs/${name}`).split('\n')[2] ?? '';
    const expected = steps.includes(`docs/${name}`) ? /^\*The \[reading path\]\(\.\.\/README\.md#the-reading-path\), step \d of 5\./ : /^\*Reference: /;
    assert.match(second, expected, `docs/${name}`);
  }
});
