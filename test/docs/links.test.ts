/**
 * Every relative link in the README, the changelog and the docs leads to a file of the repository,
 * so a page moved or renamed cannot leave a reader at a dead end.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../scripts/support/project_root.ts';

const PAGES = [
  'README.md',
  'CHANGELOG.md',
  'certs/README.md',
  'bench/RESULTS.md',
  ...readdirSync(path.join(PROJECT_ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`),
];

/** The targets of `[text](target)` and `![alt](target)` outside code: web addresses and anchors left out. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^(?:[a-z]+:|#)/i.test(target));
}

for (const page of PAGES) {
  test(`every relative link in ${page} resolves to a file`, () => {
    const text = readFileSync(path.join(PROJECT_ROOT, page), 'utf8');
    const broken = relativeLinks(text).filter((target) => !existsSync(path.resolve(PROJECT_ROOT, path.dirname(page), decodeURIComponent(target.split('#')[0]!))));
    assert.deepEqual(broken, [], `${page} links to files that do not exist`);
  });
}
