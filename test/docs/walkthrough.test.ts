/**
 * Following the curl walkthrough (docs/walkthrough.md) leaves `git status` clean: every file its commands write, and every file the
 * first start creates, is git-ignored.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(new URL('../../docs/walkthrough.md', import.meta.url), 'utf8');

/** The files the walkthrough's `curl` commands write: their cookie jars (`-c`) and outputs (`-o`). */
function filesCurlWrites(readme: string): string[] {
  const files = new Set<string>();
  for (const match of readme.matchAll(/\s(?:-c|--cookie-jar|-o|--output)\s+([\w./-]+)/g)) files.add(match[1]!);
  return [...files];
}

/** True when git would leave `file` out of `git status` (tracked or not: `--no-index`). */
function isIgnored(file: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '--quiet', '--no-index', file], { cwd: ROOT });
    return true;
  } catch {
    return false; // exit code 1: not ignored
  }
}

describe('the curl walkthrough', () => {
  test('writes only git-ignored files with its curl commands', () => {
    const written = filesCurlWrites(README);
    assert.ok(written.includes('jar.txt'), 'the walkthrough keeps its cookies in jar.txt');
    assert.deepEqual(written.filter((file) => !isIgnored(file)), []);
  });

  test('leaves the files the first start creates git-ignored', () => {
    const created = ['certs/localhost-cert.pem', 'certs/localhost-key.pem', 'data/users.json', 'data/sessions.json', 'data/jwt-secret'];
    assert.deepEqual(created.filter((file) => !isIgnored(file)), []);
  });
});
