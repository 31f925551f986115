/**
 * A user, and the user store's interface: what the routes need from wherever users are kept (the
 * embedded journal in `../storage/user_store.ts`, or PostgreSQL).
 */

export interface User {
  readonly id: string;
  /** As the user typed it (NFKC-normalised); compare with `usernameKey`. */
  readonly username: string;
  /** An argon2id PHC string (`$argon2id$v=19$m=...`): never the password. */
  readonly passwordHash: string;
  readonly createdAt: string;
  /**
   * The devices trusted to sign in to this account (`defences/device_tokens.ts`), oldest first: at most
   * `MAX_DEVICES_PER_ACCOUNT`, the ones that signed in most recently.
   */
  readonly deviceIds: readonly string[];
}

/**
 * What the handlers need from a user store. Lookups are asynchronous so that a database can stand
 * behind the same interface; this file-backed store answers them from memory.
 */
export interface UserStore {
  findByName(username: string): Promise<User | undefined>;
  findById(id: string): Promise<User | undefined>;
  /** Resolves once the user is stored; rejects with `UsernameTakenError` or `StorageError`. */
  add(username: string, passwordHash: string): Promise<User>;
  /** Replaces a hash made with older parameters; resolves once stored. */
  setPasswordHash(id: string, passwordHash: string): Promise<void>;
  /**
   * Trusts `deviceId` to sign in to the account, as its newest device: one already trusted moves to
   * the end, and past `MAX_DEVICES_PER_ACCOUNT` the oldest is forgotten. Resolves once stored.
   */
  rememberDevice(userId: string, deviceId: string): Promise<void>;
  /** Forgets every device of the account ("sign out everywhere"): its device cookies count for nothing. */
  forgetDevices(userId: string): Promise<void>;
  /** Resolves when every pending write is stored. */
  flush(): Promise<void>;
  /** Stores everything pending, leaves the storage tidy (a snapshot, a closed pool), and refuses writes after. */
  close(): Promise<void>;
}

/** The one line a store logs at start naming every pair of stored accounts whose names look alike. */
export function lookAlikeWarning(pairs: readonly { user: Pick<User, 'id' | 'username'>; earlier: Pick<User, 'id' | 'username'> }[]): string {
  const named = pairs.map(({ user, earlier }) => `"${user.username}" (${user.id}) looks like "${earlier.username}" (${earlier.id})`);
  return `Users: ${pairs.length} stored name${pairs.length === 1 ? '' : 's'} look${pairs.length === 1 ? 's' : ''} like an earlier user's (UTS #39 skeleton), from before the rule that refuses them: ${named.join('; ')}. Each account keeps working, the later one signing in by its exact name.`;
}
