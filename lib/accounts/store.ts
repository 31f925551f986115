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
  /** Resolves when every pending write is stored. */
  flush(): Promise<void>;
  /** Stores everything pending, leaves the storage tidy (a snapshot, a closed pool), and refuses writes after. */
  close(): Promise<void>;
}
