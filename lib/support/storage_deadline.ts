/**
 * How long one request may wait on storage, all its storing operations together. A sign-up makes
 * three (find the name, add the user, start the session); each bounded on its own, a database that
 * answers the first and then goes away would hold the browser for the sum. The listener runs each
 * handler under a deadline; the stores read what is left of it (`postgres/database.ts`).
 *
 * The deadline travels with the request's own calls (`AsyncLocalStorage`, which Deno has too), so the
 * stores' interfaces need no extra argument for it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export const STORAGE_DEADLINE_MS = 2_500;

/** `performance.now()` by which the request being handled must be done with storage. */
const deadlines = new AsyncLocalStorage<number>();

/** Runs a request's handler under a storage deadline of STORAGE_DEADLINE_MS from now. */
export function withStorageDeadline<T>(work: () => T): T {
  return deadlines.run(performance.now() + STORAGE_DEADLINE_MS, work);
}

/**
 * Milliseconds the current request may still wait on storage: at most STORAGE_DEADLINE_MS, and that
 * much for work outside any request (a test calling a store, a heartbeat).
 */
export function storageTimeLeft(): number {
  const deadline = deadlines.getStore();
  return deadline === undefined ? STORAGE_DEADLINE_MS : Math.min(STORAGE_DEADLINE_MS, deadline - performance.now());
}
