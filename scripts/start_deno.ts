/**
 * `npm run start:deno`: runs `server.ts` under Deno with the permissions `deno_permissions.ts` computes
 * from the environment, passes SIGINT and SIGTERM on, and exits with the server's exit code.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import { DENO, denoRunArgs } from './deno_permissions.ts';

let args: string[];
try {
  args = await denoRunArgs(process.env);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}

// The whole command, so what Deno may touch is there to read (the README says why each flag is needed).
console.log(`$ ${path.relative(process.cwd(), DENO)} ${args.join(' ')}`);

// Deno gets a process group of its own, so each signal reaches it once, from here. Otherwise a Ctrl+C
// would reach it twice, from the terminal (which signals the whole foreground group) and from us, and
// a second signal cuts the graceful stop short.
const deno = spawn(DENO, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
deno.once('error', (error) => {
  console.error(`Cannot start ${DENO}: ${error.message} (run npm install)`);
  process.exit(1);
});

let stopping = false;
// SIGHUP too: in its own group, Deno no longer hears the terminal close.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (!stopping) deno.kill(signal); // later ones (npm forwards its own copy of a Ctrl+C) are dropped
    stopping = true;
  });
}

deno.once('exit', (code, signal) => {
  // A process killed by a signal exits 128 + its number, as a shell reports it.
  process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
});
