import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ENV_VARIABLES } from '../../lib/config.ts';
import { DENO, denoEnvironment, denoPermissions, denoRunArgs } from '../../scripts/deno_permissions.ts';
import { descriptorLimit } from '../../lib/defences/connection_limits.ts';
import { PROJECT_ROOT, TEST_SECRET, makeTempDir } from '../helpers/server.ts';

let root: string;
before(async () => {
  root = await makeTempDir();
});
after(() => rm(root, { recursive: true, force: true }));

/** The values of every `--<name>=...` flag, in order. */
function flagValues(flags: string[], name: string): string[] {
  return flags.filter((flag) => flag.startsWith(`--${name}=`)).flatMap((flag) => flag.slice(name.length + 3).split(','));
}

describe('denoPermissions()', () => {
  test('reads and writes DATA_DIR and the folder of TLS files still to be generated, and reads public/', async () => {
    const env = { DATA_DIR: path.join(root, 'state'), TLS_CERT: path.join(root, 'tls', 'cert.pem'), TLS_KEY: path.join(root, 'tls', 'key.pem') };
    const flags = await denoPermissions(env, PROJECT_ROOT);
    assert.deepEqual(flagValues(flags, 'allow-write'), [env.DATA_DIR, path.join(root, 'tls')]);
    assert.deepEqual(flagValues(flags, 'allow-read').sort(), ['/usr/bin/ldd', path.join(PROJECT_ROOT, 'public'), env.DATA_DIR, env.TLS_CERT, env.TLS_KEY, path.join(root, 'tls')].sort());
  });

  test('only reads TLS files that exist', async () => {
    const env = { DATA_DIR: path.join(root, 'state'), TLS_CERT: path.join(root, 'cert.pem'), TLS_KEY: path.join(root, 'key.pem') };
    await writeFile(env.TLS_CERT, '');
    await writeFile(env.TLS_KEY, '');
    const flags = await denoPermissions(env, PROJECT_ROOT);
    assert.deepEqual(flagValues(flags, 'allow-write'), [env.DATA_DIR]);
    assert.ok(flagValues(flags, 'allow-read').includes(env.TLS_KEY));
  });

  test('lets the server read exactly the variables of ENV_VARIABLES (those docs/http.md lists), and no other', async () => {
    const flags = await denoPermissions({}, PROJECT_ROOT);
    assert.deepEqual(flagValues(flags, 'allow-env'), [...ENV_VARIABLES]);
    assert.ok(flags.includes('--ignore-env'));
    assert.ok(flags.includes('--no-prompt'));
  });

  test('lets the server listen on HOST:PORT, and on what a host name resolves to', async () => {
    const table: [Record<string, string>, (values: string[]) => void][] = [
      [{ HOST: '127.0.0.1', PORT: '0' }, (values) => assert.deepEqual(values, ['127.0.0.1:0'])],
      [{ HOST: '::1', PORT: '8443' }, (values) => assert.deepEqual(values, ['[::1]:8443'])],
      [{ HOST: 'localhost', PORT: '8443' }, (values) => assert.ok(values[0] === 'localhost:8443' && values.includes('127.0.0.1:8443'), values.join())],
      // Deno checks the lookup of a name against the bare name when the port is 0.
      [{ HOST: 'localhost', PORT: '0' }, (values) => assert.ok(values[0] === 'localhost' && values.includes('127.0.0.1:0'), values.join())],
    ];
    for (const [env, check] of table) check(flagValues(await denoPermissions(env, PROJECT_ROOT), 'allow-net'));
  });

  test('lets the embedded store\'s lock name this host and ask whether a pid runs, and nothing else of the system', async () => {
    assert.deepEqual(flagValues(await denoPermissions({}, PROJECT_ROOT), 'allow-sys'), ['hostname', 'getPriority']);
    const database = { DATABASE_URL: 'postgres://app@db.internal:5432/app', JWT_SECRET: TEST_SECRET };
    assert.deepEqual(flagValues(await denoPermissions(database, PROJECT_ROOT), 'allow-sys'), [], 'no lock under DATABASE_URL');
  });

  test('grants a configuration the server will refuse nothing beyond starting up', async () => {
    const flags = await denoPermissions({ JWT_SECRET: 'short' }, PROJECT_ROOT);
    assert.deepEqual(flagValues(flags, 'allow-write'), []);
    assert.deepEqual(flagValues(flags, 'allow-net'), []);
    assert.deepEqual(flagValues(flags, 'allow-sys'), []);
  });

  test('refuses a path with a comma, which a permission flag cannot express', async () => {
    await assert.rejects(denoPermissions({ DATA_DIR: path.join(root, 'a,b') }, PROJECT_ROOT), /contains a comma/);
  });
});

