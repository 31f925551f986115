/**
 * Users, kept in `DATA_DIR/users.json` and indexed in memory so a lookup never scans.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { usernameKey } from '../auth/credentials.ts';
import { systemClock, type Clock } from '../support/clock.ts';
import { CorruptFileError, DurableFile, type FileSystem } from './durable_file.ts';

export interface User {
  readonly id: string;
  /** As the user typed it (NFKC-normalised); compare with `usernameKey`. */
  readonly username: string;
  /** An argon2id PHC string (`$argon2id$v=19$m=...`): never the password. */
  readonly passwordHash: string;
  readonly createdAt: string;
}

/** The name is taken, perhaps by a sign-up that won a race with this one. */
export class UsernameTakenError extends Error {
  override readonly name = 'UsernameTakenError';
  readonly code = 'ERR_USERNAME_TAKEN';
}

/**
 * What the handlers need from a user store. Lookups are asynchronous so that a database can stand
 * behind the same interface; this file-backed store answers them from memory.
 */
export interface UserStore {
  findByName(username: string): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  /** Resolves once the user is on disk; rejects with `UsernameTakenError` or `StorageError`. */
  add(username: string, passwordHash: string): Promise<User>;
  /** Replaces a hash made with older parameters; resolves once on disk. */
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
  /** Resolves when every pending write is on disk. */
  flush(): Promise<void>;
}

/**
 * Users per block of `users.json`; see `JsonUserStore`. Every commit re-encodes the last block, so a
 * small block keeps that cheap (1,000 cost ~3 % of the CPU in the signup benchmark); 100,000 users
 * are still only ~800 buffers for one writev(2).
 */
const BLOCK_SIZE = 128;

/** A run of consecutive users in the file, and their lines encoded as UTF-8 once they are known. */
interface Block {
  readonly users: User[];
  /** `{...},\n{...}`, one user per line; undefined until encoded, and again after any change. */
  bytes: Buffer | undefined;
}

const FILE_HEAD = Buffer.from('{"version":1,"users":[\n');
const SEPARATOR = Buffer.from(',\n');
const FILE_TAIL = Buffer.from('\n]}\n');

/**
 * The whole file is rewritten on each (group) commit, as the atomic rename requires, but it is not
 * serialised anew each time. Users are kept in blocks of 128, each holding its lines already
 * encoded, so a commit re-encodes only the block that changed (nearly always the last, where new
 * users go) and hands the disk a list of buffers. With 100,000 users, joining and encoding every line
 * on each commit took the event loop for tens of milliseconds and left ~20 MB of garbage per commit.
 */
export class JsonUserStore implements UserStore {
  readonly #byId = new Map<string, User>();
  readonly #byKey = new Map<string, User>();
  /**
   * Users stored before `usernameKey` folded as much as it does now, whose key an earlier user already
   * holds ("straße" after "strasse"): found by their exact name (as stored, NFKC), so both can still
   * sign in. The earlier user keeps the key, and with it every other spelling; nobody new can take one.
   */
  readonly #byExactName = new Map<string, User>();
  /** Every user in file order, block by block; only the last block takes new users. */
  readonly #blocks: Block[] = [];
  readonly #file: DurableFile;
  readonly #clock: Clock;

  private constructor(file: (serialize: () => readonly Uint8Array[]) => DurableFile, clock: Clock) {
    this.#file = file(() => this.#serialize());
    this.#clock = clock;
  }

  /** Loads `dataDir/users.json`, or starts empty; throws `CorruptFileError` rather than lose a file. */
  static async open(dataDir: string, options: { fs?: FileSystem; clock?: Clock } = {}): Promise<JsonUserStore> {
    const file = (serialize: () => readonly Uint8Array[]) => new DurableFile(path.join(dataDir, 'users.json'), serialize, options.fs);
    const store = new JsonUserStore(file, options.clock ?? systemClock);
    const data = await store.#file.read();
    if (data !== undefined) store.#load(data);
    store.#encodeInBackground(0);
    return store;
  }

