/**
 * `npm start` builds `server.ts` into dist/ (scripts/build.mjs, its `prestart`) and runs the bundle on
 * Node alone. Run here as an operator runs it, over real HTTPS on port 0: the bundle must start, find
 * public/ from dist/ as the source finds it from lib/, sign a user up and show /order.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BUILT_SERVER_ARGS } from '../../scripts/support/servers.ts';
import { httpsRequest } from '../../scripts/support/https_client.ts';
import { PROJECT_ROOT, makeTempDir, npmServerEnv } from '../helpers/server.ts';

const DIST = path.join(PROJECT_ROOT, 'dist');
const LIMIT = { timeout: 60_000 };
const SCRIPTS = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
/** `BUILT_SERVER_ARGS` as package.json writes them: paths relative to the project folder. */
const NPM_START_ARGS = BUILT_SERVER_ARGS.map((arg) => (path.isAbsolute(arg) ? path.relative(PROJECT_ROOT, arg) : arg));

let root: string;
before(async () => {
  root = await makeTempDir();
});
after(() => rm(root, { recursive: true, force: true }));

/** Runs `command` in the project folder to its end, within the time limit; resolves with its exit code and output. */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: LIMIT.timeout });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

test('package.json builds before every start, and npm start runs the bundle as the bench and the tests launch it', () => {
  assert.equal(SCRIPTS.prestart, 'node scripts/build.mjs');
  assert.equal(SCRIPTS.build, SCRIPTS.prestart);
  assert.equal(SCRIPTS.start, `exec node ${NPM_START_ARGS.join(' ')}`);
  // The others keep running TypeScript: tsx's watcher for dev, Deno natively for start:deno.
  assert.match(SCRIPTS.dev ?? '', /tsx watch server\.ts/);
  assert.match(SCRIPTS['start:deno'] ?? '', /scripts\/start_deno\.ts/);
});

test('npm start builds dist/ and runs it on Node alone: it listens, serves public/, signs up and shows /order', LIMIT, async (t) => {
  const env = npmServerEnv(root);
  const npm = spawn('npm', ['start'], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout.on('data', (chunk: Buffer) => (output += chunk));
  npm.stderr.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  t.after(() => npm.kill('SIGKILL'));
  const origin = await new Promise<string>((resolve, reject) => {
    npm.stdout.on('data', () => {
      const match = /Listening on (https:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`npm start exited with ${code} before listening:\n${output}`)));
  });

  // The process npm runs is `node <BUILT_SERVER_ARGS>`: no tsx, so no loader thread compiling TypeScript.
  const [server] = (await readFile(`/proc/${npm.pid}/task/${npm.pid}/children`, 'utf8')).split(' ').filter(Boolean);
  const commandLine = (await readFile(`/proc/${server}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  assert.deepEqual(commandLine.slice(1), NPM_START_ARGS);

  const ca = await readFile(env.TLS_CERT, 'utf8');
  const style = await httpsRequest(`${origin}/style.css`, { ca });
  assert.equal(style.status, 200, 'public/ not found from dist/');
  assert.equal(style.body, await readFile(path.join(PROJECT_ROOT, 'public', 'style.css'), 'utf8'));

  const signup = await httpsRequest(`${origin}/signup`, {
    ca,
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'bundled', password: 'correct horse battery staple' }).toString(),
  });
  assert.equal(signup.status, 303);
  assert.equal(signup.headers.location, '/order');
  const jwt = signup.setCookies.find((cookie) => cookie.startsWith('__Host-jwt='))?.split(';')[0];
  assert.ok(jwt, 'no access cookie on the 303');
  const order = await httpsRequest(`${origin}/order`, { ca, headers: { Cookie: jwt } });
  assert.equal(order.status, 200);
  assert.match(order.body, /bundled/);

  npm.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  assert.match(output.trimEnd().split('\n').at(-1) ?? '', /^Stopped: /, 'the last line, after every request line');
});

test('the bundle imports packages from node_modules, and loads the PostgreSQL client only when DATABASE_URL asks for it', LIMIT, async () => {
  const { code, output } = await run('npm', ['run', '--silent', 'build']);
  assert.equal(code, 0, output);
  assert.equal(output, '', 'a build that succeeds prints nothing');
  const bundle = await readFile(path.join(DIST, 'server.js'), 'utf8');
  assert.match(bundle, /^import \{[^}]*\bhash\b[^}]*\} from "@node-rs\/argon2";$/m);
  assert.match(bundle, /^import \{[^}]*\} from "jose";$/m);
  assert.doesNotMatch(bundle, /from "postgres"/);
  assert.match(bundle, /import\("\.\/open-\w+\.js"\)/);
});

/** Each file in dist/ and when it was last written. */
async function distFiles(): Promise<Map<string, number>> {
  const names = await readdir(DIST);
  return new Map(await Promise.all(names.map(async (name) => [name, (await stat(path.join(DIST, name))).mtimeMs] as const)));
}

test('a second build rewrites nothing (a server starting meanwhile reads whole files), and removes chunks of earlier builds', LIMIT, async () => {
  assert.equal((await run('npm', ['run', '--silent', 'build'])).code, 0);
  const built = await distFiles();
  await writeFile(path.join(DIST, 'chunk-EARLIER.js'), 'export {};\n');
  assert.equal((await run('npm', ['run', '--silent', 'build'])).code, 0);
  assert.deepEqual(await distFiles(), built);
});
