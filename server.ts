/**
 * Starts the HTTPS server: configuration, certificate, stores, routes, listen, and a clean shutdown.
 * The same file runs under Node (`npm start`, with tsx's loader) and Deno (`npm run start:deno`).
 */
import { readConfig } from './lib/config.ts';
import { startServer } from './lib/start_server.ts';
import { ConfigError, CorruptFileError } from './lib/errors.ts';

try {
  const running = await startServer(readConfig(process.env));
  let stopping = false;
  // SIGHUP too: the terminal closing is no reason to drop requests in flight.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // A Ctrl+C arrives twice under npm: from the terminal, which signals the whole foreground group,
      // and from npm, which passes its own copy on. Left to its default, the second would end the
      // process at once and cut the stop short; the stop has a time limit of its own.
      if (stopping) return;
      stopping = true;
      console.log(`${signal}: finishing requests in flight, then stopping`);
      running.close().then(
        () => {
          console.log('Stopped: requests in flight answered, storage closed');
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
