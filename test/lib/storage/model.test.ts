/**
 * The stores against a plain in-memory model: fast-check runs random sequences of sign-ups, logins,
 * refreshes (of the newest token, and replays of older ones), logouts, clock moves, snapshots, clean
 * restarts and crashes (the stores dropped without closing), and every answer of the stores must be the
 * model's. After every restart, everything the model holds is checked in the reopened stores.
 *
 * The model restates the session rules the simple way (every token issued kept in a list), independently
 * of `rules.ts`; only the token format is shared (`RefreshTokens`), since a model cannot guess an HMAC.
 *
 * Then the proof the rules were made for: a legitimate client (two tabs, requests whose answers are
 * lost and retried) and a thief holding any token ever issued to it, against the journal store.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { JsonSessionStore } from '../../../lib/storage/session_store.ts';
import { DEFAULT_LIFETIMES, MAX_SESSIONS_PER_USER } from '../../../lib/sessions/rules.ts';
import { RefreshTokens } from '../../../lib/sessions/refresh_tokens.ts';
import { JsonUserStore } from '../../../lib/storage/user_store.ts';
import { silentLogger } from '../../../lib/support/log.ts';
import { StepFileSystem } from '../../helpers/step_fs.ts';
import { RefreshError, UsernameTakenError } from '../../../lib/errors.ts';

const SECRET = new TextEncoder().encode('model-test-secret-of-at-least-32-bytes');
const HASH = '$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
const { refreshMs, sessionMs, retryMs } = DEFAULT_LIFETIMES;
const TOKENS = new RefreshTokens(SECRET);
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

interface ModelSession {
  readonly id: string;
  readonly userId: string;
  readonly end: number;
  ended: boolean;
  /** Every token issued, oldest first: the last is the current one. */
  readonly tokens: string[];
  /** When the last one was issued. */
  issuedAt: number;
  /** The tokens the browser received, oldest first (what it may present). */
  readonly held: string[];
}

class Model {
  now = Date.UTC(2026, 0, 1);
  readonly users = new Map<string, { id: string; name: string }>();
  readonly sessions: ModelSession[] = [];
  readonly denied = new Map<string, number>();

  live(session: ModelSession): boolean {
    return !session.ended && this.now < session.end && this.now < session.issuedAt + refreshMs;
  }

  start(id: string, userId: string, token: string): void {
    const live = this.sessions.filter((session) => session.userId === userId && this.live(session));
    // Oldest first: ended until the user has room for one more.
    for (const session of live.slice(0, Math.max(0, live.length - (MAX_SESSIONS_PER_USER - 1)))) session.ended = true;
    this.sessions.push({ id, userId, end: this.now + sessionMs, ended: false, tokens: [token], issuedAt: this.now, held: [token] });
  }

  /**
   * What presenting `token` of `session` gives: the current token (after a rotation, or again within the
   * retry window), or a refusal; any other token it issued ends the session.
   */
  refresh(session: ModelSession, token: string): { token: string } | 'refused' | 'reused' {
    const index = session.tokens.indexOf(token);
    if (index === -1 || !this.live(session)) return 'refused';
    const current = session.tokens.length - 1;
    if (index === current) {
      session.tokens.push(TOKENS.issue(session.id, current + 1));
      session.issuedAt = this.now;
      return { token: session.tokens.at(-1)! };
    }
    if (index === current - 1 && this.now - session.issuedAt <= retryMs) return { token: session.tokens.at(-1)! };
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
              await stores.sessions.end([session.id], { jti, exp });
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

/** What the legitimate client, the thief and a stranger may do, in any order. */
type Move =
  /** The client refreshes with the token its cookie holds. */
  | { kind: 'refresh' }
  /** Two tabs of the client refresh at once, with the same cookie. */
  | { kind: 'two-tabs' }
  /** The client's refresh is made but its answer never arrives; the browser retries `retryAfter` ms later, within the window. */
  | { kind: 'lost-answer'; retryAfter: number }
  | { kind: 'wait'; ms: number }
  /** The thief copies a token ever issued to the client: `back` counts back from the newest. */
  | { kind: 'steal'; back: number }
  /** The thief presents one of the tokens it holds. */
  | { kind: 'thief'; pick: number }
  /** Someone who read the session id on the /order page makes up a token for it. */
  | { kind: 'stranger'; generation: number }
  /** The server is killed and started again. */
  | { kind: 'crash' };

const move: fc.Arbitrary<Move> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'refresh' as const }), weight: 6 },
  { arbitrary: fc.constant({ kind: 'two-tabs' as const }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('lost-answer' as const), retryAfter: fc.integer({ min: 0, max: retryMs }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(SECOND, 5 * SECOND, retryMs, retryMs + 1, 15 * 60 * SECOND, DAY, 2 * DAY) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('steal' as const), back: fc.oneof(fc.nat(2), fc.nat(50)) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('thief' as const), pick: fc.nat() }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('stranger' as const), generation: fc.nat(40) }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'crash' as const }), weight: 1 },
);

