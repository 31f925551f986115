/**
 * Every route of the HTTP interface (see docs/http.md), translating between HTTP and `sessions/sessions.ts`.
 * The session's own requests live under /session/, the one path the refresh cookie is sent to.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { normalizePassword, refuseControlCharacters, usernameKey, validatePassword, validateUsername } from './accounts/credentials.ts';
import type { User } from './accounts/store.ts';
import { DEVICE_COOKIE, deviceCookie } from './defences/device_cookie.ts';
import { newDeviceId } from './defences/device_tokens.ts';
import { safeNextPath } from './defences/next_path.ts';
import { NotSignedInError, SessionNotStartedError, StorageError, UsernameTakenError } from './errors.ts';
import { requireField } from './http/body.ts';
import { formatCookieAttributes, parseCookies } from './http/cookies.ts';
import type { Request, Route } from './http/listener.ts';
import { NO_STORE, htmlReply, noContent, seeOther, type Reply } from './http/reply.ts';
import { Router } from './http/router.ts';
import { matchesEtag, type StaticFile } from './http/static_files.ts';
import { continuePage, loginPage, orderPage, signInAgainPage, type OrderExplanation } from './pages/pages.ts';
import { SignupPage } from './pages/signup_page.ts';
import type { Services } from './services.ts';
import type { AccessClaims } from './sessions/access_tokens.ts';
import { ACCESS_COOKIE, ACCESS_COOKIE_ATTRIBUTES, REFRESH_COOKIE, readSessionCookie } from './sessions/cookies.ts';
import { AUTH_FAILURE_MESSAGES, authenticate, endEverySession, endSession, refreshSession, startSession } from './sessions/sessions.ts';
import { LruMap } from './support/lru_map.ts';

export function buildRouter(services: Services, staticFiles: ReadonlyMap<string, StaticFile>): Router<Route> {
  const router = new Router<Route>();
  const signupPage = new SignupPage(new TextDecoder().decode(staticFiles.get('/')?.body)); // public/index.html
  router.add('POST', '/signup', signup(services, signupPage));
  router.add('GET', '/login', { handle: (ctx) => htmlReply(200, loginPage({ next: safeNextPath(ctx.query.get('next')) })) });
  router.add('POST', '/login', login(services));
  router.add('GET', '/order', order(services));
  router.add('GET', '/session/refresh', refresh(services, 'redirect'));
  router.add('POST', '/session/refresh', refresh(services, 'no-content'));
  router.add('POST', '/session/logout', logout(services));
  router.add('POST', '/session/logout-everywhere', logoutEverywhere(services));
  for (const [path, file] of staticFiles) router.add('GET', path, staticFile(file));
  return router;
}

function signup(services: Services, page: SignupPage): Route {
  return {
    takesForm: true,
    async handle({ fields }) {
      const username = validateUsername(requireField(fields, 'username'));
      const password = validatePassword(requireField(fields, 'password'));
      // Checked before hashing so a taken name costs no argon2 work; checked again, atomically, on add.
      if ((await services.users.findByName(username)) !== undefined) throw usernameTaken(username);
      const passwordHash = await services.passwords.hash(password);
      const user = await services.users.add(username, passwordHash).catch((error: unknown) => {
        throw error instanceof UsernameTakenError ? usernameTaken(username) : error;
      });
      // The user is on disk now; only then does the browser get a cookie that says it exists.
      const cookies = await startSession(services, user).catch((error: unknown) => {
        // The account exists, so "try again" would only meet a 409: say what did happen instead.
        throw error instanceof StorageError ? new SessionNotStartedError('Your account was created, but signing you in failed: sign in shortly', { cause: error }) : error;
      });
      // The browser that chose the password is trusted to keep trying it while others guess at it.
      return seeOther('/order', { 'Set-Cookie': [...cookies, ...(await trustDevice(services, user, undefined))], ...NO_STORE });
    },
    // A request refused as cross-site gets the plain 403 page: the form is for a person filling it in here.
    errorPage: (error, { fields }) => (error.code === 'ERR_CROSS_SITE' ? undefined : page.filled({ error: error.message, field: error.field, username: fields.username })),
  };
}

function usernameTaken(username: string): UsernameTakenError {
  return new UsernameTakenError(`The username "${username}" is taken: choose another`);
}

/** One message for unknown user and wrong password, so a login form cannot tell who has an account. */
const LOGIN_FAILED = 'Wrong username or password';

