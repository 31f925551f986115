/** The repository's root folder, wherever it was cloned: what `server.ts`, `public/` and `node_modules/` sit in. */
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
