/**
 * `node:fs/promises` for `DurableFile`, with its calls counted and a failure injected on cue at any
 * step of an atomic write: opening the temp file, writing it, fsyncing it, renaming it.
 */
import * as fs from 'node:fs/promises';
import type { FileSystem } from '../../lib/storage/durable_file.ts';

export type FaultPoint = 'open' | 'write' | 'fsync' | 'rename';

function injected(point: FaultPoint): NodeJS.ErrnoException {
  return Object.assign(new Error(`EIO: injected failure at ${point}`), { code: 'EIO' });
}

export class FaultyFileSystem implements FileSystem {
  /** Temp files opened for writing (the folder, opened only to fsync it, is not counted). */
  tempOpens = 0;
  renames = 0;
  #failNext: FaultPoint | undefined;
  #renameGate: Promise<void> | undefined;
  #renameReached: (() => void) | undefined;

  /** The next write fails at `point`, once. */
  failNext(point: FaultPoint): void {
    this.#failNext = point;
  }

  /**
   * Holds every rename until `release` is called, so a test can act while a write is in flight;
   * `reached` resolves when a write arrives at its rename.
   */
  holdRenames(): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    this.#renameGate = new Promise((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (this.#renameReached = resolve));
    return { reached, release: () => ((this.#renameGate = undefined), release()) };
  }

  #shouldFail(point: FaultPoint): boolean {
    if (this.#failNext !== point) return false;
    this.#failNext = undefined;
    return true;
  }

  open: FileSystem['open'] = async (file, flags, mode) => {
    if (flags !== 'wx') return fs.open(file, flags, mode);
    this.tempOpens++;
    if (this.#shouldFail('open')) throw injected('open');
    const handle = await fs.open(file, flags, mode);
    const failWrite = this.#shouldFail('write');
    const failSync = this.#shouldFail('fsync');
    return new Proxy(handle, {
      get(target, property) {
        // A write that fails halfway leaves a partial temp file behind, as a full disk would.
        if (property === 'writeFile' && failWrite) {
          return async (data: string) => {
            await target.write(data.slice(0, data.length >> 1));
            throw injected('write');
          };
        }
        if (property === 'writev' && failWrite) {
          return async (chunks: Uint8Array[]) => {
            await target.writev(chunks.slice(0, chunks.length >> 1));
            throw injected('write');
          };
        }
        if (property === 'sync' && failSync) return async () => Promise.reject(injected('fsync'));
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };

  rename: FileSystem['rename'] = async (from, to) => {
    this.renames++;
    this.#renameReached?.();
    await this.#renameGate;
    if (this.#shouldFail('rename')) throw injected('rename');
    return fs.rename(from, to);
  };

  rm: FileSystem['rm'] = (file, options) => fs.rm(file, options);
  readdir = fs.readdir;
  readFile = fs.readFile;
  lstat = fs.lstat;
}
