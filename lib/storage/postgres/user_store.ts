/**
 * Users in PostgreSQL. The database is the truth for sign-up and login; lookups by id, which every
 * authenticated request makes, are answered from a cache in memory, so `/order` does not wait on the
 * database for a user it has seen (users are never deleted and their names never change).
 */
import { randomUUID } from 'node:crypto';
import { usernameKey, usernameUpperKey } from '../../accounts/credentials.ts';
import { MAX_DEVICES_PER_ACCOUNT } from '../../defences/device_tokens.ts';
import { systemClock, type Clock } from '../../support/clock.ts';
import { NO_DEADLINE, storing, transaction, type Sql, type Transaction } from './database.ts';
import { announce } from './session_events.ts';
import { UsernameTakenError } from '../../errors.ts';
import { type User, type UserStore } from '../../accounts/store.ts';

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: Date;
  device_ids: string[];
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

  /**
   * Always asks the database: a login must see an account made a moment ago on another instance. The
   * account holding the name's key, or one stored before the profile refused its name, by its exact
   * name (`schema.ts`, migration 2).
   */
  async findByName(username: string): Promise<User | undefined> {
    const exact = username.normalize('NFKC').trim();
    const [row] = await storing('find the user', () => this.#sql<UserRow[]>`
      SELECT * FROM users WHERE username_key = ${usernameKey(username)} AND (holds_key OR username = ${exact})
      ORDER BY holds_key LIMIT 1`);
    return row && this.#remember(toUser(row));
  }

  async findById(id: string): Promise<User | undefined> {
    const known = this.#byId.get(id);
    if (known !== undefined) return known;
    const [row] = await storing('find the user', () => this.#sql<UserRow[]>`SELECT * FROM users WHERE id = ${id}`);
    return row && this.#remember(toUser(row));
  }

  async add(username: string, passwordHash: string): Promise<User> {
    const user: User = { id: randomUUID(), username, passwordHash, createdAt: new Date(this.#clock()).toISOString(), deviceIds: [] };
    // The unique indexes on both keys decide, atomically, across every instance: exactly one sign-up of
    // a name, or of two names that look alike, wins. In a transaction of its own, so that a sign-up
    // answered 503 at the deadline is never committed later.
    const inserted = await storing('sign up', () => transaction(this.#sql, (tx) => tx`
      INSERT INTO users (id, username, username_key, username_upper_key, password_hash, created_at)
      VALUES (${user.id}, ${username}, ${usernameKey(username)}, ${usernameUpperKey(username)}, ${passwordHash}, ${user.createdAt})
      ON CONFLICT DO NOTHING`));
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

  async rememberDevice(userId: string, deviceId: string): Promise<void> {
    // One statement, so two logins at once on two instances both land: the id moves to the end, and
    // only the newest MAX_DEVICES_PER_ACCOUNT stay (a slice from below 1 starts at the first).
    await this.#changeDevices(userId, (tx) => tx<UserRow[]>`
      UPDATE users SET device_ids = (
        SELECT ids[cardinality(ids) - ${MAX_DEVICES_PER_ACCOUNT} + 1:] FROM (SELECT array_remove(device_ids, ${deviceId}) || ${deviceId}::text AS ids) AS newest
      ) WHERE id = ${userId} RETURNING device_ids`);
  }

  async forgetDevices(userId: string): Promise<void> {
    await this.#changeDevices(userId, (tx) => tx<UserRow[]>`UPDATE users SET device_ids = '{}' WHERE id = ${userId} RETURNING device_ids`);
  }

  /** Each account stored before the profile refused its name that looks like an earlier one's, with that one. */
  async lookAlikes(): Promise<{ user: Pick<User, 'id' | 'username'>; earlier: Pick<User, 'id' | 'username'> }[]> {
    const rows = await storing('find look-alike names', () => this.#sql<{ id: string; username: string; earlier_id: string; earlier: string }[]>`
      SELECT later.id, later.username, earlier.id AS earlier_id, earlier.username AS earlier
      FROM users AS later JOIN users AS earlier
        ON (earlier.holds_key AND NOT later.holds_key AND earlier.username_key = later.username_key)
        OR (earlier.holds_upper_key AND NOT later.holds_upper_key AND earlier.username_upper_key = later.username_upper_key)
      ORDER BY later.created_at, later.id, earlier.username_key = later.username_key DESC`);
    // A name alike in both cases is said once, beside the account holding its (lower-case) key.
    const pairs = new Map<string, { user: Pick<User, 'id' | 'username'>; earlier: Pick<User, 'id' | 'username'> }>();
    for (const row of rows) if (!pairs.has(row.id)) pairs.set(row.id, { user: { id: row.id, username: row.username }, earlier: { id: row.earlier_id, username: row.earlier } });
    return [...pairs.values()];
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

  /** Runs `update` and tells the other instances, whose cached copy of the user is now stale. */
  async #changeDevices(userId: string, update: (tx: Transaction) => Promise<Pick<UserRow, 'device_ids'>[]>): Promise<void> {
    const [row] = await storing('update the devices', () =>
      transaction(this.#sql, async (tx) => {
        const rows = await update(tx);
        await announce(tx, { kind: 'user-changed', id: userId });
        return rows;
      }),
    );
    const known = this.#byId.get(userId);
    if (known !== undefined && row !== undefined) this.#byId.set(userId, { ...known, deviceIds: row.device_ids });
  }

  #remember(user: User): User {
    this.#byId.set(user.id, user);
    return user;
  }
}

function toUser(row: UserRow): User {
  return { id: row.id, username: row.username, passwordHash: row.password_hash, createdAt: new Date(row.created_at).toISOString(), deviceIds: row.device_ids };
}
