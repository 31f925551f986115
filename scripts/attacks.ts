/**
 * `npm run attacks`: the attacks a cookie-and-JWT login must withstand, each run for real against a
 * local server. One line per attack: whether it was blocked, the status the server answered, and the
 * defence that stopped it. Exits 1 if any attack gets through (so it doubles as a test).
 *
 *   npm run attacks                                 server in this process, clock moved by hand
 *   npm run attacks -- --url https://localhost:8443 [--cacert certs/localhost-cert.pem]
 *                                                   a running server; set JWT_SECRET to forge with its key
 */
import { randomBytes, randomInt } from 'node:crypto';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { Browser } from './browser.ts';
import { bold, dim, green, red, yellow } from './colour.ts';
import { base64url, decodeJwt, forge, hmac, unsigned } from './support/forge_jwt.ts';
import { TARGET_OPTIONS, openTarget, startLocal, type Target } from './target.ts';
import { exchange, header, openTls, rawRequest, sendFlatOut, setCookies, type Exchange, type HeaderList } from './support/wire.ts';
import { DEFAULT_LIFETIMES } from '../lib/sessions/rules.ts';

const { values: args } = parseArgs({ options: { ...TARGET_OPTIONS, help: { type: 'boolean', default: false } } });
if (args.help) {
  console.log('Usage: npm run attacks [-- --url https://localhost:8443 --cacert certs/localhost-cert.pem]');
  process.exit(0);
}
process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));

const PASSWORD = 'correct horse battery staple';
const EVIL = 'https://evil.example';

/** What the attacks share: the server, and two accounts with a session each. */
interface Lab {
  readonly target: Target;
  /** Signed in; the one whose session the attacks try to steal or abuse. */
  readonly victim: Browser;
  readonly victimName: string;
  /** The attacker's own, perfectly ordinary account. */
  readonly mallory: Browser;
  readonly malloryName: string;
  /** A server that limits attempts: the target itself with --url, a second one in-process. */
  rateLimited(): Promise<Target>;
}

interface Outcome {
  /** What the server answered, as shown: `403`, `404 ×5`, `429 after 6 tries`. */
  readonly status: string;
  readonly blocked: boolean;
}

