/**
 * One server per `DATA_DIR`: a lock held for the life of the process, taken before anything in the
 * folder is read or repaired. Two servers on one folder would each keep their own users in memory and
 * append the same record numbers to the same journal: two accounts for one name, then a folder that
 * refuses to start.
 *
 *   DATA_DIR/server.lock    {"pid":4242,"host":"web-1","since":"2026-01-01T10:00:00.000Z","id":"…"}
 *
 * Taking it: the file is written whole to a temp file, fsynced, then hard-linked to `server.lock`.
 * link(2) fails when the name exists, so of two servers starting at once exactly one gets it, and no
 * server ever reads a half-written lock. A clean stop removes it.
 *
 * A lock whose process is gone (kill -9, a crash, a power cut) is **stale**: its host is this host, and
 * its pid is not running, or is this very process's pid without this process holding it (the pid a
 * container's server gets at every start). A stale lock is taken over; any other lock refuses the start
 * with one line naming its holder, and nothing in the folder is touched. A lock from another host (a
 * folder on NFS) cannot be checked from here, so it is never taken over: the operator removes it.
 *
 * Two servers may find the same stale lock at once. Each hard-links it to `server.lock.takeover-<its
 * id>`: link(2) lets exactly one of them create that name, and only that one removes the stale lock and
 * creates its own. The other waits and looks again, and finds a live lock. (Removing the stale file
 * straight away would let the slower server remove the lock the faster one had just created.)
 */
import { randomUUID } from 'node:crypto';
import { link, open, readFile, rm } from 'node:fs/promises';
import { getPriority, hostname } from 'node:os';
import path from 'node:path';
import { readIfExists } from '../support/files.ts';
import { ConfigError } from '../errors.ts';

export const LOCK_FILE = 'server.lock';

/** Who holds a lock: the process, its host, since when, and the lock's own id. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  readonly id: string;
}

export interface DataDirLock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Removes the lock, if it is still this one; the folder is free for the next server. */
  release(): Promise<void>;
}

/** How long a start waits for another to finish taking over a stale lock before it gives up. */
const TAKEOVER_WAIT_MS = 5_000;

/** The ids of the locks this process holds, to tell them from an earlier process's lock with our pid. */
const heldHere = new Set<string>();

/**
 * Takes the lock on `dataDir` (which must exist), or throws a `ConfigError` naming the holder. Reads
 * before it writes: a start that is refused has created, changed and removed nothing.
 */
export async function acquireLock(dataDir: string, { takeoverWaitMs = TAKEOVER_WAIT_MS } = {}): Promise<DataDirLock> {
  const file = path.join(dataDir, LOCK_FILE);
  const holder: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), id: randomUUID() };
  const text = `${JSON.stringify(holder)}\n`;
  const giveUpAt = Date.now() + takeoverWaitMs;
  for (;;) {
    const current = await readHolder(file);
    if (current === undefined) {
      if (await createWhole(file, text)) break;
      continue; // another server created it after we looked: look again
    }
    refuseUnlessStale(file, current, holder.host);
    const outcome = await replaceStaleLock(file, current, text);
    if (outcome === 'taken') break;
    if (outcome === 'someone else is taking it over') {
      if (Date.now() > giveUpAt) {
        throw new ConfigError(
          `Cannot start: another start was taking over the stale lock ${file} (of pid ${current.pid}) and did not finish; ` +
            `if no server runs on this folder, remove ${takeoverFile(file, current)} and ${file}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  heldHere.add(holder.id);
  return {
    file,
    holder,
    async release() {
      heldHere.delete(holder.id);
      // Only the holder removes its lock, and nobody else takes over a live one: nothing can replace it in between.
      if ((await readHolder(file).catch(() => undefined))?.id === holder.id) await rm(file, { force: true });
    },
  };
}

/** The lock's holder, or `undefined` when there is no lock. Throws `ConfigError` for a file this server did not write. */
async function readHolder(file: string): Promise<LockHolder | undefined> {
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  const holder = parseHolder(text);
  if (holder === undefined) {
    throw new ConfigError(`Cannot start: ${file} is not a lock this server wrote; if no server runs on this folder, remove it`);
  }
  return holder;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Record<keyof LockHolder, unknown>> | null;
    if (typeof value !== 'object' || value === null) return undefined;
    const { pid, host, since, id } = value;
    // pid 0 would ask about this very process: a pid is positive.
    if (!Number.isSafeInteger(pid) || (pid as number) < 1 || typeof host !== 'string' || typeof since !== 'string' || typeof id !== 'string') return undefined;
    return { pid: pid as number, host, since, id };
  } catch {
    return undefined;
  }
}

/** Throws the one-line refusal unless `holder`'s lock is stale (see the top of this file). */
function refuseUnlessStale(file: string, holder: LockHolder, thisHost: string): void {
  const who = `pid ${holder.pid} on ${holder.host === thisHost ? 'this host' : `host "${holder.host}"`}, since ${holder.since}`;
  if (holder.host !== thisHost) {
    throw new ConfigError(
      `Cannot start: DATA_DIR "${path.dirname(file)}" is locked by a server on another host (${who}), which cannot be checked from here; ` +
        `if no server runs there on this folder, remove ${file}`,
    );
  }
  const ours = holder.pid === process.pid;
  if (ours ? heldHere.has(holder.id) : isRunning(holder.pid)) {
    throw new ConfigError(
      `Cannot start: DATA_DIR "${path.dirname(file)}" is in use by another server (${who}); stop it, or give this server a DATA_DIR of its own`,
    );
  }
}

/**
 * Whether a process with this pid exists on this host. getpriority(2) answers for any process, whoever
 * owns it (kill(pid, 0) says EPERM for another user's), and Deno allows it with `--allow-sys=getPriority`
 * where kill needs `--allow-run`, the right to start any program.
 */
function isRunning(pid: number): boolean {
  try {
    getPriority(pid);
    return true;
  } catch (error) {
    // Node and Deno give libuv's code in `info`: ESRCH is "no such process". Anything else (Deno's
    // NotCapable, say) is thrown: a lock is never taken over on a guess.
    if ((error as { info?: { code?: string } }).info?.code === 'ESRCH') return false;
    throw error;
  }
}

function takeoverFile(file: string, stale: LockHolder): string {
  return `${file}.takeover-${stale.id}`;
}

/**
 * Replaces the stale lock with ours (`text`), unless another server is doing the same (see the top of
 * this file), or has done it since we read the lock. Exported for its test.
 */
export async function replaceStaleLock(file: string, stale: LockHolder, text: string): Promise<'taken' | 'gone' | 'someone else is taking it over'> {
  const claim = takeoverFile(file, stale);
  try {
    await link(file, claim);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return 'someone else is taking it over';
    if (code === 'ENOENT') return 'gone'; // removed meanwhile: look again
    throw error;
  }
  try {
    // The lock may have been replaced between reading it and linking it: only the stale one is ours to remove.
    if (parseHolder(await readFile(claim, 'utf8'))?.id !== stale.id) return 'gone';
    await rm(file);
    return (await createWhole(file, text)) ? 'taken' : 'gone';
  } finally {
    await rm(claim, { force: true });
  }
}

/** Creates `file` holding `text`, whole or not at all; false if the name exists. */
async function createWhole(file: string, text: string): Promise<boolean> {
  const temp = `${file}.${randomUUID()}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}
