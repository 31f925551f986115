import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PROJECT_ROOT, launchServer } from '../helpers/server.ts';

/** Runs `npm run trace` as a newcomer would, with its output piped (so: no colours). */
async function runTrace(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/trace.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NO_COLOR: '' },
  });
  return stdout;
}

const JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}/;
const REFRESH_TOKEN = /__Secure-refresh=[\w-]{36}\.\d+\.[\w-]{43}\b/;

describe('npm run trace', () => {
  test('walks signup, expiry, refresh and logout, printing each head with its rule', async () => {
    const out = await runTrace();
    const lines = [
      '> POST /signup HTTP/1.1',
      '< HTTP/1.1 303 See Other',
      '< Location: /order',
      '> GET /order HTTP/1.1',
      '< HTTP/1.1 200 OK',
      '< Location: /session/refresh?next=/order',
      '> GET /session/refresh?next=/order HTTP/1.1',
      '> POST /session/logout HTTP/1.1',
      '< Location: /login',
      '< Set-Cookie: __Host-jwt=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax',
      '< Set-Cookie: __Secure-refresh=; Path=/session; Max-Age=0; HttpOnly; Secure; SameSite=Strict',
    ];
    for (const line of lines) assert.ok(out.includes(`\n${line}\n`), `missing line: ${line}`);
    assert.match(out, /^< Set-Cookie: __Host-jwt=\S+…\S+; Path=\/; Max-Age=900; HttpOnly; Secure; SameSite=Lax$/m);
    assert.match(out, /^> Cookie: __Secure-refresh=\S+…\S+$/m);
    for (const rule of ['RFC 9110 §15.4.4', '__Host-:', 'HttpOnly:', 'Secure:', 'SameSite=Lax:', 'SameSite=Strict:', 'Path=/:', 'Path=/session:', 'Max-Age=900:']) {
      assert.ok(out.includes(rule), `missing note: ${rule}`);
    }
    assert.doesNotMatch(out, /\x1b\[/, 'no colour codes when piped');
    assert.doesNotMatch(out, JWT, 'no whole JWT without --full');
    assert.doesNotMatch(out, REFRESH_TOKEN, 'no whole refresh token without --full');
    assert.doesNotMatch(out, /stays on/, 'the in-process server, and its users, are gone when the trace ends');
  });

  test('prints tokens whole with --full', async () => {
    const out = await runTrace('--full');
    assert.match(out, JWT);
    assert.match(out, REFRESH_TOKEN);
  });

  test('with --url, drops the access cookie itself (a running server keeps its own clock) and says so', async () => {
    const server = await launchServer();
    try {
      const out = await runTrace('--url', server.origin, '--cacert', path.join(server.dataDir, '..', 'cert.pem'));
      assert.match(out, /--url: a running server's clock cannot be moved from here, so the trace deletes __Host-jwt itself/);
      assert.ok(out.includes('\n< Location: /session/refresh?next=/order\n'));
      assert.match(out, /^Done\./m);
      // There is no route to delete a user, so the trace says plainly that the one it signed up stays.
      const username = /^> username=(trace-[0-9a-f]+)&/m.exec(out)?.[1];
      assert.ok(username !== undefined, 'the trace signs up a user of its own');
      assert.ok(out.includes(`The user "${username}" stays on ${server.origin}: the server has no route to delete a user`), 'says the user stays');
    } finally {
      await server.stop();
    }
  });
});