  #load(data: unknown): void {
    const users = (data as { users?: unknown } | null)?.users;
    if (!Array.isArray(users)) throw new CorruptFileError(`Cannot start: ${this.#file.path} has no "users" list`);
    for (const user of users as unknown[]) {
      if (!isUser(user) || this.#byId.has(user.id) || this.#findExact(user.username) !== undefined) {
        throw new CorruptFileError(`Cannot start: ${this.#file.path} holds an invalid or duplicate user entry`);
      }
      this.#index(user);
    }
  }

  /**
   * Encodes the blocks read at start one per turn of the event loop (a millisecond or two each), so
   * that neither the start nor the first signup waits for all of them at once.
   */
  #encodeInBackground(from: number): void {
    if (from >= this.#blocks.length) return;
    setImmediate(() => {
      const block = this.#blocks[from];
      if (block !== undefined) block.bytes ??= encode(block);
      this.#encodeInBackground(from + 1);
    }); // not unref()'d: an unref()'d immediate runs only when something else wakes the loop
  }

  get size(): number {
    return this.#byId.size;
  }

  findByName(username: string): Promise<User | undefined> {
    return Promise.resolve(this.#byExactName.get(username.normalize('NFKC').trim()) ?? this.#byKey.get(usernameKey(username)));
  }

  findById(id: string): Promise<User | undefined> {
    return Promise.resolve(this.#byId.get(id));
  }

  async add(username: string, passwordHash: string): Promise<User> {
    // Checked and reserved in one synchronous step, so two sign-ups of one name cannot both pass.
    if (this.#byKey.has(usernameKey(username))) throw new UsernameTakenError(`Cannot sign up: "${username}" is taken`);
    const user: User = { id: randomUUID(), username, passwordHash, createdAt: new Date(this.#clock()).toISOString() };
    this.#index(user);
    try {
      await this.#file.commit();
    } catch (error) {
      this.#unindex(user);
      throw error;
    }
    return user;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    const old = this.#byId.get(id);
    if (old === undefined) return;
    const updated = { ...old, passwordHash };
    this.#replace(old, updated);
    try {
      await this.#file.commit();
    } catch (error) {
      this.#replace(updated, old);
      throw error;
    }
  }

  flush(): Promise<void> {
    return this.#file.flush();
  }

  /** Adds a user at the end of the file. */
  #index(user: User): void {
    this.#byId.set(user.id, user);
    this.#indexName(user);
    let last = this.#blocks.at(-1);
    if (last === undefined || last.users.length >= BLOCK_SIZE) this.#blocks.push((last = { users: [], bytes: undefined }));
    last.users.push(user);
    last.bytes = undefined;
  }

  #unindex(user: User): void {
    this.#byId.delete(user.id);
    this.#byKey.delete(usernameKey(user.username));
    const block = this.#blockOf(user);
    block.users.splice(block.users.indexOf(user), 1);
    block.bytes = undefined;
  }

  /** Puts `next` where `previous` was, in the indexes and in the file. */
  #replace(previous: User, next: User): void {
    this.#byId.set(next.id, next);
    this.#indexName(next);
    const block = this.#blockOf(previous);
    block.users[block.users.indexOf(previous)] = next;
    block.bytes = undefined;
  }

  /** The user stored under exactly this name, if any: two of them make the file corrupt. */
  #findExact(username: string): User | undefined {
    const holder = this.#byKey.get(usernameKey(username));
    return holder?.username === username ? holder : this.#byExactName.get(username);
  }

  /** Indexes a user by name: by key, or by exact name when an earlier user already holds the key. */
  #indexName(user: User): void {
    const key = usernameKey(user.username);
    const holder = this.#byKey.get(key);
    if (holder === undefined || holder.id === user.id) this.#byKey.set(key, user);
    else this.#byExactName.set(user.username, user);
  }

  /** The block holding `user`, searched from the newest: rare (undo, rehash), and usually near the end. */
  #blockOf(user: User): Block {
    for (let i = this.#blocks.length - 1; i >= 0; i--) {
      if (this.#blocks[i]!.users.includes(user)) return this.#blocks[i]!;
    }
    throw new Error(`Cannot find user ${user.id} in any block`);
  }

  /** The file as buffers: head, each non-empty block (encoded now if it changed), tail. */
  #serialize(): Uint8Array[] {
    const chunks: Uint8Array[] = [FILE_HEAD];
    for (const block of this.#blocks) {
      if (block.users.length === 0) continue;
      if (chunks.length > 1) chunks.push(SEPARATOR);
      chunks.push((block.bytes ??= encode(block)));
    }
    chunks.push(FILE_TAIL);
    return chunks;
  }
}

function encode(block: Block): Buffer {
  return Buffer.from(block.users.map((user) => JSON.stringify(user)).join(',\n'));
}

function isUser(value: unknown): value is User {
  const user = value as Partial<Record<keyof User, unknown>> | null;
  return (
    typeof user === 'object' && user !== null &&
    typeof user.id === 'string' && typeof user.username === 'string' &&
    typeof user.passwordHash === 'string' && typeof user.createdAt === 'string'
  );
}
