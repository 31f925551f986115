/**
 * docs/browsers.md against the repository: the files it links and the screenshots it shows exist, and
 * the commands it gives are scripts of package.json, so the page cannot drift from the browser suite.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = path.join(ROOT, 'docs');
const PAGE = readFileSync(path.join(DOCS, 'browsers.md'), 'utf8');
const SCRIPTS = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The targets of the page's relative links and images, `[text](target)` and `![alt](target)`. */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target));
}

describe('docs/browsers.md', () => {
  test('links only files that exist', () => {
    const links = relativeLinks(PAGE);
    assert.ok(links.length > 0);
    assert.deepEqual(links.filter((target) => !existsSync(path.join(DOCS, target))), []);
  });

  test('shows /order in each of the three engines, side by side', () => {
    const row = PAGE.split('\n').find((line) => line.includes('screenshots/order-chromium.png')) ?? '';
    for (const engine of ['chromium', 'firefox', 'webkit']) {
      assert.ok(row.includes(`](screenshots/order-${engine}.png)`), `the screenshots' table row shows order-${engine}.png`);
    }
  });

  test('gives only npm scripts that package.json has', () => {
    const commands = [...PAGE.matchAll(/npm run ([\w:-]+)/g)].map((match) => match[1]!);
    assert.ok(commands.includes('test:webkit'));
    assert.deepEqual(commands.filter((name) => !(name in SCRIPTS) && !name.endsWith(':')), []); // `test:<engine>` stands for each
  });
});
