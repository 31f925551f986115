/**
 * `npm run start:minimal:deno`, first half: prints the `deno run` command for `lib/minimal/server.ts`,
 * for the npm script to `exec` (start_deno.ts says why). It gets the full server's permissions
 * (`deno_permissions.ts`): it reads the same variables and touches the same files, and fewer of them.
 */
import path from 'node:path';
import { DENO, denoRunArgs } from './deno_permissions.ts';
import { PROJECT_ROOT } from './support/project_root.ts';

const args = await denoRunArgs(process.env, process.cwd(), [path.join(PROJECT_ROOT, 'lib', 'minimal', 'server.ts')]);
console.error(`$ ${path.relative(process.cwd(), DENO)} ${args.join(' ')}`); // on stderr: stdout is the shell's
// Each word in single quotes, where a POSIX shell takes everything but `'` literally.
console.log([DENO, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' '));
