/**
 * Every `console` block of the README and of docs/ is run, and its output compared with the text, in
 * the spirit of Rust's doctests and cram: change the server, and the docs that no longer match fail.
 * The convention (also at the top of docs/testing.md):
 *
 * - a line starting with `$ ` is a command (a line ending in `\` continues it); the lines after it, up
 *   to the next command or the end of the block, are its output, stdout and stderr together;
 * - `«name»` in an output line stands for one or more characters that differ on every run (a date, a
 *   token, an id, a port, a duration); the name only says which;
 * - a line that is only `…` stands for any number of lines, none included: a cut, marked;
 * - everything else must match exactly, blank lines included (trailing spaces and `\r` are ignored).
 *
 * Each file gets a fresh server (in this process, port 0, its own DATA_DIR and certificate) and a
 * scratch folder holding that certificate as `certs/localhost-cert.pem`. Commands run there with bash,
 * `https://localhost:8443` replaced by the server's origin; `npm` and `node` commands run in the project
 * folder, with NO_COLOR set, and `npm run …` output is reused when the same command appears again.
 * Blocks that cannot be run (a server that never exits, a browser) are `text` or `sh`, not `console`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { makeTempDir, startInProcess } from '../../scripts/support/servers.ts';
import type { Logger } from '../../lib/support/log.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCUMENTED_ORIGIN = 'https://localhost:8443';

export interface Command {
  readonly command: string;
  readonly expected: readonly string[];
  /** 1-based line in the Markdown file where the command starts. */
  readonly line: number;
}

/** The commands of every ```console block in `markdown`, with the output each is expected to print. */
export function consoleCommands(markdown: string): Command[] {
  const commands: Command[] = [];
  const lines = markdown.split('\n');
  let inConsole = false;
  let current: { command: string; expected: string[]; line: number; continues: boolean } | undefined;
  const finish = () => {
    if (current !== undefined) commands.push({ command: current.command, expected: trimBlankEnd(current.expected), line: current.line });
    current = undefined;
  };
  lines.forEach((text, index) => {
    if (!inConsole) {
      inConsole = /^```console\s*$/.test(text);
      return;
    }
    if (/^```\s*$/.test(text)) {
      finish();
      inConsole = false;
    } else if (current?.continues) {
      current.command += `\n${text}`;
      current.continues = text.endsWith('\\');
    } else if (text.startsWith('$ ')) {
      finish();
      current = { command: text.slice(2), expected: [], line: index + 1, continues: text.endsWith('\\') };
    } else if (current !== undefined) {
      current.expected.push(text);
    } else {
      throw new Error(`Cannot read the console block at line ${index + 1}: output before any "$ " command`);
    }
  });
  return commands;
}

function trimBlankEnd(lines: string[]): string[] {
  const out = [...lines];
  while (out.length > 0 && out[out.length - 1]!.trim() === '') out.pop();
  return out;
}

const CUT = '…';

