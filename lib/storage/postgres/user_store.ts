/**
 * Users in PostgreSQL. The database is the truth for sign-up and login; lookups by id, which every
 * authenticated request makes, are answered from a cache in memory, so `/order` does not wait on the
 * database for a user it has seen (users are never deleted and their names never change).
 */
import { randomUUID } from 'node:crypto';
import { usernameKey } from '../../accounts/credentials.ts';
import { systemClock, type Clock } from '../../support/clock.ts';
import { NO_DEADLINE, storing, transaction, type Sql } from './database.ts';
import { announce } from './session_events.ts';
import { UsernameTakenError } from '../../errors.ts';
import { type User, type UserStore } from '../../accounts/store.ts';

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: Date;
}

export class PostgresUserStore implements UserStore {
  readonly #sql: Sql;
  readonly #clock: Clock;
  /** Users by id, filled as they are met (and at start, for every user with a live session). */
  readonly #byId = new Map<string, User>();

  constructor(sql: Sql, options: { clock?: Clock } = {}) {
    this.#sql = sql;
    this.#clock = options.clock ?? systemClock;
  }

  /** Fills the cache with the users of live sessions: the ones whose requests are about to arrive. */
  async warm(now: number): Promise<void> {
    const rows = await storing(
      'load users',
      () => this.#sql<UserRow[]>`SELECT * FROM users WHERE id IN (SELECT user_id FROM sessions WHERE expires_at > ${now})`,
      NO_DEADLINE, // at start, not a request: it may take longer than a request may wait
    );
    for (const row of rows) this.#remember(toUser(row));
  }

  /** Always asks the database: a login must see an account made a moment ago on another instance. */
  async findByName(username: string): Promise<User | undefined> {
    const [row] = await storing('find the user', () => this.#sql<UserRow[]>`SELECT * FROM users WHERE username_key = ${usernameKey(username)}`);
    return row && this.#remember(toUser(row));
  }

  async findById(id: string): Promise<User | undefined> {
    const known = this.#byId.get(id);
    if (known !== undefined) return known;
    const [row] = await storing('find the user', () => this.#sql<UserRow[]>`SELECT * FROM users WHERE id = ${id}`);
    return row && this.#remember(toUser(row));
  }

  async add(username: string, passwordHash: string): Promise<User> {
    const user: User = { id: randomUUID(), username, passwordHash, createdAt: new Date(this.#clock()).toISOString() };
    // The unique index decides, atomically, across every instance: exactly one sign-up of a name wins.
    // In a transaction of its own, so that a sign-up answered 503 at the deadline is never committed later.
    const inserted = await storing('sign up', () => transaction(this.#sql, (tx) => tx`
      INSERT INTO users (id, username, username_key, password_hash, created_at)
      VALUES (${user.id}, ${username}, ${usernameKey(username)}, ${passwordHash}, ${user.createdAt})
      ON CONFLICT (username_key) DO NOTHING`));
    if (inserted.count === 0) throw new UsernameTakenError(`Cannot sign up: "${username}" is taken`);
    return this.#remember(user);
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await storing('update the password hash', () =>
      transaction(this.#sql, async (tx) => {
        await tx`UPDATE users SET password_hash = ${passwordHash} WHERE id = ${id}`;
        await announce(tx, { kind: 'user-changed', id });
      }),
    );
    const known = this.#byId.get(id);
    if (known !== undefined) this.#byId.set(id, { ...known, passwordHash });
  }

  /** Every write has been awaited by its caller: nothing is pending. */
  async flush(): Promise<void> {}

  /** Nothing of its own to close: the pool is closed by `openPostgres`'s `close()`. */
  async close(): Promise<void> {}

  /** Reads a user into the cache in the background; a failure only means the first request reads it. */
  prefetch(id: string): void {
    if (!this.#byId.has(id)) this.findById(id).catch(() => {});
  }

  /** Another instance changed this user: the cached copy is dropped, and read again when needed. */
  forget(id: string): void {
    this.#byId.delete(id);
  }

  /** After a reconnection, changes may have been missed: everything is read again on demand. */
  forgetAll(): void {
    this.#byId.clear();
  }

  #remember(user: User): User {
    this.#byId.set(user.id, user);
    return user;
  }
}

function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, passwordHash: row.password_hash, createdAt: new Date(row.created_at).toISOString() };
}