function login(services: Services): Route {
  return {
    takesForm: true,
    async handle({ req, fields }) {
      const next = safeNextPath(fields.next);
      const username = requireField(fields, 'username');
      const password = normalizePassword(requireField(fields, 'password'));
      // No account's name holds a control character: refused (400) before any query reads the name.
      refuseControlCharacters('username', username);
      // The account is looked up first: its count is kept by its id, where no flood of made-up names
      // can reach it, and only a device cookie this account trusts gets a count of its own. Reserved
      // before the password is checked, so guesses sent in parallel are counted as they arrive.
      const account = await services.users.findByName(username);
      const device = account && services.devices.trustedDevice(readSessionCookie(req.headers.cookie, DEVICE_COOKIE), account);
      const attempt = account === undefined ? services.backoff.reserveForUnknownName(usernameKey(username)) : services.backoff.reserveForAccount(account.id, device);
      // Nor does any account's password: a failed attempt at this account, answered 400.
      refuseControlCharacters('password', password);

      const user = await checkPassword(services, account, password).catch((error: unknown) => {
        attempt.abandoned(); // no password was checked (a 503 from the hasher or the disk): not a failure
        throw error;
      });
      if (user === undefined) throw new NotSignedInError(LOGIN_FAILED); // the attempt stays counted
      attempt.succeeded();
      if (services.passwords.needsRehash(user.passwordHash)) {
        // The only moment the server sees the password again: upgrade a hash made under older parameters.
        // Best effort: the password was right and the old hash still works, so a store that cannot take
        // the write now does not turn a good login into a 503; the next login tries again.
        await services.users.setPasswordHash(user.id, await services.passwords.hash(password)).catch((error: unknown) => {
          if (!(error instanceof StorageError)) throw error;
          services.log.warn(`Cannot upgrade the password hash of user ${user.id} now: ${error.message}`);
        });
      }
      const cookies = [...(await startSession(services, user)), ...(await trustDevice(services, user, device))];
      return seeOther(next, { 'Set-Cookie': cookies, ...NO_STORE });
    },
    errorPage: (error, { fields }) =>
      error.code === 'ERR_CROSS_SITE'
        ? undefined // as for sign-up: the plain 403 page
        : loginPage({
            error: error.message,
            field: error.field,
            bothFieldsInvalid: error.code === 'ERR_NOT_SIGNED_IN',
            username: fields.username,
            next: safeNextPath(fields.next),
          }),
  };
}

/** The user whose password this is, or undefined for a wrong password or an unknown username. */
async function checkPassword(services: Services, user: User | undefined, password: string): Promise<User | undefined> {
  // No such user: verify against a dummy hash anyway, so the answer takes just as long.
  if (user === undefined) return services.passwords.verifyNobody(password).then(() => undefined);
  return (await services.passwords.verify(user.passwordHash, password)) ? user : undefined;
}

/**
 * The device cookie for a browser that just signed in to `user`: the device it came with, if the
 * account trusts it (no new id: one browser is one device, however often it signs in), else a new one,
 * which the account now trusts as its newest, forgetting its oldest past `MAX_DEVICES_PER_ACCOUNT`.
 * Best effort: a store that cannot take the write now costs the browser its cookie, not its login.
 */
async function trustDevice(services: Services, user: User, deviceId: string | undefined): Promise<string[]> {
  const id = deviceId ?? newDeviceId();
  if (user.deviceIds.at(-1) !== id) {
    try {
      await services.users.rememberDevice(user.id, id);
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      services.log.warn(`Cannot trust a new device of user ${user.id} now: ${error.message}`);
      return [];
    }
  }
  return [deviceCookie(services.devices.issue(user.id, id))];
}

/**
 * Bytes of rendered /order pages remembered, keys and tokens counted: about a thousand ordinary pages
 * (3 KiB each), and never more however large the pages an attacker's cookies make.
 */
export const ORDER_PAGE_CACHE_BYTES = 4 * 1024 * 1024;

function order(services: Services): Route {
  // The page is a pure function of the access token (its claims, its expiry, the user it names:
  // usernames never change), of the names of the cookies sent, and of the user's live sessions. So a reload with the same token and
  // cookies reuses the page rendered last time; rendering it was a third of the CPU /order cost (see
  // docs/benchmarks.md). Only the rendering is skipped: authentication, with the deny-list check, runs
  // first every time. Kept encoded as UTF-8, so a reuse does not even re-encode the text.
  // Keyed by the token's id, the cookie names and the user's sessions (each by its id and last
  // rotation), never by the whole Cookie header, whose values a client can vary at will (distinct
  // 10 KiB headers grew a cache keyed by them by 120 MiB); and each entry keeps its token, so a page
  // is only ever reused for the very token it was rendered for. Anything else a page shows must join
  // the key, or not be cached.
  const pages = new LruMap<string, { token: string; page: Buffer }>(ORDER_PAGE_CACHE_BYTES, (key, entry) => key.length + entry.token.length + entry.page.byteLength);
  return {
    async handle(ctx) {
      const cookieHeader = ctx.req.headers.cookie;
      const auth = await authenticate(services, cookieHeader);
      if ('failure' in auth) {
        // A script can handle a 401 itself (POST /refresh). A browser cannot, so it is sent on a round
        // trip through /refresh: a missing cookie usually means the browser dropped an expired one.
        if (ctx.wantsJson) throw new NotSignedInError(AUTH_FAILURE_MESSAGES[auth.failure]);
        return seeOther('/session/refresh?next=/order', NO_STORE);
      }
      const token = readSessionCookie(cookieHeader, ACCESS_COOKIE) ?? ''; // there: authentication read it
      const cookieNames = Object.keys(parseCookies(cookieHeader));
      const sessions = services.sessions.sessionsOf(auth.user.id);
      const cacheKey = JSON.stringify([auth.claims.jti, cookieNames, sessions.map((session) => `${session.id}@${session.rotatedAt}`)]);
      let cached = pages.get(cacheKey);
      if (cached?.token !== token) {
        const explanation = explainOrder(token, cookieNames, auth.claims);
        const sessionList = sessions.map((session) => ({ startedAt: session.startedAt, refreshedAt: session.generation > 0 ? session.rotatedAt : undefined, current: session.id === auth.claims.sid }));
        const page = Buffer.from(orderPage({ username: auth.user.username, accessExpiresAt: auth.claims.exp * 1000, sessions: sessionList, explanation }).value);
        cached = { token, page };
        pages.set(cacheKey, cached);
      }
      return htmlReply(200, cached.page, NO_STORE);
    },
  };
}

