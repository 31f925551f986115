/**
 * The HS256 key when `JWT_SECRET` is not set: 256 random bits generated on first start and kept in
 * `DATA_DIR/jwt-secret` (mode 0600), so tokens survive a restart and nobody has to invent a secret.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { link, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { MIN_SECRET_BYTES } from '../config.ts';
import { readIfExists } from '../support/files.ts';
import { ConfigError } from '../errors.ts';

export const SECRET_FILE = 'jwt-secret';

export async function loadOrCreateSecret(dataDir: string): Promise<Uint8Array> {
  await saveSecret(dataDir, newSecret());
  return (await loadSecret(dataDir))!;
}

/** 256 random bits, not yet kept anywhere. */
export function newSecret(): Uint8Array {
  return randomBytes(32);
}

/** The secret kept in `dataDir`, or `undefined` when there is none yet. */
export async function loadSecret(dataDir: string): Promise<Uint8Array | undefined> {
  const file = path.join(dataDir, SECRET_FILE);
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  const secret = Buffer.from(text.trim(), 'base64url');
  if (secret.length < MIN_SECRET_BYTES) {
    throw new ConfigError(`Cannot start: ${file} holds ${secret.length} bytes, at least ${MIN_SECRET_BYTES} are needed; delete it to generate a new one`);
  }
  return secret;
}

/** Keeps `secret` in `dataDir`, unless a secret is there already (which then stays, and wins). */
export async function saveSecret(dataDir: string, secret: Uint8Array): Promise<void> {
  await createOnce(path.join(dataDir, SECRET_FILE), `${Buffer.from(secret).toString('base64url')}\n`);
}

/**
 * Creates `file` holding `text` unless it exists already, and never leaves it half-written: the text
 * goes to a temp file that is fsynced, then hard-linked to the name. link(2) is atomic and fails when
 * the name exists, so of two servers starting at once exactly one secret wins and both read it.
 */
async function createOnce(file: string, text: string): Promise<void> {
  const temp = `${file}.${randomUUID()}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(temp, { force: true });
  }
}
