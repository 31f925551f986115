/**
 * The tables, created and migrated when an instance starts. Each migration runs once, in order, and is
 * recorded in `schema_migrations` in the same transaction, so a crash midway leaves the schema at the
 * previous version rather than half-way. Instances starting together queue on an advisory lock: the
 * first migrates, the others then find nothing left to do.
 *
 * Times are milliseconds since the epoch (`bigint`), as the embedded store keeps them, so the session
 * rules read the same on both backends. The session store takes them from the database's clock, one
 * clock for every instance (tests may pass their own, to move it).
 */
import { USERNAME_PROFILE, usernameKey, usernameUpperKey } from '../../accounts/credentials.ts';
import { ConfigError } from '../../errors.ts';
import type { Sql, Transaction } from './database.ts';

/** Append only: a released migration is never edited; a change is a new entry. */
export const MIGRATIONS: readonly string[] = [
  // 1: users, sessions, their refresh tokens, and logged-out access tokens.
  `
  CREATE TABLE users (
    id            text PRIMARY KEY,
    username      text NOT NULL,
    -- usernameKey(username): NFKC, trimmed, lower case. The unique index is what makes two sign-ups
    -- of one name on two instances give exactly one account.
    username_key  text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
  );
  CREATE UNIQUE INDEX users_username_key ON users (username_key);

  CREATE TABLE sessions (
    id         text PRIMARY KEY,
    -- No foreign key: a session outlives nothing, and users are never deleted.
    user_id    text NOT NULL,
    -- Start order, for the per-user cap: the oldest session is the one ended.
    number     bigint GENERATED ALWAYS AS IDENTITY,
    expires_at bigint NOT NULL
  );
  CREATE INDEX sessions_by_user ON sessions (user_id, number);
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  CREATE TABLE refresh_tokens (
    -- SHA-256 of the token, hex: a copy of the table opens no session.
    hash       text PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- Issue order within the session: 0 at login, +1 per rotation.
    seq        integer NOT NULL,
    expires_at bigint NOT NULL,
    rotated_at bigint
  );
  CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id, seq);
  CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

  CREATE TABLE denied_access_tokens (
    jti        text PRIMARY KEY,
    expires_at bigint NOT NULL
  );
  `,
  // 2: the devices each account trusts, and names compared by both UTS #39 skeletons. The keys are
  // computed in JavaScript (`applyUsernameProfile` below), so the migration only makes room for them.
  `
  -- The device ids of device cookies this account trusts, oldest first (MAX_DEVICES_PER_ACCOUNT at most).
  ALTER TABLE users ADD COLUMN device_ids text[] NOT NULL DEFAULT '{}';
  -- usernameUpperKey(username); username_key is now usernameKey's skeleton of the case-folded name.
  ALTER TABLE users ADD COLUMN username_upper_key text;
  -- False for an account stored before the profile refused its name, whose key an earlier account
  -- holds: it signs in by its exact name, and the earlier one keeps the key.
  ALTER TABLE users ADD COLUMN holds_key boolean NOT NULL DEFAULT true;
  ALTER TABLE users ADD COLUMN holds_upper_key boolean NOT NULL DEFAULT true;
  DROP INDEX users_username_key;
  CREATE UNIQUE INDEX users_username_key ON users (username_key) WHERE holds_key;
  CREATE UNIQUE INDEX users_username_upper_key ON users (username_upper_key) WHERE holds_upper_key;
  CREATE INDEX users_by_username_key ON users (username_key);
  -- Which USERNAME_PROFILE the stored keys were computed under: another one means computing them again.
  CREATE TABLE username_profile (version text NOT NULL);
  `,
  // 3: a session keeps the generation of its current refresh token and when that was issued; tokens
  // are no longer stored one by one. A session of version 1 comes over at generation 0, a token nobody
  // holds (version 1's tokens were random): its access tokens work until they expire, then its user
  // signs in again. Its start and last rotation are reckoned from the lifetimes version 1 gave (30 days
  // a session, 7 days a token); a session without a token was over and is deleted.
  `
  ALTER TABLE sessions
    ADD COLUMN started_at bigint,
    ADD COLUMN generation integer NOT NULL DEFAULT 0,
    ADD COLUMN rotated_at bigint;
  UPDATE sessions SET
    started_at = expires_at - 2592000000,
    rotated_at = (SELECT max(expires_at) FROM refresh_tokens WHERE session_id = sessions.id) - 604800000;
  DELETE FROM sessions WHERE rotated_at IS NULL;
  ALTER TABLE sessions
    ALTER COLUMN started_at SET NOT NULL,
    ALTER COLUMN rotated_at SET NOT NULL,
    ALTER COLUMN generation DROP DEFAULT;
  DROP TABLE refresh_tokens;
  `,
];

