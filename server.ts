/**
 * Starts the HTTPS server: configuration, certificate, stores, routes, listen, and a clean shutdown.
 * The same file runs under Node (`npm start` runs it bundled by esbuild; `npm run dev` through tsx) and
 * Deno (`npm run start:deno`).
 */
import { readConfig } from './lib/config.ts';
import { startServer } from './lib/start_server.ts';
import { createLogger } from './lib/support/log.ts';
import { ConfigError, CorruptFileError } from './lib/errors.ts';

try {
  // One logger for the server's lines and these: request lines are written in batches, and the last
  // line must come after the last request's.
  const log = createLogger();
  const running = await startServer(readConfig(process.env), { log });
  let stopping = false;
  // SIGHUP too: the terminal closing is no reason to drop requests in flight.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // A Ctrl+C arrives twice under npm: from the terminal, which signals the whole foreground group,
      // and from npm, which passes its own copy on. Left to its default, the second would end the
      // process at once and cut the stop short; the stop has a time limit of its own.
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: finishing requests in flight, then stopping`);
      running.close().then(
        () => {
          log.info('Stopped: requests in flight answered, storage closed');
          process.exit(0);
        },
        (error: unknown) => {
          console.error('Could not stop cleanly:', error);
          process.exit(1);
        },
      );
    });
  }
} catch (error) {
  // A mistake the operator can fix gets its message alone; anything else gets its stack.
  console.error(isOperatorMistake(error) ? error.message : error);
  process.exit(1);
}

function isOperatorMistake(error: unknown): error is Error {
  return (
    error instanceof ConfigError ||
    error instanceof CorruptFileError ||
    // Deno refusing what its permission flags do not allow; the message names the path and the flag.
    (error instanceof Error && error.name === 'NotCapable')
  );
}
