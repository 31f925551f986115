/**
 * The HS256 key when `JWT_SECRET` is not set: 256 random bits generated on first start and kept in
 * `DATA_DIR/jwt-secret` (mode 0600), so tokens survive a restart and nobody has to invent a secret.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, MIN_SECRET_BYTES } from './config.ts';

export async function loadOrCreateSecret(dataDir: string): Promise<Uint8Array> {
  const file = path.join(dataDir, 'jwt-secret');
  try {
    await writeFile(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const secret = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url');
  if (secret.length < MIN_SECRET_BYTES) {
    throw new ConfigError(`Cannot start: ${file} holds ${secret.length} bytes, at least ${MIN_SECRET_BYTES} are needed; delete it to generate a new one`);
  }
  return secret;
}