/** One expected line as a regular expression source: text literal, each `«name»` one or more characters. */
function linePattern(line: string): string {
  return line
    .split(/«[^»]*»/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+?');
}

function blockPattern(expected: readonly string[]): RegExp {
  const parts = expected.map((line) => (line.trim() === CUT ? '(?:[^\\n]*\\n)*?' : `${linePattern(line.trimEnd())}\\n`));
  return new RegExp(`^${parts.join('')}$`, 'u');
}

/** Undefined when `actual` matches `expected`; otherwise the first expected line that cannot match. */
export function mismatch(expected: readonly string[], actual: string): string | undefined {
  const text = normalise(actual);
  if (blockPattern(expected).test(text)) return undefined;
  // The longest prefix of the expected lines that still fits the start of the output.
  let fits = 0;
  for (let n = 1; n <= expected.length; n++) {
    const prefix = new RegExp(blockPattern(expected.slice(0, n)).source.slice(0, -1), 'u');
    if (!prefix.test(text)) break;
    fits = n;
  }
  if (fits === expected.length) return 'the output goes on after the last expected line (mark a cut with a line "…")';
  return `expected line ${fits + 1} of the output does not match:\n    ${expected[fits]}`;
}

function normalise(output: string): string {
  const lines = output.replace(/\r/g, '').split('\n').map((line) => line.trimEnd());
  return `${trimBlankEnd(lines).join('\n')}\n`;
}

const quiet: Logger = { request() {}, info() {}, warn() {}, error() {} };

/** The Markdown files whose console blocks are checked: the README and every page of docs/. */
async function documents(): Promise<string[]> {
  const docs = (await readdir(path.join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
  return ['README.md', ...docs.sort()];
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', `${command} 2>&1`], { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 180_000 }, (_error, stdout) => resolve(stdout));
  });
}

const cachedNpmRuns = new Map<string, Promise<string>>();

/** `npm …` and `node …`, after any `NAME=value` assignments: they need the project folder. */
const PROJECT_COMMAND = /^(?:\w+=\S*(?:\s|\\\n)+)*(?:npm|node)\s/;

describe('the console blocks of the README and docs/ print what they show', async () => {
  const scratch = await makeTempDir('transcripts-');
  after(() => rm(scratch, { recursive: true, force: true }));

  for (const file of await documents()) {
    const commands = consoleCommands(await readFile(path.join(ROOT, file), 'utf8'));
    if (commands.length === 0) continue;
    test(`${file}: ${commands.length} commands`, async (t) => {
      const missing = await missingPrograms(commands);
      if (missing.length > 0) {
        const hint = `needs ${missing.join(', ')}: apt-get install ${missing.join(' ')}`;
        // Outside CI a missing program skips, visibly; CI must never pass by skipping.
        assert.notEqual(process.env.CI, 'true', `Cannot run the transcripts of ${file}: ${hint}`);
        t.skip(hint);
        return;
      }
      const folder = path.join(scratch, file.replace(/\W/g, '_'));
      await mkdir(path.join(folder, 'certs'), { recursive: true });
      const server = await startInProcess({ env: { HOST: 'localhost' }, log: quiet });
      t.after(() => server.close());
      await writeFile(path.join(folder, 'certs', 'localhost-cert.pem'), server.ca);
      const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
      const failures: string[] = [];
      for (const { command, expected, line } of commands) {
        const local = command.replaceAll(DOCUMENTED_ORIGIN, server.origin);
        let output: Promise<string>;
        if (/^npm run /.test(command)) {
          output = cachedNpmRuns.get(command) ?? run(local, ROOT, env);
          cachedNpmRuns.set(command, output);
        } else {
          output = run(local, PROJECT_COMMAND.test(command) ? ROOT : folder, env);
        }
        const actual = await output;
        const problem = mismatch(expected, actual);
        if (problem !== undefined) failures.push(`${file}:${line}: $ ${command}\n  ${problem}\n  the command printed:\n${indent(actual)}`);
      }
      assert.equal(failures.length, 0, failures.join('\n\n'));
    });
  }
});

/** The programs, besides npm and node, that the commands start and this machine lacks (curl, say). */
async function missingPrograms(commands: readonly Command[]): Promise<string[]> {
  const wanted = new Set(commands.map(({ command }) => /^(?:\w+=\S*(?:\s|\\\n)+)*([\w-]+)/.exec(command)?.[1] ?? ''));
  const missing: string[] = [];
  for (const program of wanted) {
    if (program === '') continue;
    if ((await run(`command -v ${program} >/dev/null || echo missing`, ROOT, process.env)).trim() === 'missing') missing.push(program);
  }
  return missing;
}

function indent(text: string): string {
  return normalise(text)
    .split('\n')
    .map((line) => `    | ${line}`)
    .join('\n');
}

describe('the transcript matcher', () => {
  test('matches placeholders within a line and a cut across lines', () => {
    assert.equal(mismatch(['HTTP/1.1 200 OK', 'Date: «date»', '…', 'end'], 'HTTP/1.1 200 OK\r\nDate: Tue, 01 Dec\r\na\r\nb\r\nend\r\n'), undefined);
    assert.equal(mismatch(['a', '…', 'b'], 'a\nb\n'), undefined);
  });

  test('fails on a changed line, an extra line, or a missing one, naming the line', () => {
    assert.match(mismatch(['HTTP/1.1 200 OK', 'Content-Length: 10'], 'HTTP/1.1 200 OK\nContent-Length: 11\n') ?? '', /line 2 .*\n.*Content-Length: 10/);
    assert.match(mismatch(['a'], 'a\nb\n') ?? '', /goes on after the last expected line/);
    assert.match(mismatch(['a', 'b'], 'a\n') ?? '', /line 2/);
    assert.notEqual(mismatch(['Date: «date»'], 'Date: \n'), undefined, 'a placeholder stands for at least one character');
  });

  test('reads commands, continued lines and their output out of console blocks only', () => {
    const markdown = ['```sh', '$ not run', '```', '```console', '$ curl a \\', '    b', 'out 1', '', 'out 2', '$ echo', '```'].join('\n');
    assert.deepEqual(consoleCommands(markdown), [
      { command: 'curl a \\\n    b', expected: ['out 1', '', 'out 2'], line: 5 },
      { command: 'echo', expected: [], line: 10 },
    ]);
  });
});
