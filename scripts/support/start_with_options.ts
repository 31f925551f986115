/**
 * `server.ts` with `StartOptions` a test chooses (shorter timeouts, a lower connection cap), for tests
 * that must watch a limit bite under Deno as well as Node. Run by `launchServer` (`servers.ts`) when
 * it is given `startOptions`, with the options as JSON in the first argument. Nothing but numbers and plain objects can cross that way.
 */
import { readConfig } from '../../lib/config.ts';
import { startServer, type StartOptions } from '../../lib/start_server.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as StartOptions;
await startServer(readConfig(process.env), options);
