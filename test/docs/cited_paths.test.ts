/**
 * Every file or folder of the repository that the README or docs/ names in code (`lib/http/router.ts`,
 * `test/https/`) exists, so a moved or renamed file cannot leave the docs pointing at nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const PAGES = ['README.md', 'certs/README.md', ...readdirSync(path.join(PROJECT_ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The repository's own top-level folders: a path starting with one of them is a path of this repository. */
const ROOTS = ['lib', 'test', 'scripts', 'bench', 'public', 'docs', 'certs', '.ci'];

/** Made on first start or by a test run, and git-ignored: named in the docs, never in a fresh clone. */
const GENERATED = new Set(['certs/localhost-cert.pem', 'certs/localhost-key.pem', 'test/artifacts/', 'bench/charts/', 'bench/order.partial.svg', 'bench/storage.partial.svg']);

/** Paths in inline code that start at one of ROOTS: `lib/routes.ts`, `test/https/`, `.ci/run`. */
export function citedPaths(markdown: string): string[] {
  const paths = new Set<string>();
  for (const [, code] of markdown.matchAll(/`([^`\n]+)`/g)) {
    for (const word of code!.split(/[\s,;()]+/)) {
      const candidate = word.replace(/[:.]+$/, '').replace(/:\d+(?:-\d+)?$/, '');
      if (ROOTS.some((root) => candidate.startsWith(`${root}/`)) && !/[*<>«…{]/.test(candidate)) paths.add(candidate);
    }
  }
  return [...paths];
}

test('citedPaths() finds the paths in inline code, and leaves out globs and placeholders', () => {
  assert.deepEqual(citedPaths('see `lib/http/router.ts`, `test/https/*.test.ts` and `lib/sessions/rules.ts:12` or `docs/x.md`.'), [
    'lib/http/router.ts',
    'lib/sessions/rules.ts',
    'docs/x.md',
  ]);
});

for (const page of PAGES) {
  test(`every repository path ${page} names exists`, () => {
    const text = readFileSync(path.join(PROJECT_ROOT, page), 'utf8');
    const missing = citedPaths(text).filter((cited) => !GENERATED.has(cited) && !existsSync(path.join(PROJECT_ROOT, cited)));
    assert.deepEqual(missing, [], `${page} names paths that do not exist`);
  });
}
