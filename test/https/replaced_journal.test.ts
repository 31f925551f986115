/**
 * The users journal deleted, moved away or replaced by a symbolic link under a running `server.ts`
 * (the outside fault round: the next sign-ups were answered 303 into a file with no name, and after
 * kill -9 the restart printed `Storage: 0 users`, 0 of 3 kept, with no warning). Now the next sign-up
 * gets 503, the server logs why and writes its snapshot from memory at once, and after kill -9 the
 * restart has every acknowledged user. Under Node and Deno.
 */
import assert from 'node:assert/strict';
import { copyFile, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { launchServer, makeTempDir, type LaunchedServer } from '../helpers/server.ts';

const PASSWORD = 'correct horse battery';
const form = (username: string) => ({ form: { username, password: PASSWORD } });

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function launch(dir: string): Promise<LaunchedServer> {
  const server = await launchServer({}, dir);
  cleanups.unshift(() => server.stop('SIGKILL'));
  return server;
}

const replacements: [string, (journal: string, root: string) => Promise<void>][] = [
  ['deleted', (journal) => rm(journal)],
  ['moved away', (journal, root) => rename(journal, path.join(root, 'moved.jsonl'))],
  [
    'replaced by a symbolic link to a copy',
    async (journal, root) => {
      await copyFile(journal, path.join(root, 'copy.jsonl'));
      await rm(journal);
      await symlink(path.join(root, 'copy.jsonl'), journal);
    },
  ],
];

for (const [how, replace] of replacements) {
  test(`the users journal ${how} under the running server: the next sign-up gets 503, and after kill -9 all 3 acknowledged users are kept`, async () => {
    const root = await makeTempDir();
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const server = await launch(root);
    const browser = server.browser();
    for (const name of ['ann', 'ben', 'cat']) assert.equal((await browser.request('POST', '/signup', form(name))).status, 303);

    await replace(path.join(server.dataDir, 'users.journal.1.jsonl'), root);
    const refused = await server.browser().request('POST', '/signup', form('dan'));
    assert.equal(refused.status, 503);
    assert.match(String(refused.headers['retry-after']), /^[1-9]\d*$/);
    for (let waited = 0; !/users\.json written from memory/.test(server.output()); waited += 20) {
      assert.ok(waited < 10_000, server.output());
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.match(server.output(), /users\.journal\.1\.jsonl was .* while the server was running: writes are refused until .*users\.json is written from memory, now/);
    assert.equal(await server.stop('SIGKILL'), null);

    const restarted = await launch(root);
    assert.match(restarted.output(), /Storage: 3 users and \d+ sessions in /);
    const again = restarted.browser();
    for (const name of ['ann', 'ben', 'cat']) assert.equal((await again.request('POST', '/login', form(name))).status, 303, `${name} was lost`);
    assert.equal((await again.request('POST', '/signup', form('dan'))).status, 303, 'the refused sign-up was not kept: the name is free');
  });
}