/** Runs a command to its end; resolves with its exit code and everything it printed. */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

/** The environment of a server whose files live in `root/<folder>`. */
function serverEnv(folder: string) {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: path.join(root, folder, 'data'),
    TLS_CERT: path.join(root, folder, 'tls', 'cert.pem'),
    TLS_KEY: path.join(root, folder, 'tls', 'key.pem'),
    JWT_SECRET: TEST_SECRET,
  };
}

describe('npm run start:deno (scripts/start_deno.ts)', () => {
  test('prints the deno run command quoted for the shell, so the shell runs exactly those words', async () => {
    // A space, a quote and a dollar sign: each would break or change an unquoted command line.
    const env = { ...serverEnv("it's a $HOME"), HOST: '127.0.0.1' };
    const printed = await run(process.execPath, ['--import', 'tsx', 'scripts/start_deno.ts'], env);
    assert.equal(printed.code, 0, printed.output);
    const command = printed.output.split('\n').find((line) => line.startsWith(`'`)) ?? '';
    const words = await run('sh', ['-c', `eval "set -- $COMMAND"; printf '%s\\n' "$@"`], { COMMAND: command });
    const variables = Object.entries(denoEnvironment({ ...process.env, ...env }, PROJECT_ROOT, descriptorLimit())).map(([name, value]) => `${name}=${value}`);
    assert.deepEqual(words.output.trimEnd().split('\n'), ['env', ...variables, DENO, ...(await denoRunArgs({ ...process.env, ...env }, PROJECT_ROOT))]);
  });

  test('passes Deno the connection cap for the descriptor limit, which Deno may not read itself', () => {
    const env = { ...serverEnv('cap'), HOST: '127.0.0.1' };
    assert.deepEqual(denoEnvironment(env, PROJECT_ROOT, 1_024), { MAX_CONNECTIONS: '832' });
    assert.deepEqual(denoEnvironment({ ...env, MAX_CONNECTIONS: '100' }, PROJECT_ROOT, 1_024), { MAX_CONNECTIONS: '100' });
    assert.deepEqual(denoEnvironment({ ...env, MAX_CONNECTIONS: '5000' }, PROJECT_ROOT, 1_024), { MAX_CONNECTIONS: '832' }, 'lowered to what the limit leaves room for');
    assert.deepEqual(denoEnvironment(env, PROJECT_ROOT, undefined), {}, 'nothing where the limit cannot be read');
  });

  test('exits 1 with the message, and runs nothing, when no command can grant what the environment asks', async () => {
    const { code, output } = await run('npm', ['run', 'start:deno'], { ...serverEnv('a,b'), NO_COLOR: '1' });
    assert.equal(code, 1);
    assert.match(output, /contains a comma, which a permission flag cannot express/);
    assert.doesNotMatch(output, /Listening on/);
  });

  test("exits with the server's exit code and message when the server refuses to start", async () => {
    const { code, output } = await run('npm', ['run', 'start:deno'], { ...serverEnv('refused'), JWT_SECRET: 'short' });
    assert.equal(code, 1);
    assert.match(output, /^Cannot start: JWT_SECRET is 5 bytes/m);
  });
});

test("a permission Deno refuses stops the server with Deno's message alone, naming the flag", async () => {
  const env = serverEnv('denied');
  const withoutDataDir = `--allow-write=${path.dirname(env.TLS_CERT)}`;
  const args = (await denoRunArgs(env, PROJECT_ROOT)).map((arg) => (arg.startsWith('--allow-write=') ? withoutDataDir : arg));
  const { code, output } = await run(DENO, args, { ...env, NO_COLOR: '1' });
  assert.equal(code, 1);
  assert.equal(output.trim(), `Requires write access to "${env.DATA_DIR}", run again with the --allow-write flag`);
});
