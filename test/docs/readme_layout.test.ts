/**
 * The README's "Layout" tree against the project's folders: each entry it names exists, and each
 * top-level folder and each folder of lib/ has its line, so the tree cannot drift from the code.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The paths the Layout tree names, an indented entry taken as inside the last unindented folder. */
function layoutEntries(readme: string): string[] {
  const section = readme.slice(readme.indexOf('\n## Layout\n'));
  const tree = /```text\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(readme.includes('\n## Layout\n') && tree !== undefined, 'the README has a "## Layout" section with a text block');
  const entries: string[] = [];
  let parent = '';
  for (const line of tree.split('\n').filter((text) => text.trim() !== '')) {
    const name = line.trim().split(/\s+/)[0] ?? '';
    if (line.startsWith(' ')) entries.push(parent + name);
    else {
      entries.push(name);
      if (name.endsWith('/')) parent = name;
    }
  }
  return entries;
}

/** The folders that hold tracked files, as `name/` (top level) and `lib/name/`: what a clone has. */
function trackedFolders(): string[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0');
  const folders = new Set<string>();
  for (const file of files) {
    const [top, second, ...rest] = file.split('/');
    if (second === undefined) continue; // a file at the top level
    folders.add(`${top}/`);
    if (top === 'lib' && rest.length > 0) folders.add(`lib/${second}/`);
  }
  return [...folders];
}

describe('the README\'s Layout', () => {
  const entries = layoutEntries(README);

  test('names only files and folders that exist', () => {
    assert.deepEqual(entries.filter((entry) => !existsSync(path.join(ROOT, entry))), []);
  });

  test('has a line for each folder of the repository and each folder of lib/', () => {
    assert.deepEqual(trackedFolders().filter((folder) => !entries.includes(folder)), []);
  });
});
