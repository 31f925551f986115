/**
 * The minimal server (`lib/minimal/server.ts`) for black-box tests: started by the same launcher as the
 * full server, in a child process under Node, or under Deno with `TEST_RUNTIME=deno` and the
 * permissions `npm run start:minimal:deno` grants. Its tokens are signed with `TEST_SECRET`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { launchServer } from '../../scripts/support/servers.ts';
import { TestBrowser } from './https_client.ts';
import { PROJECT_ROOT, RUNTIME, TEST_SECRET, type LaunchedServer } from './server.ts';

export const MINIMAL_SERVER = path.join(PROJECT_ROOT, 'lib', 'minimal', 'server.ts');

/** The minimal server's `iss` and `aud`: its own, so a token of the full server is not one of its tokens. */
export const MINIMAL_ISSUER = 'jwt-cookie-redirect-minimal';

/** `lib/minimal/server.ts` on port 0 of 127.0.0.1, with its files in `dir` (a temporary folder by default). */
export async function launchMinimalServer(env: Record<string, string> = {}, dir?: string): Promise<LaunchedServer> {
  const launched = await launchServer({ env: { HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, ...env }, dir, runtime: RUNTIME, script: MINIMAL_SERVER });
  return Object.assign(launched, { browser: () => new TestBrowser(launched.origin, launched.ca) });
}

export interface MinimalUser {
  username: string;
  passwordHash: string;
  createdAt: string;
}

/** The users in `dataDir/users.json`, the minimal server's one file; none before the first sign-up. */
export async function minimalUsers(dataDir: string): Promise<MinimalUser[]> {
  try {
    return (JSON.parse(await readFile(path.join(dataDir, 'users.json'), 'utf8')) as { users: MinimalUser[] }).users;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
