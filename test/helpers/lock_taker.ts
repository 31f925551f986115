/**
 * A process that takes DATA_DIR's lock (argv[2]) when told: it prints `ready` once loaded, waits for a
 * line on stdin, tries, and prints `taken` or the refusal on one line; it holds what it got until its
 * stdin closes. Several of these, told at once, race for one lock as servers started together would.
 * Runs under Node or Deno (`runLockTaker` in test/lib/storage/data_dir_lock.test.ts).
 */
import { acquireLock, type DataDirLock } from '../../lib/storage/data_dir_lock.ts';

const dataDir = process.argv[2]!;
let lock: DataDirLock | undefined;
let told = false;
console.log('ready');
process.stdin.on('data', () => {
  if (told) return;
  told = true;
  acquireLock(dataDir).then(
    (taken) => {
      lock = taken;
      console.log('taken');
    },
    (error: unknown) => console.log((error as Error).message),
  );
});
process.stdin.on('end', () => void lock?.release());
