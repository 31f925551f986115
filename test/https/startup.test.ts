/**
 * Starting and stopping: first start creates what it needs, bad configuration stops the start with a
 * message naming the variable, a corrupt store is refused and left alone, state survives a restart.
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { createSelfSigned } from '../../lib/startup/certificate.ts';
import { RUNTIME, launchServer, makeTempDir, runUntilExit } from '../helpers/server.ts';

describe('first start', () => {
  test('creates the certificate (key mode 0600), the data folder and the secret, and prints its URL', async () => {
    const dir = await makeTempDir();
    const server = await launchServer({ JWT_SECRET: '' }, dir);
    try {
      assert.match(server.output(), /Created a self-signed certificate for localhost, 127\.0\.0\.1 and ::1/);
      assert.match(server.output(), /Listening on https:\/\/127\.0\.0\.1:\d+/);
      assert.ok(server.output().includes(`Storage: 0 users and 0 sessions in ${server.dataDir} (read in `), server.output());
      assert.equal((await stat(path.join(dir, 'key.pem'))).mode & 0o777, 0o600);
      assert.equal((await stat(path.join(server.dataDir, 'jwt-secret'))).mode & 0o777, 0o600);
      assert.equal((await send(`${server.origin}/`, server.ca, 'GET')).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('keeps the generated secret, so a token outlives a restart', async () => {
    const dir = await makeTempDir();
    const first = await launchServer({ JWT_SECRET: '' }, dir);
    const browser = first.browser();
    await browser.signup('survivor');
    assert.equal(await first.stop(), 0);

    const second = await launchServer({ JWT_SECRET: '' }, dir);
    try {
      assert.doesNotMatch(second.output(), /Created a self-signed certificate/);
      assert.match(second.output(), /Storage: 1 user and 1 session in \S+ \(read in \d+ ms\)/);
      const order = await send(`${second.origin}/order`, second.ca, 'GET', { headers: { cookie: `__Host-jwt=${await browser.cookie('__Host-jwt')}` } });
      assert.equal(order.status, 200);
    } finally {
      await second.stop();
    }
  });
});

describe('bad configuration stops the start with a message naming the variable', () => {
  const cases: [env: Record<string, string>, message: RegExp][] = [
    [{ JWT_SECRET: 'too-short' }, /JWT_SECRET is 9 bytes, it must be at least 32/],
    [{ PORT: 'eighty' }, /PORT must be a whole number from 0 to 65535, got "eighty"/],
    [{ PORT: '70000' }, /PORT must be a whole number/],
    [{ RATE_LIMIT: '-1' }, /RATE_LIMIT must be a whole number/],
  ];
  for (const [env, message] of cases) {
    test(`${JSON.stringify(env)} exits 1`, async () => {
      const { code, output } = await runUntilExit(env);
      assert.equal(code, 1);
      assert.match(output, message);
      assert.doesNotMatch(output, /\n\s+at /, 'no stack trace for a configuration mistake');
    });
  }

  test('a certificate without its key is refused rather than replaced', async () => {
    const dir = await makeTempDir();
    await writeFile(path.join(dir, 'lonely.pem'), 'not really a certificate');
    const { code, output } = await runUntilExit({ TLS_CERT: path.join(dir, 'lonely.pem'), TLS_KEY: path.join(dir, 'missing.pem') });
    assert.equal(code, 1);
    assert.match(output, /TLS_KEY \(.*missing\.pem\) is missing while its partner exists/);
    assert.equal(await readFile(path.join(dir, 'lonely.pem'), 'utf8'), 'not really a certificate');
  });
});

describe('a start the machine refuses stops with one line saying what to do', () => {
  test('a port already in use: the message names it (an earlier start may still be running)', async (t) => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    t.after(() => holder.close());
    const { port } = holder.address() as AddressInfo;
    const { code, output } = await runUntilExit({ PORT: String(port) });
    assert.equal(code, 1, output);
    assert.match(output, new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*PORT`, 'm'));
    assert.doesNotMatch(output, /\n\s+at |errno/, 'no stack trace, no raw error object');
  });

  // Root writes anywhere whatever the modes say, so as root the server runs as `nobody`: the same
  // EACCES an ordinary user meets.
  const asRoot = process.getuid?.() === 0;
  const nobody = asRoot ? { uid: 65534, gid: 65534 } : {};
  const cases: [name: string, dataDir: (locked: string, file: string) => string, reason: RegExp][] = [
    ['a DATA_DIR inside a folder the server may not write', (locked) => path.join(locked, 'data'), /permission denied \(EACCES\)/],
    ['a DATA_DIR that exists but the server may not write', (locked) => locked, /permission denied \(EACCES\)/],
    ['a DATA_DIR below a file', (_locked, file) => path.join(file, 'data'), /"[^"]*not-a-folder" is a file, not a folder \(ENOTDIR\)/],
  ];
  for (const [name, dataDirOf, reason] of cases) {
    test(`${name}: the message names the folder, the permission and the fix`, async () => {
      const dir = await makeTempDir();
      const locked = path.join(dir, 'locked');
      await mkdir(locked, { mode: 0o555 });
      await writeFile(path.join(dir, 'not-a-folder'), '');
      const dataDir = dataDirOf(locked, path.join(dir, 'not-a-folder'));
      if (asRoot) await chown(dir, nobody.uid!, nobody.gid!); // its TLS files go beside `locked`
      const { code, output } = await runUntilExit({ DATA_DIR: dataDir, TLS_CERT: path.join(dir, 'c.pem'), TLS_KEY: path.join(dir, 'k.pem') }, nobody);
      assert.equal(code, 1, output);
      const line = output.split('\n').find((text) => text.startsWith('Cannot')) ?? output;
      assert.ok(line.startsWith(`Cannot write to DATA_DIR "${dataDir}": `), line);
      assert.match(line, reason);
      assert.match(line, /set DATA_DIR/);
      assert.doesNotMatch(output, /\n\s+at |errno/, 'no stack trace, no raw error object');
    });
  }
});

describe('a data folder that lost its users', () => {
  test('users.json and its journal gone beside the folder\'s jwt-secret: refused in one line, not started empty', async () => {
    const dir = await makeTempDir();
    const first = await launchServer({ JWT_SECRET: '' }, dir);
    const signup = await first.browser().request('POST', '/signup', { form: { username: 'kept', password: 'correct horse battery' } });
    assert.equal(signup.status, 303);
    assert.equal(await first.stop(), 0);
    for (const name of await readdir(first.dataDir)) if (name.startsWith('users.')) await rm(path.join(first.dataDir, name));

    const { code, output } = await runUntilExit({ DATA_DIR: first.dataDir, JWT_SECRET: '', TLS_CERT: path.join(dir, 'cert.pem'), TLS_KEY: path.join(dir, 'key.pem') });
    assert.equal(code, 1, output);
    assert.deepEqual(output.trim().split('\n'), [
      `Cannot start: ${first.dataDir}/users.json is missing, and so is every users journal, but ${first.dataDir}/jwt-secret is there: ` +
        'this folder held users; restore it from a backup; the files that are there have been left as they are',
    ]);
  });
});

describe('an operator mistake stops the start with one line naming what and where', () => {
  /** What a mistake must print: one line on stderr, that line, and no stack or raw error object anywhere. */
  function assertOneLine(result: { code: number | null; output: string; stderr: string }, line: RegExp): void {
    assert.equal(result.code, 1, result.output);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.match(result.stderr.trimEnd(), line);
    assert.doesNotMatch(result.output, /\n\s+at |errno|\{$/m, 'no stack trace, no raw error object');
  }

  /** A certificate and its key, written to `dir` by the test (as root) for the server to read. */
  async function tlsFiles(dir: string): Promise<{ TLS_CERT: string; TLS_KEY: string }> {
    const pair = await createSelfSigned();
    const files = { TLS_CERT: path.join(dir, 'cert.pem'), TLS_KEY: path.join(dir, 'key.pem') };
    await writeFile(files.TLS_CERT, pair.cert);
    await writeFile(files.TLS_KEY, pair.key, { mode: 0o600 });
    return files;
  }

  // Root reads any file whatever its mode, so as root the server runs as `nobody`, as in the tests above.
  const asRoot = process.getuid?.() === 0;
  const nobody = asRoot ? { uid: 65534, gid: 65534 } : {};

  test('a TLS_KEY the server may not read: permission denied, with the variable and the path', async () => {
    const dir = await makeTempDir();
    const files = await tlsFiles(dir);
    if (asRoot) await chown(dir, nobody.uid!, nobody.gid!); // its DATA_DIR goes beside them; key.pem stays root's
    else await chmod(files.TLS_KEY, 0o000);
    const result = await runUntilExit({ ...files, DATA_DIR: path.join(dir, 'data') }, nobody);
    assertOneLine(result, new RegExp(`^Cannot start: cannot read TLS_KEY \\(${files.TLS_KEY}\\): permission denied \\(EACCES\\)`));
  });

  test('a TLS_KEY that is a folder', async () => {
    const dir = await makeTempDir();
    const files = await tlsFiles(dir);
    const folder = path.join(dir, 'keys');
    await mkdir(folder);
    assertOneLine(await runUntilExit({ ...files, TLS_KEY: folder }), new RegExp(`^Cannot start: cannot read TLS_KEY \\(${folder}\\): it is a folder \\(EISDIR\\)`));
  });

  test('a TLS_CERT that is not a certificate', async () => {
    const dir = await makeTempDir();
    const files = await tlsFiles(dir);
    await writeFile(files.TLS_CERT, 'not a certificate');
    assertOneLine(await runUntilExit(files), new RegExp(`^Cannot start: TLS_CERT \\(${files.TLS_CERT}\\) is not a certificate in PEM$`));
  });

  const secret = 's3cret-pa55';
  const unreachable: [name: string, url: string, line: RegExp][] = [
    ['nothing listening at its port', `postgres://app:${secret}@127.0.0.1:1/app`, /^Cannot start: cannot reach PostgreSQL at postgres:\/\/app@127\.0\.0\.1:1\/app \(ECONNREFUSED\): is it running, and are the host and port in DATABASE_URL right\?$/],
    ['a host name that does not resolve', `postgres://app:${secret}@db.invalid:5432/app`, /^Cannot start: cannot reach PostgreSQL at postgres:\/\/app@db\.invalid:5432\/app \((ENOTFOUND|EAI_AGAIN)\)/],
  ];
  for (const [name, url, line] of unreachable) {
    test(`a DATABASE_URL with ${name}: the database named without its password`, async () => {
      const dir = await makeTempDir();
      const result = await runUntilExit({ ...(await tlsFiles(dir)), DATABASE_URL: url, JWT_SECRET: 'x'.repeat(32) });
      assertOneLine(result, line);
      assert.ok(!result.output.includes(secret), 'the password is never printed');
    });
  }
});