/** Any constant shared by every instance; it names the lock "migrating this schema". */
const MIGRATION_LOCK = 0x6a77_7473; // 'jwts'

/** Brings the schema to the newest version; returns the version it is at. */
export function migrate(sql: Sql): Promise<number> {
  return sql.begin(async (tx) => {
    // Held until this transaction ends: a second instance starting now waits here, then sees the work done.
    // No time limit for a migration: the connection's statement_timeout is for requests, and a
    // migration cut half-way (an index built on a large table) would stop every start.
    await tx`SET LOCAL statement_timeout = 0`;
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const [row] = await tx<{ version: number | null }[]>`SELECT max(version) AS version FROM schema_migrations`;
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new ConfigError(`Cannot start: the database schema is at version ${current}, newer than this server (${MIGRATIONS.length}); upgrade the server`);
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await tx.unsafe(MIGRATIONS[version - 1]!);
      await tx`INSERT INTO schema_migrations (version) VALUES (${version})`;
    }
    await applyUsernameProfile(tx);
    return MIGRATIONS.length;
  });
}

/**
 * Computes every account's name keys again when they were computed under another `USERNAME_PROFILE`
 * (or none: before migration 2), in sign-up order: the first account with a key keeps it, a later one
 * that shares it (two names that look alike, both stored before the rule) keeps working by its exact
 * name. Runs under the migration lock, in its transaction: all or nothing, once per profile.
 */
async function applyUsernameProfile(tx: Transaction): Promise<void> {
  const [stored] = await tx<{ version: string }[]>`SELECT version FROM username_profile`;
  if (stored?.version === USERNAME_PROFILE) return;
  const users = await tx<{ id: string; username: string }[]>`SELECT id, username FROM users ORDER BY created_at, id`;
  const [keys, upperKeys] = [new Set<string>(), new Set<string>()];
  const rows = users.map(({ id, username }) => {
    const [key, upperKey] = [usernameKey(username), usernameUpperKey(username)];
    const row = { id, key, upperKey, holdsKey: !keys.has(key), holdsUpperKey: !upperKeys.has(upperKey) };
    keys.add(key);
    upperKeys.add(upperKey);
    return row;
  });
  // Out of both unique indexes first, so no row meets another's old key on the way to its new one.
  await tx`UPDATE users SET holds_key = false, holds_upper_key = false`;
  const column = (pick: (row: (typeof rows)[number]) => string | boolean) => rows.map((row) => String(pick(row)));
  await tx`
    UPDATE users SET username_key = v.key, username_upper_key = v.upper_key, holds_key = v.holds_key::boolean, holds_upper_key = v.holds_upper_key::boolean
    FROM unnest(${column((row) => row.id)}::text[], ${column((row) => row.key)}::text[], ${column((row) => row.upperKey)}::text[],
                ${column((row) => row.holdsKey)}::text[], ${column((row) => row.holdsUpperKey)}::text[])
      AS v(id, key, upper_key, holds_key, holds_upper_key)
    WHERE users.id = v.id`;
  await tx`DELETE FROM username_profile`;
  await tx`INSERT INTO username_profile (version) VALUES (${USERNAME_PROFILE})`;
}
