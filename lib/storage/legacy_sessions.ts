/**
 * The sessions of earlier releases, read once to carry them into the current store: `sessions.json`
 * (version 1 or 2) and its journals, where a session was a "family" of refresh-token hashes.
 *
 * Those refresh tokens were random, and only their hashes were kept: none can become a token of the
 * current format. So each live session comes over with its id, user and end, at generation 0, a token
 * nobody holds: its access tokens work until they expire, and its next refresh asks for a new sign-in.
 * Logged-out access tokens come over as they are.
 */
import path from 'node:path';
import type { Logger } from '../support/log.ts';
import type { FileSystem } from './durable_file.ts';
import { Journal } from './journal.ts';
import type { DeniedToken, Session, SessionLifetimes } from '../sessions/rules.ts';

/** The name the earlier files go by: `sessions.json`, `sessions.journal.<generation>.jsonl`. */
const LEGACY_NAME = 'sessions';

/** Its snapshot, its journals, and the temp file of a snapshot its crash left behind. */
const LEGACY_FILE = /^sessions\.(json|journal\.\d+\.jsonl|json\.[\w-]+\.tmp)$/;

interface Family {
  id: string;
  userId: string;
  expiresAt: number;
}

export interface LegacySessions {
  readonly sessions: Session[];
  readonly denied: DeniedToken[];
  /** The files read, to remove once their content is stored in the current format. */
  readonly files: string[];
}

/** Reads the earlier files in `dir`; undefined when there are none. Throws `CorruptFileError` rather than guess. */
export async function readLegacySessions(
  dir: string,
  lifetimes: SessionLifetimes,
  options: { fs: FileSystem; log?: Pick<Logger, 'warn' | 'error'> | undefined },
): Promise<LegacySessions | undefined> {
  const files = (await options.fs.readdir(dir)).filter((name) => LEGACY_FILE.test(name)).map((name) => path.join(dir, name));
  if (files.length === 0) return undefined;

  const families = new Map<string, Family>();
  /** Each family's newest refresh token's expiry: the session is idle past it. */
  const newestToken = new Map<string, number>();
  const denied = new Map<string, DeniedToken>();
  const addFamily = (item: unknown) => {
    const family = checked<Family>(item, { id: 'string', userId: 'string', expiresAt: 'number' });
    families.set(family.id, family);
  };
  // Tokens come in issue order, in the snapshot and in the journal: the last of a family is its newest.
  const addToken = (item: unknown) => {
    const token = checked<{ familyId: string; expiresAt: number }>(item, { familyId: 'string', expiresAt: 'number' });
    newestToken.set(token.familyId, token.expiresAt);
  };
  const addDenied = (item: unknown) => {
    const token = checked<DeniedToken>(item, { jti: 'string', expiresAt: 'number' });
    denied.set(token.jti, token);
  };
  // Opened to read. Its recovery may drop a torn last record, and an old layout is rewritten in the
  // journal's current one as it opens (so capture() hands back what was read); all of it is removed below.
  await Journal.open(
    {
      lists: ['families', 'refreshTokens', 'deniedAccessTokens'],
      load(list, item) {
        if (list === 'families') addFamily(item);
        else if (list === 'refreshTokens') addToken(item);
        else addDenied(item);
      },
      replay(record) {
        if (record.op === 'start') {
          for (const id of Array.isArray(record.ends) ? record.ends : []) families.delete(String(id));
          addFamily(record.family);
          addToken(record.token);
        } else if (record.op === 'rotate') {
          addToken(record.next);
        } else if (record.op === 'end') {
          families.delete(String(record.familyId));
          if (record.denied !== undefined) addDenied(record.denied);
        } else {
          throw new Error(`not a session change: op "${record.op}"`);
        }
      },
      capture: () => ({
        families: [...families.values()],
        refreshTokens: [...families.keys()].flatMap((familyId) => {
          const expiresAt = newestToken.get(familyId);
          return expiresAt === undefined ? [] : [{ hash: '', familyId, expiresAt }];
        }),
        deniedAccessTokens: [...denied.values()],
      }),
    },
    { dir, name: LEGACY_NAME, fs: options.fs, log: options.log },
  );

  const sessions: Session[] = [];
  for (const family of families.values()) {
    const tokenExpiresAt = newestToken.get(family.id);
    if (tokenExpiresAt === undefined) continue;
    sessions.push({
      id: family.id,
      userId: family.userId,
      startedAt: family.expiresAt - lifetimes.sessionMs,
      expiresAt: family.expiresAt,
      generation: 0,
      rotatedAt: tokenExpiresAt - lifetimes.refreshMs,
    });
  }
  // Listed again: opening the journal may have written files of its own (a snapshot, an empty journal).
  const written = (await options.fs.readdir(dir)).filter((name) => LEGACY_FILE.test(name)).map((name) => path.join(dir, name));
  return { sessions, denied: [...denied.values()], files: written };
}

/** `item` as a `T`, once each field named has the type given; throws otherwise (the journal names the file and offset). */
function checked<T>(item: unknown, fields: Record<string, 'string' | 'number'>): T {
  for (const [field, type] of Object.entries(fields)) {
    if (typeof (item as Record<string, unknown> | null)?.[field] !== type) throw new Error(`expected "${field}", a ${type}`);
  }
  return item as T;
}
