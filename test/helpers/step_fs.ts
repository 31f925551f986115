/**
 * `node:fs/promises` for the stores, with every step that changes the disk numbered and named, so a
 * test can make any one of them fail (EIO, as a full or failing disk would) or "crash" there: the step
 * and everything after it never completes, as if the process were killed with SIGKILL at that moment
 * (what was written before stays, as it would in the page cache).
 */
import * as fs from 'node:fs/promises';
import path from 'node:path';
import type { FileSystem } from '../../lib/storage/durable_file.ts';

export type StepKind = 'open' | 'write' | 'fsync' | 'folder-fsync' | 'truncate' | 'rename' | 'rm';

/** A step as logged: its kind and the file's name, like `write users.journal.1.jsonl`. */
export type Step = `${StepKind} ${string}`;

type Trigger = { kind: 'fail' | 'crash'; matches: (step: Step, index: number) => boolean };

function injected(step: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EIO: injected failure at ${step}`), { code: 'EIO' });
}

const never = new Promise<never>(() => {});

export class StepFileSystem implements FileSystem {
  /** Every step that changed (or would have changed) the disk, in order. */
  readonly steps: Step[] = [];
  #triggers: Trigger[] = [];
  #crashed = false;
  #onCrash: (() => void) | undefined;
  /** Resolves when the crash happens. */
  readonly crashed = new Promise<void>((resolve) => (this.#onCrash = resolve));

  /** The next step matching `pattern` (e.g. /^fsync users/) fails with EIO, once. */
  failNext(pattern: RegExp): void {
    this.#triggers.push({ kind: 'fail', matches: (step) => pattern.test(step) });
  }

  /** Crashes at the step numbered `index` (counting every step from 0), or at the next step matching `pattern`. */
  crashAt(where: number | RegExp): void {
    this.#triggers.push({ kind: 'crash', matches: (step, index) => (typeof where === 'number' ? index === where : where.test(step)) });
  }

  /** Crashes now, as SIGKILL would: every step from here on never completes and touches nothing. */
  crashNow(): void {
    this.#crashed = true;
    this.#onCrash?.();
  }

  get hasCrashed(): boolean {
    return this.#crashed;
  }

  /** Records a step; returns what to do instead of it, if anything. */
  #step(kind: StepKind, file: unknown): 'fail' | 'crash' | undefined {
    if (this.#crashed) return 'crash';
    const step: Step = `${kind} ${path.basename(String(file))}`;
    const index = this.steps.length;
    this.steps.push(step);
    const trigger = this.#triggers.find((t) => t.matches(step, index));
    if (trigger === undefined) return undefined;
    this.#triggers.splice(this.#triggers.indexOf(trigger), 1);
    if (trigger.kind === 'crash') {
      this.#crashed = true;
      this.#onCrash?.();
    }
    return trigger.kind;
  }

  /** Runs a step unless it is to fail or crash; a crashing write leaves half its bytes, a torn append. */
  async #run<T>(kind: StepKind, file: unknown, action: () => Promise<T>, tear?: () => Promise<unknown>): Promise<T> {
    const outcome = this.#step(kind, file);
    if (outcome === 'fail') throw injected(`${kind} ${path.basename(String(file))}`);
    if (outcome === 'crash') {
      await tear?.();
      return never;
    }
    return action();
  }

  open: FileSystem['open'] = async (file, flags, mode) => {
    const writing = flags !== undefined && flags !== 'r';
    if (this.#crashed) return never;
    if (writing) await this.#run('open', file, async () => {});
    const handle = await fs.open(file, flags, mode);
    const isFolder = !writing && (await handle.stat()).isDirectory();
    const name = String(file);
    return new Proxy(handle, {
      get: (target, property) => {
        if (property === 'write') {
          return (data: Uint8Array, offset = 0, length = data.byteLength - offset) =>
            this.#run('write', name, () => target.write(data, offset, length), () => target.write(data, offset, length >> 1));
        }
        if (property === 'sync' || property === 'datasync') {
          return () => this.#run(isFolder ? 'folder-fsync' : 'fsync', name, () => target[property]());
        }
        if (property === 'truncate') return (length?: number) => this.#run('truncate', name, () => target.truncate(length));
        if (property === 'close') return () => (this.#crashed ? never : target.close());
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };

  rename: FileSystem['rename'] = (from, to) => this.#run('rename', to, () => fs.rename(from, to));
  rm: FileSystem['rm'] = (file, options) => this.#run('rm', file, () => fs.rm(file, options));
  readdir = ((...args: Parameters<typeof fs.readdir>) => (this.#crashed ? never : fs.readdir(...args))) as FileSystem['readdir'];
  readFile = ((...args: Parameters<typeof fs.readFile>) => (this.#crashed ? never : fs.readFile(...args))) as FileSystem['readFile'];
  lstat = ((...args: Parameters<typeof fs.lstat>) => (this.#crashed ? never : fs.lstat(...args))) as FileSystem['lstat'];
}
