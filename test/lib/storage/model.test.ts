/**
 * The stores against a plain in-memory model: fast-check runs random sequences of sign-ups, logins,
 * refreshes (of the newest token, and replays of older ones), logouts, clock moves, snapshots, clean
 * restarts and crashes (the stores dropped without closing), and every answer of the stores must be the
 * model's. After every restart, everything the model holds is checked in the reopened stores.
 *
 * The model restates the session rules the simple way (lists, linear scans), independently of
 * `session_rules.ts`; only the successor derivation is shared, since a model cannot guess it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { DEFAULT_LIFETIMES, SPENT_TOKENS_KEPT, successorOf, MAX_SESSIONS_PER_USER } from '../../../lib/sessions/rules.ts';
import { JsonUserStore } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { RefreshError, UsernameTakenError } from '../../../lib/errors.ts';

const SECRET = new TextEncoder().encode('model-test-secret-of-at-least-32-bytes');
const HASH = '$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
const { refreshMs, sessionMs, graceMs } = DEFAULT_LIFETIMES;
const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

type Operation =
  | { kind: 'signup'; name: string }
  | { kind: 'login'; user: number }
  | { kind: 'refresh'; session: number; token: 'newest' | 'previous' | 'older' }
  | { kind: 'logout'; session: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'compact' }
  | { kind: 'restart' }
  | { kind: 'crash' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('signup' as const), name: fc.constantFrom('ann', 'Ann', 'bob', 'cy', 'dee') }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('login' as const), user: fc.nat(4) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('refresh' as const), session: fc.nat(30), token: fc.constantFrom('newest' as const, 'previous' as const, 'older' as const) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('logout' as const), session: fc.nat(30) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(SECOND, 5 * SECOND, 11 * SECOND, 2 * 60 * SECOND, DAY, 3 * DAY) }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'compact' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'restart' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'crash' as const }), weight: 1 },
);

interface ModelToken {
  readonly token: string;
  readonly expiresAt: number;
  rotatedAt?: number;
}

interface ModelSession {
  readonly id: string;
  readonly userId: string;
  readonly end: number;
  ended: boolean;
  /** Every token issued, oldest first. */
  readonly tokens: ModelToken[];
  /** The tokens the browser received, oldest first (what it may present). */
  readonly held: string[];
}

class Model {
  now = Date.UTC(2026, 0, 1);
  readonly users = new Map<string, { id: string; name: string }>();
  readonly sessions: ModelSession[] = [];
  readonly denied = new Map<string, number>();

  live(session: ModelSession): boolean {
    return !session.ended && this.now < session.end && this.now < session.tokens.at(-1)!.expiresAt;
  }

  start(id: string, userId: string, token: string): void {
    const live = this.sessions.filter((session) => session.userId === userId && this.live(session));
    // Oldest first: ended until the user has room for one more.
    for (const session of live.slice(0, Math.max(0, live.length - (MAX_SESSIONS_PER_USER - 1)))) session.ended = true;
    const end = this.now + sessionMs;
    this.sessions.push({ id, userId, end, ended: false, tokens: [{ token, expiresAt: Math.min(this.now + refreshMs, end) }], held: [token] });
  }

  /** What presenting `token` of `session` gives: the successor, or a refusal. */
  refresh(session: ModelSession, token: string): { token: string } | 'refused' | 'reused' {
    const remembered = session.tokens.slice(-(SPENT_TOKENS_KEPT + 1));
    const index = remembered.findIndex((entry) => entry.token === token);
    if (session.ended || index === -1) return 'refused';
    const entry = remembered[index]!;
    if (this.now >= entry.expiresAt || this.now >= session.end || !this.live(session)) return 'refused';
    const successor = successorOf(SECRET, token);
    if (entry.rotatedAt === undefined) {
      entry.rotatedAt = this.now;
      session.tokens.push({ token: successor, expiresAt: Math.min(this.now + refreshMs, session.end) });
      return { token: successor };
    }
    const next = remembered[index + 1]!;
    if (next.rotatedAt === undefined || this.now - entry.rotatedAt <= graceMs) return { token: successor };
    session.ended = true;
    return 'reused';
  }
}

interface Stores {
  users: JsonUserStore;
  sessions: JsonSessionStore;
  /** Their file system, which a crash stops dead: a store dropped without closing must not go on writing. */
  fs: StepFileSystem;
}

