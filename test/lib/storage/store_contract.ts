/**
 * The contract every `UserStore` and `SessionStore` pair must keep, whatever stands behind it: the
 * journal files here, a database next. A backend's test file calls
 *
 *   runStoreContract('the journal', async ({ clock, lifetimes, secret }) => ...);
 *
 * with a function that opens fresh, empty stores and says how to restart them on the same storage.
 * Every test runs against stores it opened itself, and restarts them where a rule must survive one.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Clock } from '../../../lib/support/clock.ts';
import { DEFAULT_LIFETIMES, MAX_SESSIONS_PER_USER, type IssuedRefresh, type SessionLifetimes } from '../../../lib/sessions/rules.ts';
import { RefreshError, type RefreshFailure, UsernameTakenError } from '../../../lib/errors.ts';
import { type SessionStore } from '../../../lib/sessions/store.ts';
import { type UserStore } from '../../../lib/accounts/store.ts';

export interface Stores {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  /** Closes both stores cleanly and opens them again on the same storage: a restart. */
  reopen(): Promise<Stores>;
  /** Closes both stores and deletes their storage. */
  destroy(): Promise<void>;
}

export interface StoreSettings {
  /** The clock the session store must read (tests move it). */
  clock: Clock;
  lifetimes: SessionLifetimes;
  /** The key refresh tokens are signed with. */
  secret: Uint8Array;
}

/** Opens fresh, empty stores. */
export type OpenStores = (settings: StoreSettings) => Promise<Stores>;

const SECOND = 1000;
const HOUR = 60 * 60 * SECOND;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 1);
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';
const SECRET = new TextEncoder().encode('store-contract-secret-of-32-bytes-at-least');

/** Matches a `RefreshError` with the given reason, for `assert.rejects`. */
const refused = (reason: RefreshFailure) => ({ name: 'RefreshError', code: 'ERR_REFRESH', reason });