/**
 * What /order shows about its own request: the cookie names sent, the token decoded (it was verified
 * just now; the signature is left out), and the attributes the server sets the access cookie with.
 */
function explainOrder(token: string, cookieNames: string[], claims: AccessClaims): OrderExplanation {
  return {
    cookieNames,
    jwtHeader: decodeProtectedHeader(token),
    jwtClaims: decodeJwt(token),
    cookieAttributes: formatCookieAttributes({ ...ACCESS_COOKIE_ATTRIBUTES, maxAge: claims.exp - claims.iat }),
  };
}

/**
 * GET /session/refresh is where a browser lands on its way back to `next`: it answers 303 there. POST
 * /session/refresh is for scripts: 204 with the new cookies.
 *
 * A browser that arrives from another site (a link, a popup, a redirect chain that started elsewhere)
 * gets a page with a link instead, and nothing changes. Its SameSite=Strict refresh cookie was not sent
 * anyway; following the link is a same-origin request that carries it. A person clicks that link; a
 * page elsewhere cannot, so it cannot make the browser rotate its token and then abort the answer (an
 * automatic step, such as a meta refresh, would let it).
 */
function refresh(services: Services, success: 'redirect' | 'no-content'): Route {
  return {
    async handle(ctx) {
      const next = safeNextPath(ctx.query.get('next'));
      if (success === 'redirect' && startedOnAnotherSite(ctx.req)) return htmlReply(200, continuePage(next), NO_STORE);
      const token = readSessionCookie(ctx.req.headers.cookie, REFRESH_COOKIE);
      if (token === undefined) throw new NotSignedInError('Your session has ended: sign in again');
      const cookies = await refreshSession(services, token);
      const headers = { 'Set-Cookie': cookies, ...NO_STORE };
      return success === 'redirect' ? seeOther(next, headers) : noContent(headers);
    },
    // Only a 401 means "sign in again"; anything else (a 503 from the disk) gets the generic page.
    errorPage: (error, ctx) => (error.status === 401 ? signInAgainPage(error.message, safeNextPath(ctx.query.get('next'))) : undefined),
  };
}

/**
 * The navigation began on another site, or another site of the same registrable domain (Fetch
 * Metadata); `none` is the address bar or a bookmark. Only browsers send the header.
 */
function startedOnAnotherSite(req: Request['req']): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === 'cross-site' || site === 'same-site';
}

/** Ends this browser's session, whether or not its access cookie is still there (the refresh cookie is). */
function logout(services: Services): Route {
  return {
    async handle(ctx) {
      return seeOther('/login', { 'Set-Cookie': await endSession(services, ctx.req.headers.cookie), ...NO_STORE });
    },
  };
}

/** Ends every session of the signed-in user: the button on /order. */
function logoutEverywhere(services: Services): Route {
  return {
    async handle(ctx) {
      return seeOther('/login', { 'Set-Cookie': await endEverySession(services, ctx.req.headers.cookie), ...NO_STORE });
    },
    errorPage: (error) => (error.status === 401 ? signInAgainPage(error.message, '/order') : undefined),
  };
}

function staticFile(file: StaticFile): Route {
  const headers = { ETag: file.etag, 'Cache-Control': 'no-cache' }; // revalidate each time: cheap with the ETag
  return {
    handle(ctx): Reply {
      if (matchesEtag(ctx.req.headers['if-none-match'], file.etag)) return { status: 304, headers, body: '' };
      return { status: 200, headers: { ...headers, 'Content-Type': file.contentType }, body: file.body };
    },
  };
}