async function openStores(dataDir: string, model: Model): Promise<Stores> {
  const clock = () => model.now;
  const fs = new StepFileSystem();
  return {
    users: await JsonUserStore.open(dataDir, { fs, clock, log: silentLogger, compactAfterBytes: 400 }),
    sessions: await JsonSessionStore.open(dataDir, { fs, secret: SECRET, clock, log: silentLogger, compactAfterBytes: 800 }),
    fs,
  };
}

/** Everything the model holds, checked in the stores. */
async function assertEqual(stores: Stores, model: Model, when: string): Promise<void> {
  for (const name of ['ann', 'bob', 'cy', 'dee']) {
    assert.equal((await stores.users.findByName(name))?.id, model.users.get(name)?.id, `user ${name} ${when}`);
  }
  assert.equal(stores.users.size, model.users.size, when);
  for (const [i, session] of model.sessions.entries()) {
    assert.equal(stores.sessions.isActive(session.id), model.live(session), `session ${i} ${when}`);
  }
  for (const [jti, expiresAt] of model.denied) {
    if (model.now < expiresAt) assert.equal(stores.sessions.isDenied(jti), true, `${jti} ${when}`);
  }
}

test('the stores answer as the model does, and hold what it holds after every restart', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { minLength: 10, maxLength: 60 }), async (operations) => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'store-model-'));
      const model = new Model();
      let stores = await openStores(dataDir, model);
      let jtis = 0;
      try {
        for (const [step, op] of operations.entries()) {
          const where = `at step ${step} (${JSON.stringify(op)})`;
          switch (op.kind) {
            case 'signup': {
              const taken = model.users.has(op.name.toLowerCase());
              const result = await stores.users.add(op.name, HASH).catch((error: unknown) => error);
              if (taken) assert.ok(result instanceof UsernameTakenError, where);
              else model.users.set(op.name.toLowerCase(), { id: (result as { id: string }).id, name: op.name });
              break;
            }
            case 'login': {
              const user = [...model.users.values()][op.user];
              if (user === undefined) break;
              const issued = await stores.sessions.start(user.id);
              model.start(issued.sessionId, user.id, issued.refreshToken);
              break;
            }
            case 'refresh': {
              const session = model.sessions[op.session % Math.max(1, model.sessions.length)];
              if (session === undefined) break;
              const offset = { newest: 1, previous: 2, older: 4 }[op.token];
              const token = session.held.at(-Math.min(offset, session.held.length))!;
              const expected = model.refresh(session, token);
              const result = await stores.sessions.rotate(token).then(
                (issued) => ({ token: issued.refreshToken }),
                (error: unknown) => {
                  if (!(error instanceof RefreshError)) throw error;
                  return error.reason === 'reused' ? 'reused' : 'refused';
                },
              );
              assert.deepEqual(result, expected, where);
              if (typeof expected === 'object' && !session.held.includes(expected.token)) session.held.push(expected.token);
              break;
            }
            case 'logout': {
              const session = model.sessions[op.session % Math.max(1, model.sessions.length)];
              if (session === undefined) break;
              const jti = `jti-${jtis++}`;
              const exp = Math.floor(model.now / 1000) + 900;
              await stores.sessions.end(session.id, { jti, exp });
              session.ended = true;
              model.denied.set(jti, exp * 1000);
              break;
            }
            case 'advance':
              model.now += op.ms;
              break;
            case 'compact':
              await Promise.all([stores.users.compact(), stores.sessions.compact()]);
              break;
            case 'restart':
              await Promise.all([stores.users.close(), stores.sessions.close()]);
              stores = await openStores(dataDir, model);
              await assertEqual(stores, model, `after the restart ${where}`);
              break;
            case 'crash':
              // Dropped without closing, as SIGKILL would: no snapshot, the journal as it is, and nothing
              // more from the old stores (a background compaction of theirs would otherwise go on).
              await Promise.all([stores.users.flush(), stores.sessions.flush()]);
              stores.fs.crashNow();
              stores = await openStores(dataDir, model);
              await assertEqual(stores, model, `after the crash ${where}`);
              break;
          }
          await assertEqual(stores, model, where);
        }
        await Promise.all([stores.users.close(), stores.sessions.close()]);
        await assertEqual(await openStores(dataDir, model), model, 'at the end');
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }),
    { numRuns: 60 },
  );
});