describe('a corrupt users.json', () => {
  test('is refused at start, with a message, and left exactly as it was', async () => {
    const dir = await makeTempDir();
    const dataDir = path.join(dir, 'data');
    await mkdir(dataDir);
    const corrupt = '{"version":1,"users":[{"id":"1","username":"half';
    await writeFile(path.join(dataDir, 'users.json'), corrupt);
    const { code, output } = await runUntilExit({ DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(32) });
    assert.equal(code, 1);
    assert.match(output, /users\.json is not valid JSON/);
    assert.equal(await readFile(path.join(dataDir, 'users.json'), 'utf8'), corrupt);
  });
});

describe('shutdown and restart', () => {
  test('SIGTERM, SIGINT and SIGHUP (the terminal closing) stop the server with exit code 0', async () => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const server = await launchServer();
      assert.equal(await server.stop(signal), 0, signal);
    }
  });

  test('a logged-out token stays logged out after a restart', async () => {
    const dir = await makeTempDir();
    const first = await launchServer({}, dir);
    const browser = first.browser();
    await browser.signup('restarter');
    const access = await browser.cookie('__Host-jwt');
    assert.equal((await browser.request('POST', '/session/logout')).status, 303);
    await first.stop();

    const second = await launchServer({}, dir);
    try {
      const replay = await send(`${second.origin}/order`, second.ca, 'GET', { headers: { cookie: `__Host-jwt=${access}`, accept: 'application/json' } });
      assert.equal(replay.status, 401);
    } finally {
      await second.stop();
    }
  });
});
