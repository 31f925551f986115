/**
 * Users, indexed in memory so a lookup never scans, and kept in `DATA_DIR/users.json` plus its journal
 * (see `journal.ts`): each sign-up appends one line, whatever the number of users.
 */
import { randomUUID } from 'node:crypto';
import { usernameKey } from '../accounts/credentials.ts';
import { systemClock, type Clock } from '../support/clock.ts';
import type { Logger } from '../support/log.ts';
import type { FileSystem } from './durable_file.ts';
import { Journal, type JournalRecord } from './journal.ts';
import { UsernameTakenError } from '../errors.ts';
import type { User, UserStore } from '../accounts/store.ts';

export interface UserStoreOptions {
  fs?: FileSystem;
  clock?: Clock;
  log?: Pick<Logger, 'warn' | 'error'>;
  /** Journal size that triggers a snapshot (tests make it small). */
  compactAfterBytes?: number;
  /** Why the folder must already hold this store (see `JournalOptions`); unset for a new folder. */
  expected?: string | undefined;
}

/** The changes the journal records, one JSON line each. */
type UserChange = { op: 'add'; user: User } | { op: 'setPasswordHash'; id: string; passwordHash: string };

export class JsonUserStore implements UserStore {
  readonly #byId = new Map<string, User>();
  readonly #byKey = new Map<string, User>();
  /**
   * Users stored before `usernameKey` folded as much as it does now, whose key an earlier user already
   * holds ("straße" after "strasse"): found by their exact name (as stored, NFKC), so both can still
   * sign in. The earlier user keeps the key, and with it every other spelling; nobody new can take one.
   */
  readonly #byExactName = new Map<string, User>();
  readonly #clock: Clock;
  #journal!: Journal;

  private constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Loads `dataDir/users.json` and its journal, or starts empty; throws `CorruptFileError` rather than guess. */
  static async open(dataDir: string, options: UserStoreOptions = {}): Promise<JsonUserStore> {
    const store = new JsonUserStore(options.clock ?? systemClock);
    store.#journal = await Journal.open(
      {
        lists: ['users'],
        load: (_list, item) => store.#add(checkUser(item)),
        replay: (record) => store.#apply(toChange(record)),
        // Users in sign-up order: a Map keeps insertion order, and a replaced user keeps its place.
        capture: () => ({ users: [...store.#byId.values()] }),
      },
      { dir: dataDir, name: 'users', fs: options.fs, log: options.log, compactAfterBytes: options.compactAfterBytes, expected: options.expected },
    );
    return store;
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
    await this.#commit({ op: 'add', user });
    return user;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    if (!this.#byId.has(id)) return;
    await this.#commit({ op: 'setPasswordHash', id, passwordHash });
  }

  flush(): Promise<void> {
    return this.#journal.flush();
  }

  close(): Promise<void> {
    return this.#journal.close();
  }

  /** Writes a snapshot now rather than when the journal outgrows it (tests, benchmarks). */
  compact(): Promise<void> {
    return this.#journal.compact();
  }

  /** Makes the change in memory and journals it; if the write fails, the journal undoes it. */
  #commit(change: UserChange): Promise<void> {
    return this.#journal.append(change, this.#apply(change));
  }

  /** Applies a change to memory (now, or replayed at start) and returns how to undo it. */
  #apply(change: UserChange): () => void {
    if (change.op === 'add') {
      const { user } = change;
      const key = this.#add(user);
      return () => {
        this.#byId.delete(user.id);
        if (this.#byExactName.get(user.username) === user) this.#byExactName.delete(user.username);
        else this.#byKey.delete(key);
      };
    }
    const old = this.#byId.get(change.id);
    if (old === undefined) throw new Error(`no user ${change.id}`);
    this.#put({ ...old, passwordHash: change.passwordHash });
    return () => this.#put(old);
  }

  /** Indexes a new user; returns the key of its name. Throws if its id or its exact name is already there. */
  #add(user: User): string {
    const key = usernameKey(user.username); // once: 100,000 users are loaded at every start
    const holder = this.#byKey.get(key);
    if (this.#byId.has(user.id) || holder?.username === user.username || this.#byExactName.has(user.username)) {
      throw new Error(`user "${user.username}" is already there`);
    }
    this.#byId.set(user.id, user);
    // An earlier user holding the key keeps it: this one is found by its exact name (see `#byExactName`).
    if (holder === undefined) this.#byKey.set(key, user);
    else this.#byExactName.set(user.username, user);
    return key;
  }

  #put(user: User): void {
    this.#byId.set(user.id, user);
    this.#indexName(user);
  }

  /** Indexes a user by name: by key, or by exact name when an earlier user already holds the key. */
  #indexName(user: User): void {
    const key = usernameKey(user.username);
    const holder = this.#byKey.get(key);
    if (holder === undefined || holder.id === user.id) this.#byKey.set(key, user);
    else this.#byExactName.set(user.username, user);
  }
}

function toChange(record: JournalRecord): UserChange {
  if (record.op === 'add') return { op: 'add', user: checkUser(record.user) };
  if (record.op === 'setPasswordHash' && typeof record.id === 'string' && typeof record.passwordHash === 'string') {
    return { op: 'setPasswordHash', id: record.id, passwordHash: record.passwordHash };
  }
  throw new Error(`not a user change: op "${record.op}"`);
}

function checkUser(value: unknown): User {
  const user = value as Partial<Record<keyof User, unknown>> | null;
  const valid =
    typeof user === 'object' && user !== null &&
    typeof user.id === 'string' && typeof user.username === 'string' &&
    typeof user.passwordHash === 'string' && typeof user.createdAt === 'string';
  if (!valid) throw new Error('a user needs "id", "username", "passwordHash" and "createdAt"');
  return user as User;
}
