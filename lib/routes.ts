/**
 * Every route of the HTTP interface (see docs/http.md), translating between HTTP and `sessions/sessions.ts`.
 * The session's own requests live under /session/, the one path the refresh cookie is sent to.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { normalizePassword, usernameKey, validatePassword, validateUsername } from './accounts/credentials.ts';
import type { User } from './accounts/store.ts';
import { DEVICE_COOKIE, deviceCookie } from './defences/device_cookie.ts';
import { safeNextPath } from './defences/next_path.ts';
import { NotSignedInError, SessionNotStartedError, StorageError, UsernameTakenError } from './errors.ts';
import { requireField } from './http/body.ts';
import { formatCookieAttributes, parseCookies } from './http/cookies.ts';
import type { RequestContext, Route } from './http/listener.ts';
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
      const device = deviceCookie(services.devices.issue(usernameKey(username)));
      return seeOther('/order', { 'Set-Cookie': [...cookies, device], ...NO_STORE });
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
      const account = usernameKey(username);
      // A browser that signed in to this account before is limited on its own; everyone else shares
      // the account's count. Reserved before the password is checked, so guesses sent in parallel are
      // counted as they arrive.
      const device = services.devices.verify(readSessionCookie(req.headers.cookie, DEVICE_COOKIE), account);
      const attempt = services.backoff.reserve(account, device);

      const user = await checkPassword(services, username, password).catch((error: unknown) => {
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
      const cookies = [...(await startSession(services, user)), deviceCookie(services.devices.issue(account))];
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
async function checkPassword(services: Services, username: string, password: string): Promise<User | undefined> {
  const user = await services.users.findByName(username);
  // No such user: verify against a dummy hash anyway, so the answer takes just as long.
  if (user === undefined) return services.passwords.verifyNobody(password).then(() => undefined);
  return (await services.passwords.verify(user.passwordHash, password)) ? user : undefined;
}

/** Rendered /order pages remembered, by the Cookie header and the session list that produced them. */
const ORDER_PAGE_CACHE_SIZE = 1_000;

function order(services: Services): Route {
  // The page is a pure function of the Cookie header (the token in it: claims, expiry; the cookie names;
  // the user it names, whose name never changes) and of the user's sessions, each known by its id and
  // last rotation. So a reload with the same cookies and sessions reuses the page rendered last time;
  // rendering it was a third of the CPU /order cost (see docs/benchmarks.md).
  // Only the rendering is skipped: authentication, with the deny-list check, runs first every time.
  // Kept encoded as UTF-8, so a reuse does not even re-encode the text on its way to the socket.
  const pages = new LruMap<string, Buffer>(ORDER_PAGE_CACHE_SIZE);
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
      const sessions = services.sessions.sessionsOf(auth.user.id);
      const cacheKey = `${cookieHeader}\n${sessions.map((session) => `${session.id}@${session.rotatedAt}`).join(' ')}`;
      let page = pages.get(cacheKey);
      if (page === undefined) {
        const explanation = explainOrder(cookieHeader, auth.claims);
        const sessionList = sessions.map((session) => ({ startedAt: session.startedAt, refreshedAt: session.generation > 0 ? session.rotatedAt : undefined, current: session.id === auth.claims.sid }));
        page = Buffer.from(orderPage({ username: auth.user.username, accessExpiresAt: auth.claims.exp * 1000, sessions: sessionList, explanation }).value);
        pages.set(cacheKey, page);
      }
      return htmlReply(200, page, NO_STORE);
    },
  };
}

/**
 * What /order shows about its own request: the cookie names sent, the token decoded (it was verified
 * just now; the signature is left out), and the attributes the server sets the access cookie with.
 */
function explainOrder(cookieHeader: string | undefined, claims: AccessClaims): OrderExplanation {
  const token = readSessionCookie(cookieHeader, ACCESS_COOKIE) ?? '';
  return {
    cookieNames: Object.keys(parseCookies(cookieHeader)),
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
function startedOnAnotherSite(req: RequestContext['req']): boolean {
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