export function runStoreContract(name: string, open: OpenStores): void {
  describe(`store contract: ${name}`, () => {
    let now = START;
    const clock: Clock = () => now;
    const advance = (ms: number) => (now += ms);
    let opened: Stores[] = [];

    /** Fresh stores at the start time; every one opened is destroyed after the test. */
    async function fresh(): Promise<Stores> {
      now = START;
      const stores = await open({ clock, lifetimes: DEFAULT_LIFETIMES, secret: SECRET });
      opened.push(stores);
      return stores;
    }
    async function restart(stores: Stores): Promise<Stores> {
      const reopened = await stores.reopen();
      opened.push(reopened);
      return reopened;
    }
    afterEach(async () => {
      await opened.at(-1)?.destroy();
      opened = [];
    });
    const logout = (sessions: SessionStore, sessionId: string, jti: string, inSeconds = 900) =>
      sessions.end([sessionId], { jti, exp: Math.floor(now / 1000) + inSeconds });

    describe('users', () => {
      test('add() stores a user found by name, whatever its case and width, and by id', async () => {
        const { users } = await fresh();
        const alice = await users.add('Alice', HASH);
        assert.equal(alice.username, 'Alice');
        assert.equal(alice.passwordHash, HASH);
        assert.match(alice.createdAt, /^\d{4}-\d\d-\d\dT/);
        assert.deepEqual(await users.findByName('Alice'), alice);
        assert.deepEqual(await users.findByName('ＡＬＩＣＥ'), alice);
        assert.deepEqual(await users.findById(alice.id), alice);
        assert.equal(await users.findByName('bob'), undefined);
        assert.equal(await users.findById('no-such-id'), undefined);
      });

      test('add() refuses a name that is taken, under any case, with UsernameTakenError', async () => {
        const { users } = await fresh();
        await users.add('alice', HASH);
        await assert.rejects(users.add('ALICE', HASH), UsernameTakenError);
      });

      test('of two sign-ups of one name at once, exactly one wins', async () => {
        const { users } = await fresh();
        const results = await Promise.allSettled([users.add('carol', HASH), users.add('Carol', HASH)]);
        assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
        const lost = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
        assert.ok(lost.reason instanceof UsernameTakenError);
      });

      test('users and their replaced hashes survive a restart', async () => {
        const stores = await fresh();
        const alice = await stores.users.add('alice', HASH);
        const bob = await stores.users.add('bob', HASH);
        await stores.users.setPasswordHash(bob.id, `${HASH}-new`);
        assert.equal((await stores.users.findById(bob.id))?.passwordHash, `${HASH}-new`);
        const { users } = await restart(stores);
        assert.deepEqual(await users.findByName('alice'), alice);
        assert.deepEqual(await users.findById(bob.id), { ...bob, passwordHash: `${HASH}-new` });
      });
    });

    describe('look-alike names (UTS #39 skeletons)', () => {
      test('add() refuses a name that looks like a taken one, in lower or upper case, with UsernameTakenError', async () => {
        const { users } = await fresh();
        await users.add('ace', HASH);
        await users.add('kim', HASH);
        await assert.rejects(users.add('\u0430\u0441\u0435', HASH), UsernameTakenError, 'Cyrillic асе');
        await assert.rejects(users.add('\u039a\u0399\u039c', HASH), UsernameTakenError, 'Greek ΚΙΜ: alike in upper case only');
        assert.equal((await users.findByName('\u0430\u0441\u0435'))?.username, 'ace', 'a login by the look-alike names the account it looks like');
      });

      test('of two sign-ups of look-alike names at once, exactly one wins', async () => {
        const { users } = await fresh();
        const results = await Promise.allSettled([users.add('topa', HASH), users.add('\u03a4\u039f\u03a1\u0391', HASH)]);
        assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
      });
    });

    describe('trusted devices', () => {
      test('a new user trusts no device; rememberDevice() adds each as the newest, keeping the newest 5, across a restart', async () => {
        const stores = await fresh();
        const alice = await stores.users.add('alice', HASH);
        assert.deepEqual(alice.deviceIds, []);
        for (const id of ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']) await stores.users.rememberDevice(alice.id, id);
        assert.deepEqual((await stores.users.findById(alice.id))?.deviceIds, ['d2', 'd3', 'd4', 'd5', 'd6']);
        await stores.users.rememberDevice(alice.id, 'd3'); // signed in again: newest now, not listed twice
        assert.deepEqual((await stores.users.findByName('alice'))?.deviceIds, ['d2', 'd4', 'd5', 'd6', 'd3']);
        const { users } = await restart(stores);
        assert.deepEqual((await users.findByName('alice'))?.deviceIds, ['d2', 'd4', 'd5', 'd6', 'd3']);
        assert.deepEqual((await users.findById(alice.id))?.deviceIds, ['d2', 'd4', 'd5', 'd6', 'd3']);
      });

      test('forgetDevices() forgets every device of the account and no other, across a restart', async () => {
        const stores = await fresh();
        const alice = await stores.users.add('alice', HASH);
        const bob = await stores.users.add('bob', HASH);
        await stores.users.rememberDevice(alice.id, 'laptop');
        await stores.users.rememberDevice(bob.id, 'phone');
        await stores.users.forgetDevices(alice.id);
        await stores.users.forgetDevices(alice.id); // nothing left: a no-op
        assert.deepEqual((await stores.users.findById(alice.id))?.deviceIds, []);
        const { users } = await restart(stores);
        assert.deepEqual((await users.findByName('alice'))?.deviceIds, []);
        assert.deepEqual((await users.findByName('bob'))?.deviceIds, ['phone']);
      });

      test('two devices remembered at once are both kept', async () => {
        const { users } = await fresh();
        const alice = await users.add('alice', HASH);
        await Promise.all([users.rememberDevice(alice.id, 'laptop'), users.rememberDevice(alice.id, 'phone')]);
        assert.deepEqual([...((await users.findByName('alice'))?.deviceIds ?? [])].sort(), ['laptop', 'phone']);
      });

      test('the devices of an unknown user are neither remembered nor forgotten, quietly', async () => {
        const { users } = await fresh();
        await users.rememberDevice('no-such-id', 'laptop');
        await users.forgetDevices('no-such-id');
        assert.equal(await users.findById('no-such-id'), undefined);
      });
    });

    describe('sessions', () => {
      const RETRY = DEFAULT_LIFETIMES.retryMs;

      test('start() issues the token of generation 0 of a new session each time, valid for 7 days', async () => {
        const { sessions } = await fresh();
        const first = await sessions.start('user-1');
        const second = await sessions.start('user-1');
        assert.equal(first.userId, 'user-1');
        assert.equal(first.refreshToken.split('.')[0], first.sessionId);
        assert.match(first.refreshToken, /^[\w-]{36}\.0\.[\w-]{43}$/);
        assert.equal(first.maxAgeSeconds, (7 * DAY) / 1000);
        assert.notEqual(first.sessionId, second.sessionId);
        assert.notEqual(first.refreshToken, second.refreshToken);
        assert.ok(sessions.isActive(first.sessionId));
      });

      test('rotate() exchanges the current token for the next generation in the same session, again and again', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        advance(60 * SECOND);
        const rotated = await sessions.rotate(started.refreshToken);
        assert.match(rotated.refreshToken, new RegExp(`^${started.sessionId}\\.1\\.`));
        assert.deepEqual({ ...rotated, refreshToken: '' }, { userId: 'user-1', sessionId: started.sessionId, refreshToken: '', maxAgeSeconds: (7 * DAY) / 1000 });
        assert.match((await sessions.rotate(rotated.refreshToken)).refreshToken, new RegExp(`^${started.sessionId}\\.2\\.`));
      });

      test('rotate() refuses a token it never issued as unknown, and ends nothing, even one naming a live session', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        const [id, , mac] = started.refreshToken.split('.');
        await sessions.rotate(started.refreshToken);
        const forgeries = ['made-up-token', `${id}.0.${'A'.repeat(43)}`, `${id}.1.${mac}`, `${id}.2.${mac}`, `${id}.00.${mac}`, `${id}.0.${mac}=`];
        for (const forged of forgeries) await assert.rejects(sessions.rotate(forged), refused('unknown'), forged);
        advance(RETRY + 1);
        for (const forged of forgeries) await assert.rejects(sessions.rotate(forged), refused('unknown'), forged);
        assert.ok(sessions.isActive(started.sessionId), 'a stranger who knows the session id cannot end it');
      });

      test('a retried request: within the retry window, the token just replaced yields the current token again, across a restart too', async () => {
        const stores = await fresh();
        const started = await stores.sessions.start('user-1');
        const lost = await stores.sessions.rotate(started.refreshToken); // the answer never reached the browser
        advance(RETRY / 2);
        const again = await stores.sessions.rotate(started.refreshToken);
        assert.deepEqual(again, { ...lost, maxAgeSeconds: again.maxAgeSeconds });
        const { sessions } = await restart(stores);
        advance(RETRY / 2);
        assert.equal((await sessions.rotate(started.refreshToken)).refreshToken, lost.refreshToken);
        assert.equal((await sessions.rotate(lost.refreshToken)).sessionId, started.sessionId);
      });

      test('two tabs racing: both get the same successor; once that was used, the token before it ends the session, window or not', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        const [first, second] = await Promise.all([sessions.rotate(started.refreshToken), sessions.rotate(started.refreshToken)]);
        assert.equal(first.refreshToken, second.refreshToken);
        await sessions.rotate(first.refreshToken);
        await assert.rejects(sessions.rotate(started.refreshToken), refused('reused'));
        assert.equal(sessions.isActive(started.sessionId), false);
      });

      test('reuse: the token just replaced, past the retry window, ends its session and only it', async () => {
        const stores = await fresh();
        const stolen = await stores.sessions.start('user-1');
        const other = await stores.sessions.start('user-1');
        const latest = await stores.sessions.rotate(stolen.refreshToken);
        advance(RETRY);
        assert.equal((await stores.sessions.rotate(stolen.refreshToken)).refreshToken, latest.refreshToken, 'the last millisecond of the window');
        advance(1);
        await assert.rejects(stores.sessions.rotate(stolen.refreshToken), refused('reused'));
        assert.equal(stores.sessions.isActive(stolen.sessionId), false);
        await assert.rejects(stores.sessions.rotate(latest.refreshToken), refused('unknown'));
        assert.equal((await stores.sessions.rotate(other.refreshToken)).sessionId, other.sessionId);

        const { sessions } = await restart(stores);
        assert.equal(sessions.isActive(stolen.sessionId), false);
        await assert.rejects(sessions.rotate(latest.refreshToken), RefreshError);
        assert.ok(sessions.isActive(other.sessionId));
      });

      test('however long ago a token was replaced, it ends the session: no memory of spent tokens to fall out of', async () => {
        const stores = await fresh();
        const tokens = [(await stores.sessions.start('user-1')).refreshToken];
        for (let i = 0; i < 30; i++) {
          advance(HOUR);
          tokens.push((await stores.sessions.rotate(tokens.at(-1)!)).refreshToken);
        }
        const { sessions } = await restart(stores);
        await assert.rejects(sessions.rotate(tokens[0]!), refused('reused'));
        await assert.rejects(sessions.rotate(tokens.at(-1)!), refused('unknown'));
      });

      test('a rotation survives a restart: the replaced token, past the window, still ends the session', async () => {
        const stores = await fresh();
        const started = await stores.sessions.start('user-1');
        const successor = await stores.sessions.rotate(started.refreshToken);
        const restarted = await restart(stores);
        advance(RETRY + 1);
        const { sessions } = await restart(restarted);
        await assert.rejects(sessions.rotate(started.refreshToken), refused('reused'));
        await assert.rejects(sessions.rotate(successor.refreshToken), RefreshError);
      });

      test('a refresh token lasts 7 days, and a session 30 days however regularly it is refreshed', async () => {
        const { sessions } = await fresh();
        const idle = await sessions.start('user-2');
        let token = (await sessions.start('user-1')).refreshToken;
        for (const day of [6, 12, 18, 24, 29]) {
          advance(day * DAY - (now - START));
          const rotated = await sessions.rotate(token);
          assert.equal(rotated.maxAgeSeconds, (Math.min(now + 7 * DAY, START + 30 * DAY) - now) / 1000, `refresh on day ${day}`);
          token = rotated.refreshToken;
        }
        await assert.rejects(sessions.rotate(idle.refreshToken), RefreshError);
        advance(START + 30 * DAY - now);
        await assert.rejects(sessions.rotate(token), RefreshError);
      });

      test('a token still works just before 7 days, and is refused as expired at 7 days', async () => {
        const { sessions } = await fresh();
        const early = await sessions.start('user-1');
        const late = await sessions.start('user-1');
        advance(7 * DAY - 1);
        assert.equal((await sessions.rotate(early.refreshToken)).sessionId, early.sessionId);
        advance(1);
        await assert.rejects(sessions.rotate(late.refreshToken), RefreshError);
        assert.equal(sessions.isActive(late.sessionId), false, 'idle for 7 days: over');
      });

      test('end() forgets the session and denies its access token until that expires, across a restart', async () => {
        const stores = await fresh();
        const started = await stores.sessions.start('user-1');
        assert.equal(stores.sessions.isDenied('jti-1'), false);
        await logout(stores.sessions, started.sessionId, 'jti-1');
        assert.equal(stores.sessions.isDenied('jti-1'), true);
        assert.equal(stores.sessions.isDenied('jti-2'), false);
        assert.equal(stores.sessions.isActive(started.sessionId), false);
        await assert.rejects(stores.sessions.rotate(started.refreshToken), refused('unknown'));

        const restarted = await restart(stores);
        assert.equal(restarted.sessions.isDenied('jti-1'), true);
        assert.equal(restarted.sessions.isActive(started.sessionId), false);

        advance(901 * SECOND);
        await restarted.sessions.start('user-2'); // any write may prune what expired
        assert.equal(restarted.sessions.isDenied('jti-1'), false, 'forgotten once it expired');
        assert.equal((await restart(restarted)).sessions.isDenied('jti-1'), false);
      });

      test('end() does not list an access token that has already expired, and ends an unknown session quietly', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        await sessions.end([started.sessionId], { jti: 'jti-old', exp: Math.floor(now / 1000) });
        assert.equal(sessions.isDenied('jti-old'), false);
        assert.equal(sessions.isActive(started.sessionId), false);
        await sessions.end(['no-such-session'], { jti: 'jti-x', exp: Math.floor(now / 1000) + 60 });
        assert.equal(sessions.isDenied('jti-x'), true);
        await sessions.end(['no-such-session']);
      });

      test('endAll() ends every session of the user, and only theirs, across a restart', async () => {
        const stores = await fresh();
        const mine = [await stores.sessions.start('user-1'), await stores.sessions.start('user-1'), await stores.sessions.start('user-1')];
        const theirs = await stores.sessions.start('user-2');
        await stores.sessions.endAll('user-1', { jti: 'jti-all', exp: Math.floor(now / 1000) + 900 });
        for (const session of mine) assert.equal(stores.sessions.isActive(session.sessionId), false);
        for (const session of mine) await assert.rejects(stores.sessions.rotate(session.refreshToken), refused('unknown'));
        assert.ok(stores.sessions.isDenied('jti-all'));
        assert.ok(stores.sessions.isActive(theirs.sessionId));
        assert.deepEqual(stores.sessions.sessionsOf('user-1'), []);

        const { sessions } = await restart(stores);
        for (const session of mine) assert.equal(sessions.isActive(session.sessionId), false);
        assert.ok(sessions.isActive(theirs.sessionId));
        await sessions.endAll('user-without-sessions');
      });

      test('sessionsOf() lists the user\'s live sessions, oldest first, each with its start and last rotation', async () => {
        const { sessions } = await fresh();
        const first = await sessions.start('user-1');
        advance(HOUR);
        const second = await sessions.start('user-1');
        await sessions.start('user-2');
        advance(HOUR);
        await sessions.rotate(first.refreshToken);
        const listed = sessions.sessionsOf('user-1').map(({ id, userId, startedAt, expiresAt, generation, rotatedAt }) => ({ id, userId, startedAt, expiresAt, generation, rotatedAt }));
        assert.deepEqual(listed, [
          { id: first.sessionId, userId: 'user-1', startedAt: START, expiresAt: START + 30 * DAY, generation: 1, rotatedAt: START + 2 * HOUR },
          { id: second.sessionId, userId: 'user-1', startedAt: START + HOUR, expiresAt: START + HOUR + 30 * DAY, generation: 0, rotatedAt: START + HOUR },
        ]);
        advance(7 * DAY - HOUR);
        assert.deepEqual(sessions.sessionsOf('user-1').map((session) => session.id), [first.sessionId], 'the idle one is over');
        assert.deepEqual(sessions.sessionsOf('nobody'), []);
      });

      // Whether an idle session (its newest refresh token expired) still counts as active is left to each
      // store: no access token outlives the refresh token it came with (15 minutes against 7 days).
      test('isActive() is false past the absolute limit, however often the session was refreshed', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        let token = started.refreshToken;
        for (let day = 6; day < 30; day += 6) {
          advance(6 * DAY);
          token = (await sessions.rotate(token)).refreshToken;
        }
        advance(START + 30 * DAY - 1 - now);
        assert.ok(sessions.isActive(started.sessionId));
        advance(1);
        assert.equal(sessions.isActive(started.sessionId), false);
      });

      test(`a user keeps at most ${MAX_SESSIONS_PER_USER} live sessions: one more login ends the oldest, across a restart`, async () => {
        assert.equal(MAX_SESSIONS_PER_USER, 10);
        const stores = await fresh();
        const other = await stores.sessions.start('user-2');
        const started: IssuedRefresh[] = [];
        for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) {
          advance(SECOND);
          started.push(await stores.sessions.start('user-1'));
        }
        assert.ok(started.every((session) => stores.sessions.isActive(session.sessionId)));
        advance(SECOND);
        const newest = await stores.sessions.start('user-1');
        assert.equal(stores.sessions.isActive(started[0]!.sessionId), false, 'the oldest session ended');
        await assert.rejects(stores.sessions.rotate(started[0]!.refreshToken), refused('unknown'));
        for (const session of [...started.slice(1), newest, other]) assert.ok(stores.sessions.isActive(session.sessionId));

        const { sessions } = await restart(stores);
        assert.equal(sessions.isActive(started[0]!.sessionId), false);
        for (const session of [...started.slice(1), newest, other]) assert.ok(sessions.isActive(session.sessionId));
        advance(SECOND);
        await sessions.start('user-1');
        assert.equal(sessions.isActive(started[1]!.sessionId), false, 'then the next oldest');
      });

      // The outside attack round: a thief holding a copy of a refresh token the client was issued.
      test('a thief who rotates a copied token nine times cannot push the victim\'s copy out: the victim\'s next refresh ends the session', async () => {
        const { sessions } = await fresh();
        const victim = await sessions.start('user-1');
        let thief = victim.refreshToken; // copied from the victim's cookie
        for (let i = 0; i < 9; i++) {
          advance(SECOND);
          thief = (await sessions.rotate(thief)).refreshToken;
        }
        advance(DEFAULT_LIFETIMES.retryMs + 1);
        await assert.rejects(sessions.rotate(victim.refreshToken), refused('reused'));
        assert.equal(sessions.isActive(victim.sessionId), false);
        await assert.rejects(sessions.rotate(thief), RefreshError);
      });

      test('a token copied after its rotation, presented past the retry window, gets nothing and ends the session', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        const successor = await sessions.rotate(started.refreshToken); // the client's, not used yet
        advance(DEFAULT_LIFETIMES.retryMs + 1);
        await assert.rejects(sessions.rotate(started.refreshToken), refused('reused'));
        assert.equal(sessions.isActive(started.sessionId), false);
        await assert.rejects(sessions.rotate(successor.refreshToken), RefreshError);
      });

      test('victim and thief taking turns 11 s apart: the thief\'s first turn ends the session', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        const copy = started.refreshToken;
        await sessions.rotate(started.refreshToken); // the victim's turn
        advance(11 * SECOND);
        await assert.rejects(sessions.rotate(copy), refused('reused')); // the thief's
        assert.equal(sessions.isActive(started.sessionId), false);
      });

      // What the retry window lets through, and no more: the same as a second tab would get.
      test('a thief presenting the replaced token within the retry window gets the client\'s own token; the next refresh out of step ends the session', async () => {
        const { sessions } = await fresh();
        const started = await sessions.start('user-1');
        const copy = started.refreshToken;
        const client = await sessions.rotate(started.refreshToken);
        advance(RETRY / 2);
        assert.equal((await sessions.rotate(copy)).refreshToken, client.refreshToken, 'shared, as with a second tab');
        advance(15 * 60 * SECOND);
        const clientAgain = await sessions.rotate(client.refreshToken); // the client's next refresh
        advance(RETRY + 1);
        await assert.rejects(sessions.rotate(client.refreshToken), refused('reused')); // the thief's, out of step
        await assert.rejects(sessions.rotate(clientAgain.refreshToken), RefreshError);
      });

      test('a repeat within the retry window carries the same Max-Age as a rotation at that moment', async () => {
        const { sessions } = await fresh();
        const first = await sessions.start('user-1');
        const second = await sessions.start('user-1');
        await sessions.rotate(first.refreshToken);
        advance(3 * SECOND);
        const repeat = await sessions.rotate(first.refreshToken);
        const rotation = await sessions.rotate(second.refreshToken);
        assert.equal(repeat.maxAgeSeconds, rotation.maxAgeSeconds);
      });

      test('sessions past their limit do not count against the cap', async () => {
        const { sessions } = await fresh();
        const old = await sessions.start('user-1');
        advance(29 * DAY);
        for (let i = 0; i < MAX_SESSIONS_PER_USER - 1; i++) await sessions.start('user-1');
        advance(DAY); // the first is over now
        const next = await sessions.start('user-1');
        assert.equal(sessions.isActive(old.sessionId), false);
        assert.ok(sessions.isActive(next.sessionId));
      });
    });
  });
}