interface Attack {
  readonly name: string;
  /** What stops it, and where. */
  readonly defence: string;
  run(lab: Lab): Promise<Outcome | { skipped: string }>;
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────

function uniqueName(role: string): string {
  return `${role}-${randomBytes(4).toString('hex')}`;
}

async function signUp(target: Target, username: string): Promise<Browser> {
  const browser = new Browser(target);
  const response = await browser.post('/signup', { username, password: PASSWORD });
  if (response.status !== 303) throw new Error(`Cannot sign up ${username}: ${response.statusLine}`);
  return browser;
}

async function logIn(target: Target, username: string, next?: string): Promise<Browser & { location?: string }> {
  const browser: Browser & { location?: string } = new Browser(target);
  const response = await browser.post('/login', { username, password: PASSWORD, ...(next !== undefined && { next }) });
  if (response.status !== 303) throw new Error(`Cannot log in ${username}: ${response.statusLine}`);
  browser.location = header(response, 'location');
  return browser;
}

/** Runs `attack` on a server of its own with these limits (in-process), or on the target given with --url. */
async function onOwnServer<T>(lab: Lab, options: { rateLimit: number }, attack: (target: Target) => Promise<T>): Promise<T> {
  const target = lab.target.advanceClock ? await startLocal(options) : lab.target;
  try {
    return await attack(target);
  } finally {
    if (target !== lab.target) await target.close();
  }
}

/** POST /login as a script would, with a device cookie if given. */
function loginAttempt(target: Target, username: string, password: string, deviceCookie?: string) {
  const cookie: HeaderList = deviceCookie === undefined ? [] : [['Cookie', `__Secure-device=${deviceCookie}`]];
  return exchange(target, 'POST', '/login', [['Content-Type', 'application/x-www-form-urlencoded'], ...cookie], new URLSearchParams({ username, password }).toString());
}

/** Statuses as shown: `409 ×6, 400 ×5`. */
function countStatuses(statuses: readonly number[]): string {
  return [...new Set(statuses)].map((status) => `${status} ×${statuses.filter((s) => s === status).length}`).join(', ');
}

function accessToken(browser: Browser): string {
  const token = browser.cookie('__Host-jwt');
  if (token === undefined) throw new Error('Cannot attack: the browser holds no access cookie');
  return token;
}

/** GET /order with this access token, as a script would (`Accept: application/json`: a 401, no redirect). */
async function orderWith(target: Target, token: string): Promise<number> {
  const response = await exchange(target, 'GET', '/order', [['Accept', 'application/json'], ['Cookie', `__Host-jwt=${token}`]]);
  return response.status;
}

/** The server's answer to a stolen or forged token: anything but 200 means it did not open /order. */
async function tokenOutcome(target: Target, token: string): Promise<Outcome> {
  const status = await orderWith(target, token);
  return { status: String(status), blocked: status !== 200 };
}

function decodePayload(token: string): Record<string, unknown> {
  return decodeJwt(token).payload;
}

/** A JWT signed with HMAC (`HS256` → sha256, `HS512` → sha512), the way a holder of the key could. */
function signJwt(alg: 'HS256' | 'HS512', payload: object, key: Uint8Array): string {
  return forge({ alg, typ: 'JWT' }, payload, hmac(alg === 'HS256' ? 'sha256' : 'sha512', key));
}

/** GET /session/refresh with exactly this refresh token, as a thief (or a second tab) sends it. */
function refreshWith(target: Target, token: string | undefined): Promise<Exchange> {
  return exchange(target, 'GET', '/session/refresh?next=/order', [['Cookie', `__Secure-refresh=${token ?? ''}`]]);
}

/** The refresh token an answer sets, if any. */
function tokenIn(answer: Exchange): string | undefined {
  return /^__Secure-refresh=([^;]+)/.exec(setCookies(answer).find((cookie) => cookie.startsWith('__Secure-refresh=')) ?? '')?.[1];
}

/** Waits, or moves the in-process clock instead. */
async function letTimePass(target: Target, ms: number): Promise<void> {
  if (target.advanceClock) target.advanceClock(ms);
  else await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true once the server closes `socket`, false if it still holds it after `ms`. */
function closedWithin(socket: TLSSocket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.on('error', () => {}); // the reset of a server hanging up
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// ── the attacks ──────────────────────────────────────────────────────────────────────────

const attacks: Attack[] = [
  {
    name: 'cross-site form POST',
    defence: "evil.example posts /session/logout with the victim's cookie: Sec-Fetch-Site: cross-site is refused before any work (lib/defences/cross_site.ts)",
    async run({ target, victim }) {
      const response = await exchange(target, 'POST', '/session/logout', [
        ['Origin', EVIL],
        ['Sec-Fetch-Site', 'cross-site'],
        ['Content-Type', 'application/x-www-form-urlencoded'],
        ['Cookie', `__Host-jwt=${accessToken(victim)}`],
      ]);
      const stillSignedIn = (await orderWith(target, accessToken(victim))) === 200;
      return { status: String(response.status), blocked: response.status === 403 && stillSignedIn };
    },
  },
  {
    name: 'cross-site POST, no Fetch Metadata',
    defence: 'an older browser sends only Origin, and it must equal https:// + Host (lib/defences/cross_site.ts)',
    async run({ target, victim }) {
      const response = await exchange(target, 'POST', '/session/logout', [
        ['Origin', EVIL],
        ['Content-Type', 'application/x-www-form-urlencoded'],
        ['Cookie', `__Host-jwt=${accessToken(victim)}`],
      ]);
      const stillSignedIn = (await orderWith(target, accessToken(victim))) === 200;
      return { status: String(response.status), blocked: response.status === 403 && stillSignedIn };
    },
  },
  {
    name: 'login CSRF',
    defence: "evil.example logs the victim in as mallory: the same check guards /login, and no Set-Cookie is sent",
    async run({ target, malloryName }) {
      const body = new URLSearchParams({ username: malloryName, password: PASSWORD }).toString();
      const response = await exchange(target, 'POST', '/login', [
        ['Origin', EVIL],
        ['Sec-Fetch-Site', 'cross-site'],
        ['Content-Type', 'application/x-www-form-urlencoded'],
      ], body);
      return { status: String(response.status), blocked: response.status === 403 && setCookies(response).length === 0 };
    },
  },
  {
    name: 'alg: none',
    defence: 'an unsigned token with the victim\'s claims: only HS256 is accepted, the token cannot pick its algorithm (lib/sessions/access_tokens.ts)',
    async run({ target, victim }) {
      const forged = forge({ alg: 'none', typ: 'JWT' }, decodePayload(accessToken(victim)), unsigned);
      return tokenOutcome(target, forged);
    },
  },
  {
    name: 'algorithm swap',
    defence: 'HS512, signed with the real key: only HS256 is allowed, and the key is bound to HMAC-SHA-256 (lib/sessions/access_tokens.ts)',
    async run({ target, victim }) {
      if (target.secret === undefined) return { skipped: 'needs the server key: set JWT_SECRET' };
      return tokenOutcome(target, signJwt('HS512', decodePayload(accessToken(victim)), target.secret));
    },
  },
  {
    name: 'tampered payload',
    defence: "mallory's token with the victim's sub: the signature covers the payload, it no longer verifies (lib/sessions/access_tokens.ts)",
    async run({ target, victim, mallory }) {
      const [head, , signature] = accessToken(mallory).split('.');
      const payload = { ...decodePayload(accessToken(mallory)), sub: decodePayload(accessToken(victim)).sub };
      return tokenOutcome(target, `${head}.${base64url(JSON.stringify(payload))}.${signature}`);
    },
  },
  {
    name: 'expired token',
    defence: 'a captured token after its exp: checked on every request, 5 s leeway; browsers drop it at Max-Age anyway',
    async run({ target, victim }) {
      if (target.advanceClock) {
        const token = accessToken(victim);
        target.advanceClock((target.accessSeconds + 60) * 1000);
        return tokenOutcome(target, token);
      }
      if (target.secret === undefined) return { skipped: "needs the server's clock or key: set JWT_SECRET" };
      const now = Math.floor(Date.now() / 1000);
      const claims = { ...decodePayload(accessToken(victim)), iat: now - 2 * target.accessSeconds, exp: now - target.accessSeconds };
      return tokenOutcome(target, signJwt('HS256', claims, target.secret));
    },
  },
  {
    name: 'replay after logout',
    defence: "a copy of the token, used after its owner logged out: its jti is on the deny list until exp (lib/storage/session_store.ts)",
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      const copied = accessToken(session);
      await session.post('/session/logout', {});
      return tokenOutcome(target, copied);
    },
  },
  {
    name: 'refresh-token reuse',
    defence: "a stolen refresh token, replaced since: 401, and the victim's new one dies with it (RFC 9700 §4.14.2, lib/sessions/rules.ts)",
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      const stolen = session.cookie('__Secure-refresh');
      await session.get('/session/refresh?next=/order'); // the victim refreshes: the stolen token is replaced
      await letTimePass(target, DEFAULT_LIFETIMES.retryMs + 1000); // past the retry window for racing tabs
      const thief = await refreshWith(target, stolen);
      const victimAfter = await session.get('/session/refresh?next=/order');
      return { status: `${thief.status}, ${victimAfter.status}`, blocked: thief.status === 401 && victimAfter.status === 401 };
    },
  },
  {
    name: "rotating the victim's copy out",
    defence: "the thief rotates a copied token 9 times: no memory of spent tokens to push the copy out of; the victim's next refresh ends the session (lib/sessions/rules.ts)",
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      let thief = session.cookie('__Secure-refresh');
      for (let i = 0; i < 9; i++) thief = tokenIn(await refreshWith(target, thief)) ?? thief;
      await letTimePass(target, DEFAULT_LIFETIMES.retryMs + 1000);
      const victim = await session.get('/session/refresh?next=/order');
      const thiefAfter = await refreshWith(target, thief);
      return { status: `${victim.status}, ${thiefAfter.status}`, blocked: victim.status === 401 && thiefAfter.status === 401 };
    },
  },
  {
    name: 'an already-rotated token',
    defence: "a token copied after its rotation, its successor not yet used: it yields nothing and ends the session, however recent (lib/sessions/rules.ts)",
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      const copied = session.cookie('__Secure-refresh');
      await session.get('/session/refresh?next=/order'); // the victim's browser holds the successor, unused
      await letTimePass(target, DEFAULT_LIFETIMES.retryMs + 1000);
      const thief = await refreshWith(target, copied);
      return { status: String(thief.status), blocked: thief.status === 401 && tokenIn(thief) === undefined };
    },
  },
  {
    name: 'taking turns',
    defence: "victim and thief refresh in turn, 11 s apart: the thief's first turn presents a replaced token and ends the session (lib/sessions/rules.ts)",
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      let thief = session.cookie('__Secure-refresh');
      const statuses: number[] = [];
      for (let turn = 0; turn < 3; turn++) {
        statuses.push((await session.get('/session/refresh?next=/order')).status);
        await letTimePass(target, DEFAULT_LIFETIMES.retryMs + 1000);
        const answer = await refreshWith(target, thief);
        statuses.push(answer.status);
        thief = tokenIn(answer) ?? thief;
        if (answer.status === 401) break;
      }
      return { status: statuses.join(', '), blocked: statuses.at(-1) === 401 && statuses.length === 2 };
    },
  },
  {
    name: 'telling a repeat from a rotation',
    defence: 'the same token again within the retry window, beside a rotation at the same moment: the same status, headers, cookie attributes, Max-Age and body (lib/sessions/rules.ts)',
    async run({ target, victimName, malloryName }) {
      const victim = await logIn(target, victimName);
      const other = await logIn(target, malloryName);
      const copied = victim.cookie('__Secure-refresh');
      await refreshWith(target, copied); // the victim's refresh: the copy is replaced now
      await letTimePass(target, 3_000);
      const [repeat, rotation] = [await refreshWith(target, copied), await refreshWith(target, other.cookie('__Secure-refresh'))];
      const shape = (answer: Exchange) =>
        JSON.stringify([answer.statusLine, answer.responseHeaders.filter(([name]) => name !== 'Date').map(([name, value]) => [name, name === 'Set-Cookie' ? value.replace(/=[^;]*/, '') : value]), answer.body]);
      return { status: `${repeat.status}, ${rotation.status}`, blocked: repeat.status === 303 && shape(repeat) === shape(rotation) };
    },
  },
  {
    name: 'sign-out after the access cookie expired',
    defence: 'the browser dropped __Host-jwt, then Sign out: the refresh cookie (Path=/session) reaches /session/logout and the session ends (lib/sessions/sessions.ts)',
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      const refresh = session.cookie('__Secure-refresh');
      session.drop('__Host-jwt'); // its Max-Age ran out
      const logout = await session.post('/session/logout', {});
      const after = await refreshWith(target, refresh);
      return { status: `${logout.status}, ${after.status}`, blocked: logout.status === 303 && after.status === 401 };
    },
  },
  {
    name: "a stranger ends a session by its id",
    defence: "the session id is on /order: a made-up token for it, at refresh and at sign-out, ends nothing without the server's HMAC (lib/sessions/refresh_tokens.ts)",
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      const sessionId = decodePayload(accessToken(session)).sid as string;
      const statuses: number[] = [];
      for (const generation of [0, 1]) {
        const forged = `${sessionId}.${generation}.${base64url(randomBytes(32))}`;
        statuses.push((await refreshWith(target, forged)).status);
        statuses.push((await exchange(target, 'POST', '/session/logout', [['Cookie', `__Secure-refresh=${forged}`]])).status);
      }
      const victim = await session.get('/session/refresh?next=/order');
      return { status: `${[...new Set(statuses)].join(', ')}, ${victim.status}`, blocked: victim.status === 303 };
    },
  },
  {
    name: 'open redirect via next',
    defence: 'next=//evil.example, https://..., /\\evil.example, CR LF: only same-origin paths pass (lib/defences/next_path.ts)',
    async run({ target, malloryName }) {
      const locations: string[] = [];
      for (const next of ['//evil.example', `${EVIL}/`, '/\\evil.example', '/\r\nLocation: https://evil.example']) {
        locations.push((await logIn(target, malloryName, next)).location ?? '');
      }
      return { status: `303 ${[...new Set(locations)].join(', ')}`, blocked: locations.every((location) => location === '/order') };
    },
  },
  {
    name: 'path traversal',
    defence: '/../, %2e%2e, ..%2f over a raw socket: public/ is a map read at start, no path reaches the disk (lib/http/static_files.ts)',
    async run({ target }) {
      const paths = ['/../package.json', '/%2e%2e/package.json', '/..%2fdata%2fusers.json', '/style.css/../../server.ts', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/..\\lib\\config.ts'];
      const statuses: number[] = [];
      for (const path of paths) {
        const { status } = await rawRequest(target, `GET ${path} HTTP/1.1\r\nHost: ${new URL(target.origin).host}\r\nConnection: close\r\n\r\n`);
        statuses.push(status);
      }
      return { status: countStatuses(statuses), blocked: statuses.every((status) => status !== 200) };
    },
  },
  {
    name: 'oversized body',
    defence: 'Content-Length: 10 MiB: over 16 KiB is refused from the header, before a byte is read (lib/http/body.ts)',
    async run({ target }) {
      const head = [
        'POST /signup HTTP/1.1',
        `Host: ${new URL(target.origin).host}`,
        'Content-Type: application/x-www-form-urlencoded',
        `Content-Length: ${10 * 1024 * 1024}`,
        'Connection: close',
      ].join('\r\n');
      const { status } = await rawRequest(target, `${head}\r\n\r\nusername=${'a'.repeat(1000)}`);
      return { status: String(status), blocked: status === 413 };
    },
  },
  {
    name: 'header overflow',
    defence: "2,000 filler headers push Origin past the runtime's cap: a request that reaches 100 lines gets 431 (lib/defences/header_limit.ts)",
    async run({ target, victimName }) {
      const victim = await logIn(target, victimName); // a fresh session: earlier attacks moved the clock
      const head = [
        'POST /session/logout HTTP/1.1',
        `Host: ${new URL(target.origin).host}`,
        `Cookie: __Host-jwt=${accessToken(victim)}`,
        ...Array<string>(2000).fill('X: 1'),
        `Origin: ${EVIL}`,
        'Sec-Fetch-Site: cross-site',
        'Content-Length: 0',
        'Connection: close',
      ].join('\r\n');
      const { status } = await rawRequest(target, `${head}\r\n\r\n`);
      const stillSignedIn = (await orderWith(target, accessToken(victim))) === 200;
      return { status: String(status), blocked: status === 431 && stillSignedIn };
    },
  },
  {
    name: 'unread 1 GB body',
    defence: 'POST /session/logout declaring 1 GB, sent flat out: the route reads no body, so the server answers and hangs up (lib/http/listener.ts)',
    async run({ target }) {
      const socket = await openTls(target);
      const hungUp = closedWithin(socket, 10_000);
      socket.write(`POST /session/logout HTTP/1.1\r\nHost: ${new URL(target.origin).host}\r\nContent-Length: 1000000000\r\n\r\n`);
      const sent = sendFlatOut(socket, 1e9);
      const closed = await hungUp;
      socket.destroy();
      return { status: closed ? `cut at ${Math.round(sent() / 1e6)} MB` : 'held', blocked: closed && sent() < 100e6 };
    },
  },
  {
    name: 'chunk extension',
    defence: "a chunked sign-up whose chunk carries 20 KB of extension: Node's parser refuses it (413), and a chunked body that gets past a parser (Deno's) gets 411 before a byte is read (lib/http/body.ts)",
    async run({ target }) {
      const body = JSON.stringify({ username: uniqueName('chunky'), password: PASSWORD });
      const head = ['POST /signup HTTP/1.1', `Host: ${new URL(target.origin).host}`, 'Content-Type: application/json', 'Transfer-Encoding: chunked', 'Connection: close'].join('\r\n');
      const { status } = await rawRequest(target, `${head}\r\n\r\n${body.length.toString(16)};${'x'.repeat(20_000)}\r\n${body}\r\n0\r\n\r\n`);
      return { status: String(status), blocked: status === 411 || status === 413 };
    },
  },
  {
    name: 'pipelined flood',
    defence: '3,000 pipelined GET / on one connection, answers never read: past 32 answers unread the server closes it (lib/defences/connection_limits.ts)',
    async run({ target }) {
      const socket = await openTls(target); // no 'data' listener: the answers are never read
      const hungUp = closedWithin(socket, 20_000);
      const request = `GET / HTTP/1.1\r\nHost: ${new URL(target.origin).host}\r\n\r\n`;
      socket.write(request.repeat(3_000));
      const more = setInterval(() => socket.writable && socket.write(request), 200); // a write shows the hang-up
      const closed = await hungUp;
      clearInterval(more);
      socket.destroy();
      return { status: closed ? 'closed' : 'held', blocked: closed };
    },
  },
  {
    name: 'CBC cipher on TLS 1.2',
    defence: 'a TLS 1.2 client offering only ECDHE-ECDSA-AES128-SHA (LUCKY13): only ECDHE AEAD suites are offered (lib/start_server.ts)',
    async run({ target }) {
      const refused = await openTls(target, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA' }).then(
        (socket) => (socket.destroy(), false),
        () => true,
      );
      return { status: refused ? 'refused' : 'agreed', blocked: refused };
    },
  },
  {
    name: 'brute-force login',
    defence: 'password guesses: attempts per address per minute, a growing wait per account (lib/defences/rate_limit.ts, login_backoff.ts)',
    async run(lab) {
      const target = await lab.rateLimited();
      const name = uniqueName('target');
      await signUp(target, name);
      for (let tries = 1; tries <= 30; tries++) {
        const guess: HeaderList = [['Content-Type', 'application/x-www-form-urlencoded']];
        const response = await exchange(target, 'POST', '/login', guess, new URLSearchParams({ username: name, password: `guess-${tries}` }).toString());
        if (response.status === 429) return { status: `429 (try ${tries})`, blocked: true };
        if (response.status === 303) return { status: '303', blocked: false };
      }
      return { status: '401 ×30', blocked: false };
    },
  },
  {
    name: 'forced logout by a popup',
    defence: "evil.example opens /session/refresh in a popup and closes it: a navigation from another site rotates nothing, cookie or not (SameSite=Strict; lib/routes.ts), so the victim's own refresh still works",
    async run({ target, victimName }) {
      const session = await logIn(target, victimName);
      const { hostname, port } = new URL(target.origin);
      // The popup: a navigation started on another site, even with the cookie an old browser might
      // send along, and the window closed at once.
      const popup = (headers: string) => {
        const socket = tlsConnect({ host: hostname, port: Number(port), ca: target.ca, servername: hostname });
        socket.on('error', () => {});
        return new Promise<void>((resolve) => socket.once('secureConnect', resolve)).then(async () => {
          const request = `GET /session/refresh?next=/order HTTP/1.1\r\nHost: ${new URL(target.origin).host}\r\n${headers}\r\n`;
          await new Promise<void>((resolve) => socket.write(request, () => resolve()));
          socket.destroy();
        });
      };
      await popup('Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\n');
      await popup(`Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: navigate\r\nCookie: ${session.cookieHeader('/session/refresh')}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 300)); // nobody reads the answers
      const step = await session.get('/session/refresh?next=/order', [['Sec-Fetch-Site', 'cross-site']]);

      await letTimePass(target, DEFAULT_LIFETIMES.retryMs + 1000); // the victim's own refresh comes later
      const refresh = await session.get('/session/refresh?next=/order');
      const order = await session.get('/order');
      return {
        status: `${step.status}, ${refresh.status}, ${order.status}`,
        blocked: step.status === 200 && setCookies(step).length === 0 && refresh.status === 303 && order.status === 200,
      };
    },
  },
  {
    name: 'open redirect via dot segments',
    defence: 'next=/.//evil.example, /a/..//evil.example, /%2e/%2fevil.example: dot segments resolved, encoded dots and slashes refused, then checked again (lib/defences/next_path.ts)',
    async run({ target, malloryName }) {
      const locations: string[] = [];
      for (const next of ['/.//evil.example', '/./\\evil.example', '/%2e/%2fevil.example', '/a/..//evil.example']) {
        locations.push((await logIn(target, malloryName, next)).location ?? '');
      }
      // What a browser, or any later hop that normalises the path, makes of each Location.
      const offSite = locations.filter((location) => {
        const url = new URL(location, target.origin);
        return url.origin !== target.origin || url.pathname.startsWith('//');
      });
      return { status: `303 ${[...new Set(locations)].join(', ')}`, blocked: offSite.length === 0 };
    },
  },
  {
    name: 'look-alike username',
    defence: 'straße, İstanbul, ıstanbul, Cyrillic асе, Greek ΚΙΜ, Cherokee ᏟᎪᎢ beside strasse, istanbul, ace, kim, cat: 409 (UTS #39 skeletons); a Cyrillic а in аlice, a stray combining accent, an invisible joiner, "ʼ", the Arabic tatweel: 400 (lib/accounts/credentials.ts)',
    async run({ target }) {
      const tag = String(randomInt(100_000, 1_000_000)); // digits go with any script
      const signUpAs = (username: string) =>
        exchange(target, 'POST', '/signup', [['Origin', target.origin], ['Sec-Fetch-Site', 'same-origin'], ['Content-Type', 'application/x-www-form-urlencoded']], new URLSearchParams({ username, password: PASSWORD }).toString());
      for (const taken of ['strasse', 'istanbul', 'alice', 'bob', 'ace', 'kim', 'cat', '\u0639\u0644\u064a']) await signUp(target, `${taken}-${tag}`);
      const statuses: number[] = [];
      const lookAlikes = ['straße', 'İstanbul', 'ıstanbul', '\u0430\u0441\u0435', '\u039a\u0399\u039c', '\u13df\u13aa\u13a2', '\u0430lice', 'b\u0300ob', 'bo\u034fb', 'b\u02bcob', '\u0639\u0644\u0640\u064a'];
      for (const lookAlike of lookAlikes) statuses.push((await signUpAs(`${lookAlike}-${tag}`)).status);
      return { status: countStatuses(statuses), blocked: statuses.every((status) => status === 409 || status === 400) };
    },
  },
  {
    name: 'respelled token',
    defence: "the victim's token with \"=\" added, or the signature's last character swapped for its twin: canonical base64url only (lib/sessions/access_tokens.ts)",
    async run({ target, victimName }) {
      const token = accessToken(await logIn(target, victimName)); // a live token: earlier attacks moved the clock
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const twin = token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1]; // differs only in unused bits
      const statuses = [await orderWith(target, `${token}=`), await orderWith(target, twin)];
      return { status: statuses.join(', '), blocked: statuses.every((status) => status !== 200) };
    },
  },
  {
    name: 'parallel guesses',
    defence: '18 wrong passwords sent at once, then the right one: each attempt is counted before argon2 runs, so 6 are checked (lib/defences/login_backoff.ts)',
    run(lab) {
      // Its own server, allowing 20 attempts an address: only the per-account count can stop the burst.
      return onOwnServer(lab, { rateLimit: 20 }, async (target) => {
        const name = uniqueName('target');
        await signUp(target, name);
        const guess = (password: string) => loginAttempt(target, name, password);
        const burst = Array.from({ length: 18 }, (_, i) => guess(`guess-${i}`));
        await Promise.race(burst); // the first answer is back: the whole burst has arrived and is being checked
        const right = await guess(PASSWORD);
        const checked = (await Promise.all(burst)).filter((response) => response.status === 401).length;
        return { status: `${right.status}, ${checked}/18`, blocked: checked <= 6 && right.status !== 303 };
      });
    },
  },
  {
    name: 'lock the owner out',
    defence: "guesses lock the account, yet the owner's browser signs in: its __Secure-device cookie (OWASP device cookies) gets its own count; another account's does not help",
    run(lab) {
      return onOwnServer(lab, { rateLimit: 30 }, async (target) => {
        const name = uniqueName('owner');
        const owner = await signUp(target, name); // the owner's browser now holds a device cookie
        const attacker = await signUp(target, uniqueName('mallory'));
        await Promise.all(Array.from({ length: 10 }, (_, i) => loginAttempt(target, name, `guess-${i}`)));
        const stranger = await loginAttempt(target, name, PASSWORD, attacker.cookie('__Secure-device') ?? '');
        const ownerLogin = await owner.post('/login', { username: name, password: PASSWORD });
        return { status: `${stranger.status}, ${ownerLogin.status}`, blocked: stranger.status === 429 && ownerLogin.status === 303 };
      });
    },
  },
  {
    name: 'lockout flush',
    defence: "a waiting account, then 150 logins for made-up names (more than the server remembers), then 6 guesses: names with no account are counted apart, so the account's wait stays (lib/defences/login_backoff.ts)",
    async run(lab) {
      if (!lab.target.advanceClock) return { skipped: "needs a server in this process: its cap on made-up names is small enough to fill (10,000 on a real one)" };
      const target = await startLocal({ rateLimit: 100_000, unknownNamesRemembered: 100 });
      try {
        const name = uniqueName('victim');
        await signUp(target, name);
        for (let failures = 0; failures < 12; failures++) {
          target.advanceClock!(15 * 60_000); // each wait sat out: a count of 12, a wait of 64 s
          await loginAttempt(target, name, `guess-${failures}`);
        }
        for (let i = 0; i < 150; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => loginAttempt(target, uniqueName(`made-up-${i + j}`), 'x')));
        const guesses = await Promise.all(['a', 'b', 'c', 'd', 'e', PASSWORD].map((password) => loginAttempt(target, name, password)));
        const checked = guesses.filter((response) => response.status !== 429).length;
        return { status: `429 ×${guesses.length - checked}`, blocked: checked === 0 };
      } finally {
        await target.close();
      }
    },
  },
  {
    name: 'spare device cookies',
    defence: 'seven sign-ins collect seven device cookies, then the account is locked: a browser keeps its one device id, the account trusts its 5 newest, the older two wait like strangers (lib/defences/device_tokens.ts)',
    run(lab) {
      return onOwnServer(lab, { rateLimit: 60 }, async (target) => {
        const name = uniqueName('collector');
        const cookies = [(await signUp(target, name)).cookie('__Secure-device') ?? ''];
        for (let i = 0; i < 6; i++) cookies.push((await logIn(target, name)).cookie('__Secure-device') ?? '');
        await Promise.all(Array.from({ length: 10 }, (_, i) => loginAttempt(target, name, `guess-${i}`)));
        const statuses: number[] = [];
        for (const cookie of cookies) statuses.push((await loginAttempt(target, name, PASSWORD, cookie)).status);
        return { status: countStatuses(statuses), blocked: statuses.slice(0, 2).every((status) => status === 429) && statuses.slice(2).every((status) => status === 303) };
      });
    },
  },
  {
    name: 'session pile-up',
    defence: 'eleven logins to one account: at most 10 live sessions per user, the oldest ends (lib/storage/session_store.ts)',
    async run({ target }) {
      const name = uniqueName('hoarder');
      const first = await signUp(target, name);
      let newest = first;
      for (let i = 0; i < 10; i++) newest = await logIn(target, name);
      const oldest = await first.get('/session/refresh?next=/order');
      const latest = await newest.get('/session/refresh?next=/order');
      return { status: `${oldest.status}, ${latest.status}`, blocked: oldest.status === 401 && latest.status === 303 };
    },
  },
  {
    name: 'refresh flood',
    defence: 'one session refreshed in a loop: 10 at once, then 1/s per session, 60 then 1/s per address; 429 with Retry-After (lib/routes.ts)',
    async run(lab) {
      const target = await lab.rateLimited();
      const session = await signUp(target, uniqueName('flooder'));
      for (let tries = 1; tries <= 30; tries++) {
        const response = await session.post('/session/refresh', {});
        if (response.status === 429) return { status: `429 (try ${tries})`, blocked: header(response, 'retry-after') !== undefined };
        if (response.status !== 204) return { status: String(response.status), blocked: false };
      }
      return { status: '204 ×30', blocked: false };
    },
  },
];

// ── the lab ──────────────────────────────────────────────────────────────────────────────

const NAME_WIDTH = Math.max(...attacks.map((attack) => attack.name.length));

async function runLab(target: Target): Promise<number> {
  const extra: Target[] = [];
  const victimName = uniqueName('victim');
  const malloryName = uniqueName('mallory');
  const lab: Lab = {
    target,
    victimName,
    victim: await signUp(target, victimName),
    malloryName,
    mallory: await signUp(target, malloryName),
    async rateLimited() {
      if (!target.advanceClock) return target;
      const limited = await startLocal({ rateLimit: 5 });
      extra.push(limited);
      return limited;
    },
  };

  let failures = 0;
  try {
    for (const attack of attacks) {
      let verdict: string;
      let status: string;
      let defence = attack.defence;
      try {
        const outcome = await attack.run(lab);
        if ('skipped' in outcome) {
          [verdict, status, defence] = [yellow('skipped'), '-', outcome.skipped];
        } else {
          [verdict, status] = [outcome.blocked ? green('blocked') : red('GOT IN '), outcome.status];
          if (!outcome.blocked) failures++;
        }
      } catch (error) {
        [verdict, status, defence] = [red('ERROR  '), '-', (error as Error).message];
        failures++;
      }
      console.log(`${verdict}  ${status.padEnd(11)} ${bold(attack.name.padEnd(NAME_WIDTH))}  ${dim(defence)}`);
    }
  } finally {
    await Promise.all(extra.map((server) => server.close()));
  }
  return failures;
}

const target = await openTarget(args);
console.log(`Attack lab against ${target.origin}${target.advanceClock ? ' (a server in this process, its clock moved by hand)' : ''}\n`);
try {
  const failures = await runLab(target);
  console.log(failures === 0 ? `\n${green('Every attack was blocked.')}` : `\n${red(`${failures} attack(s) got through or failed to run.`)}`);
  process.exitCode = failures === 0 ? 0 : 1;
} catch (error) {
  console.error(red(`Attack lab stopped: ${(error as Error).message}`));
  process.exitCode = 1;
} finally {
  await target.close();
}
