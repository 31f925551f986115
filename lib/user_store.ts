/**
 * Users, kept in `DATA_DIR/users.json` and indexed in memory so a lookup never scans.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { usernameKey } from './credentials.ts';
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
  override name = 'UsernameTakenError';
  readonly code = 'ERR_USERNAME_TAKEN';
}

/** What the handlers need from a user store; a database could stand behind it instead of a file. */
export interface UserStore {
  findByName(username: string): User | undefined;
  findById(id: string): User | undefined;
  /** Resolves once the user is on disk; rejects with `UsernameTakenError` or `StorageError`. */
  add(username: string, passwordHash: string): Promise<User>;
  /** Replaces a hash made with older parameters; resolves once on disk. */
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
  /** Resolves when every pending write is on disk. */
  flush(): Promise<void>;
  readonly size: number;
}

/**
 * The whole file is rewritten on each (group) commit, from one pre-serialised line per user, so a
 * commit is a string join and a write, not a `JSON.stringify` of every user.
 */
export class JsonUserStore implements UserStore {
  readonly #byId = new Map<string, User>();
  readonly #byKey = new Map<string, User>();
  readonly #lines = new Map<string, string>();
  readonly #file: DurableFile;

  private constructor(file: (serialize: () => string) => DurableFile) {
    this.#file = file(() => `{"version":1,"users":[\n${[...this.#lines.values()].join(',\n')}\n]}\n`);
  }

  /** Loads `dataDir/users.json`, or starts empty; throws `CorruptFileError` rather than lose a file. */
  static async open(dataDir: string, fs?: FileSystem): Promise<JsonUserStore> {
    const store = new JsonUserStore((serialize) => new DurableFile(path.join(dataDir, 'users.json'), serialize, fs));
    const data = await store.#file.read();
    if (data !== undefined) store.#load(data);
    return store;
  }

  #load(data: unknown): void {
    const users = (data as { users?: unknown } | null)?.users;
    if (!Array.isArray(users)) throw new CorruptFileError(`Cannot start: ${this.#file.path} has no "users" list`);
    for (const user of users as unknown[]) {
      if (!isUser(user) || this.#byId.has(user.id) || this.#byKey.has(usernameKey(user.username))) {
        throw new CorruptFileError(`Cannot start: ${this.#file.path} holds an invalid or duplicate user entry`);
      }
      this.#index(user);
    }
  }

  get size(): number {
    return this.#byId.size;
  }

  findByName(username: string): User | undefined {
    return this.#byKey.get(usernameKey(username));
  }

  findById(id: string): User | undefined {
    return this.#byId.get(id);
  }

  async add(username: string, passwordHash: string): Promise<User> {
    // Checked and reserved in one synchronous step, so two sign-ups of one name cannot both pass.
    if (this.findByName(username) !== undefined) throw new UsernameTakenError(`Cannot sign up: "${username}" is taken`);
    const user: User = { id: randomUUID(), username, passwordHash, createdAt: new Date().toISOString() };
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
    this.#index({ ...old, passwordHash });
    try {
      await this.#file.commit();
    } catch (error) {
      this.#index(old);
      throw error;
    }
  }

  flush(): Promise<void> {
    return this.#file.flush();
  }

  #index(user: User): void {
    this.#byId.set(user.id, user);
    this.#byKey.set(usernameKey(user.username), user);
    this.#lines.set(user.id, JSON.stringify(user));
  }

  #unindex(user: User): void {
    this.#byId.delete(user.id);
    this.#byKey.delete(usernameKey(user.username));
    this.#lines.delete(user.id);
  }
}

function isUser(value: unknown): value is User {
  const user = value as Partial<Record<keyof User, unknown>> | null;
  return (
    typeof user === 'object' && user !== null &&
    typeof user.id === 'string' && typeof user.username === 'string' &&
    typeof user.passwordHash === 'string' && typeof user.createdAt === 'string'
  );
}
