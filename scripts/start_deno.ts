/**
 * `npm run start:deno`, first half: prints the `deno run` command for this environment, with the
 * permissions `deno_permissions.ts` computes, quoted for the shell. The npm script then hands over to
 * it with `exec`, so the process npm started is Deno itself:
 *
 *     deno_run=$(node --import tsx scripts/start_deno.ts) && eval "exec $deno_run"
 *
 * No launcher stays in between: a signal npm passes on reaches the server, and a SIGKILL to the
 * process npm started kills the server, instead of leaving it running, re-parented, holding the port.
 * (Node 20 cannot replace itself with another program, so the shell does it.)
 */
import path from 'node:path';
import { descriptorLimit } from '../lib/defences/connection_limits.ts';
import { DENO, denoEnvironment, denoRunArgs } from './deno_permissions.ts';

try {
  // `env NAME=value deno ...`: the connection cap from the descriptor limit Deno may not read.
  const variables = Object.entries(denoEnvironment(process.env, process.cwd(), descriptorLimit())).map(([name, value]) => `${name}=${value}`);
  const command = [...(variables.length > 0 ? ['env', ...variables] : []), DENO, ...(await denoRunArgs(process.env))];
  // The whole command, for the operator, so what Deno may touch is there to read (docs/deno.md says why
  // each flag is needed). On stderr: stdout is the shell's.
  console.error(`$ ${command.map((word) => (word === DENO ? path.relative(process.cwd(), DENO) : word)).join(' ')}`);
  console.log(command.map(shellQuote).join(' '));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}

/** One word for a POSIX shell, whatever it holds: single quotes keep everything but `'` literal. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
