/**
 * Users, indexed in memory so a lookup never scans, and kept in `DATA_DIR/users.json` plus its journal
 * (see `journal.ts`): each sign-up appends one line, whatever the number of users.
 */
import { randomUUID } from 'node:crypto';
import { usernameKey, usernameUpperKey } from '../accounts/credentials.ts';
import { withNewestDevice } from '../defences/device_tokens.ts';
import { systemClock, type Clock } from '../support/clock.ts';
import type { Logger } from '../support/log.ts';
import type { FileSystem } from './durable_file.ts';
import { Journal, type JournalRecord } from './journal.ts';
import { UsernameTakenError } from '../errors.ts';
import { lookAlikeWarning, type User, type UserStore } from '../accounts/store.ts';

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
type UserChange =
  | { op: 'add'; user: User }
  | { op: 'setPasswordHash'; id: string; passwordHash: string }
  | { op: 'setDevices'; id: string; deviceIds: readonly string[] };

export class JsonUserStore implements UserStore {
  readonly #byId = new Map<string, User>();
  /** User ids by `usernameKey`: which account a login names. */
  readonly #byKey = new Map<string, string>();
  /** User ids by `usernameUpperKey`: only sign-up looks here. */
  readonly #byUpperKey = new Map<string, string>();
  /**
   * Users stored before the name profile refused their names, whose key an earlier user already holds
   * ("straße" after "strasse", Cyrillic "асе" after "ace"): found by their exact name (as stored, NFKC),
   * so both can still sign in. The earlier user keeps the key, and with it every other spelling;
   * nobody new can take one.
   */
  readonly #byExactName = new Map<string, string>();
  /** Each stored user whose name looks like an earlier one's, with that earlier user: said once at start. */
  readonly #lookAlikes: { user: User; earlier: User }[] = [];
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
    if (store.#lookAlikes.length > 0) options.log?.warn(lookAlikeWarning(store.#lookAlikes));
    return store;
  }

  get size(): number {
    return this.#byId.size;
  }

  findByName(username: string): Promise<User | undefined> {
    const id = this.#byExactName.get(username.normalize('NFKC').trim()) ?? this.#byKey.get(usernameKey(username));
    return Promise.resolve(id === undefined ? undefined : this.#byId.get(id));
  }

  findById(id: string): Promise<User | undefined> {
    return Promise.resolve(this.#byId.get(id));
  }

  async add(username: string, passwordHash: string): Promise<User> {
    // Checked and reserved in one synchronous step, so two sign-ups of one name cannot both pass.
    if (this.#byKey.has(usernameKey(username)) || this.#byUpperKey.has(usernameUpperKey(username))) {
      throw new UsernameTakenError(`Cannot sign up: "${username}" is taken`);
    }
    const user: User = { id: randomUUID(), username, passwordHash, createdAt: new Date(this.#clock()).toISOString(), deviceIds: [] };
    await this.#commit({ op: 'add', user });
    return user;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    if (!this.#byId.has(id)) return;
    await this.#commit({ op: 'setPasswordHash', id, passwordHash });
  }

  async rememberDevice(userId: string, deviceId: string): Promise<void> {
    const user = this.#byId.get(userId);
    if (user === undefined) return;
    await this.#commit({ op: 'setDevices', id: userId, deviceIds: withNewestDevice(user.deviceIds, deviceId) });
  }

  async forgetDevices(userId: string): Promise<void> {
    const user = this.#byId.get(userId);
    if (user === undefined || user.deviceIds.length === 0) return;
    await this.#commit({ op: 'setDevices', id: userId, deviceIds: [] });
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
      this.#add(user);
      return () => {
        this.#byId.delete(user.id);
        const entries = [[this.#byExactName, user.username], [this.#byKey, usernameKey(user.username)], [this.#byUpperKey, usernameUpperKey(user.username)]] as const;
        for (const [index, name] of entries) if (index.get(name) === user.id) index.delete(name);
      };
    }
    const old = this.#byId.get(change.id);
    if (old === undefined) throw new Error(`no user ${change.id}`);
    this.#byId.set(old.id, change.op === 'setPasswordHash' ? { ...old, passwordHash: change.passwordHash } : { ...old, deviceIds: change.deviceIds });
    return () => this.#byId.set(old.id, old);
  }

  /**
   * Indexes a new user by its keys. A key an earlier user holds stays theirs: a user stored before the
   * profile refused its name is then found by its exact name (see `#byExactName`), and noted for the
   * warning at start. Throws if its id or its exact name is already there.
   */
  #add(user: User): void {
    const key = usernameKey(user.username); // once each: 100,000 users are loaded at every start
    const upperKey = usernameUpperKey(user.username);
    const holder = this.#byKey.get(key);
    const upperHolder = this.#byUpperKey.get(upperKey);
    const sameName = (id: string | undefined) => id !== undefined && this.#byId.get(id)?.username === user.username;
    if (this.#byId.has(user.id) || sameName(holder) || this.#byExactName.has(user.username)) {
      throw new Error(`user "${user.username}" is already there`);
    }
    this.#byId.set(user.id, user);
    if (holder === undefined) this.#byKey.set(key, user.id);
    else this.#byExactName.set(user.username, user.id);
    if (upperHolder === undefined) this.#byUpperKey.set(upperKey, user.id);
    const earlier = holder ?? upperHolder;
    if (earlier !== undefined) this.#lookAlikes.push({ user, earlier: this.#byId.get(earlier)! });
  }
}

function toChange(record: JournalRecord): UserChange {
  if (record.op === 'add') return { op: 'add', user: checkUser(record.user) };
  if (record.op === 'setDevices' && typeof record.id === 'string' && isDeviceList(record.deviceIds)) {
    return { op: 'setDevices', id: record.id, deviceIds: record.deviceIds };
  }
  if (record.op === 'setPasswordHash' && typeof record.id === 'string' && typeof record.passwordHash === 'string') {
    return { op: 'setPasswordHash', id: record.id, passwordHash: record.passwordHash };
  }
  throw new Error(`not a user change: op "${record.op}"`);
}

/** A stored user; one written before devices were kept has none. */
function checkUser(value: unknown): User {
  const user = value as Partial<Record<keyof User, unknown>> | null;
  const valid =
    typeof user === 'object' && user !== null &&
    typeof user.id === 'string' && typeof user.username === 'string' &&
    typeof user.passwordHash === 'string' && typeof user.createdAt === 'string' &&
    (user.deviceIds === undefined || isDeviceList(user.deviceIds));
  if (!valid) throw new Error('a user needs "id", "username", "passwordHash" and "createdAt", and "deviceIds" is a list of strings');
  return { ...(user as User), deviceIds: (user.deviceIds as string[] | undefined) ?? [] };
}

function isDeviceList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'string');
}