test('a thief holding any token ever issued is shut out by the client\'s next refresh, and the client alone is never signed out', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(move, { minLength: 5, maxLength: 50 }), async (moves) => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'store-thief-'));
      let now = Date.UTC(2026, 0, 1);
      let fs = new StepFileSystem();
      const open = () => JsonSessionStore.open(dataDir, { fs, secret: SECRET, clock: () => now, log: silentLogger });
      let store = await open();
      const present = (token: string) =>
        store.rotate(token).then(
          (issued) => issued.refreshToken,
          (error: unknown) => {
            if (!(error instanceof RefreshError)) throw error;
            return undefined;
          },
        );
      try {
        const started = await store.start('user-1');
        const startedAt = now;
        let cookie = started.refreshToken; // what the client's browser holds
        const issued = [cookie]; // every token ever issued to the client, answers lost or not
        let newestGeneration = 0;
        let lastRotationAt = now;
        const stolen: string[] = [];
        let thiefPresented = false;
        /**
         * Set by the client's first refresh since the last theft (a repeat aside: it changes nothing): once
         * the retry window after it has passed, the thief may succeed no more.
         */
        let thiefShutOutAfter: number | undefined;

        const live = () => now < startedAt + sessionMs && now < lastRotationAt + refreshMs;
        /** A refresh by the client: the token it gets, or undefined when it is refused. */
        const clientRefresh = async (token: string, where: string): Promise<string | undefined> => {
          const wasLive = live();
          const rotates = TOKENS.read(token)!.generation === newestGeneration;
          const next = await present(token);
          if (!thiefPresented && wasLive) assert.ok(next !== undefined, `the client alone was signed out ${where}`);
          if (stolen.length > 0 && (rotates || next === undefined)) thiefShutOutAfter ??= now + retryMs;
          if (next === undefined) return undefined;
          issued.push(next);
          if (rotates) {
            newestGeneration++;
            lastRotationAt = now;
          }
          return next;
        };

        for (const [step, each] of moves.entries()) {
          const where = `at step ${step} (${JSON.stringify(each)})`;
          switch (each.kind) {
            case 'refresh':
              cookie = (await clientRefresh(cookie, where)) ?? cookie;
              break;
            case 'two-tabs': {
              const [first, second] = await Promise.all([clientRefresh(cookie, where), clientRefresh(cookie, where)]);
              assert.equal(first, second, `two tabs got two tokens ${where}`);
              cookie = first ?? cookie;
              break;
            }
            case 'lost-answer':
              await clientRefresh(cookie, where);
              now += each.retryAfter;
              cookie = (await clientRefresh(cookie, where)) ?? cookie;
              break;
            case 'wait':
              now += each.ms;
              break;
            case 'steal':
              stolen.push(issued.at(-1 - (each.back % issued.length))!);
              thiefShutOutAfter = undefined; // a new theft: counted from the client's next rotation again
              break;
            case 'thief': {
              if (stolen.length === 0) break;
              thiefPresented = true;
              const next = await present(stolen[each.pick % stolen.length]!);
              if (next === undefined) break;
              // Within the retry window after the client's rotation, the thief gets what a second tab
              // would: the client's own token. Past it, nothing.
              assert.ok(thiefShutOutAfter === undefined || now <= thiefShutOutAfter, `the thief kept the session past the client's refresh ${where}`);
              if (TOKENS.read(next)!.generation > newestGeneration) {
                newestGeneration++;
                lastRotationAt = now;
              }
              stolen.push(next);
              issued.push(next);
              thiefShutOutAfter = undefined; // in step with the client: shut out by its next rotation
              break;
            }
            case 'stranger': {
              const active = store.isActive(started.sessionId);
              const forged = `${started.sessionId}.${each.generation}.${'A'.repeat(43)}`;
              assert.equal(await present(forged), undefined, `a made-up token was accepted ${where}`);
              assert.equal(store.isActive(started.sessionId), active, `a made-up token changed the session ${where}`);
              break;
            }
            case 'crash':
              await store.flush();
              fs.crashNow();
              fs = new StepFileSystem();
              store = await open();
              break;
          }
        }
        await store.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }),
    { numRuns: 500 },
  );
});
