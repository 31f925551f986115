/**
 * `npm run trace`: one browser session, shown as it crosses the wire, each notable line with the rule
 * behind it. Sign up → 303 → /order → (the token expires) → /order 303 → /session/refresh 303 → /order
 * → log out → /login.
 *
 *   npm run trace                                 server in this process, clock moved by hand
 *   npm run trace -- --full                       print tokens whole
 *   npm run trace -- --url https://localhost:8443 [--cacert certs/localhost-cert.pem]
 *
 * With --url the trace signs up a new user, `trace-` and six hex digits, on the running server, and
 * that user stays: the server has no route to delete a user. The trace says so at its end.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseSetCookie } from '../lib/http/cookies.ts';
import { Browser } from './browser.ts';
import { bold, cyan, dim, green, magenta, red, yellow } from './colour.ts';
import { TARGET_OPTIONS, openTarget, type Target } from './target.ts';
import { header, type Exchange } from './support/wire.ts';

const { values: args } = parseArgs({ options: { ...TARGET_OPTIONS, full: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
if (args.help) {
  console.log('Usage: npm run trace [-- --full] [-- --url https://localhost:8443 --cacert certs/localhost-cert.pem]');
  process.exit(0);
}

// `npm run trace | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));

/** Token values are long and secret: shown as their ends unless --full. */
function shorten(value: string): string {
  return args.full || value.length <= 20 ? value : `${value.slice(0, 12)}…${value.slice(-6)}`;
}

/** A Cookie or Set-Cookie header value with each cookie value shortened. */
function showCookies(name: string, value: string): string {
  if (name === 'cookie') return value.replace(/([^=;\s]+)=([^;]*)/g, (_, key: string, v: string) => `${key}=${shorten(v)}`);
  if (name === 'set-cookie') return value.replace(/^([^=]+)=([^;]*)/, (_, key: string, v: string) => `${key}=${shorten(v)}`);
  return value;
}

/**
 * A step's own notes, one line each, keyed by where they go: `request` (under the request line), a
 * request header (`cookie`), `status` (under the status line) or a response header (`< location`).
 */
type Notes = Partial<Record<string, string[]>>;

/** Notes that belong to a line wherever it appears, given the first time only. */
const shown = new Set<string>();
function once(key: string, notes: string[]): string[] {
  if (shown.has(key)) return [];
  shown.add(key);
  return notes;
}

function jwtParts(token: string): string {
  const [head = '', body = ''] = token.split('.');
  const decode = (part: string) => Buffer.from(part, 'base64url').toString('utf8');
  return `the value is a JWT (RFC 7519), three base64url parts: header ${decode(head)}, claims ${decode(body)}, then the HS256 signature`;
}

/** What each attribute of the two session cookies does (RFC 6265bis, draft-ietf-httpbis-rfc6265bis). */
function setCookieNotes(value: string): string[] {
  const cookie = parseSetCookie(value);
  if (cookie === undefined) return [];
  const maxAge = Number(cookie.attributes.get('max-age'));
  if (maxAge === 0) {
    return once(`clear ${cookie.name}`, [
      `Max-Age=0: the browser deletes ${cookie.name} now. Same name, Path and attributes as when it was set: a cookie is only replaced by one with the same name and Path`,
    ]);
  }
  if (cookie.name === '__Host-jwt') {
    return once('access cookie', [
      '__Host-: the browser accepts this name only with Secure, Path=/ and no Domain, so the cookie is pinned to this host and no subdomain can set or overwrite it (RFC 6265bis §4.1.3.2)',
      'Path=/: the browser sends it with every request to this host, /order included (RFC 6265bis §4.1.2.4)',
      `Max-Age=${maxAge}: the browser deletes it ${maxAge} s from now, just when the JWT inside expires (its exp - iat) (RFC 6265bis §4.1.2.2)`,
      'HttpOnly: page script cannot read it (it is not in document.cookie), so an XSS cannot steal the token (RFC 6265bis §4.1.2.6)',
      'Secure: the browser sends it over HTTPS only, never in clear text (RFC 6265bis §4.1.2.5)',
      'SameSite=Lax: sent on top-level navigations, like the GET that follows this 303, but not on a POST, fetch or frame from another site (RFC 6265bis §4.1.2.7)',
      jwtParts(cookie.value),
    ]);
  }
  if (cookie.name === '__Secure-refresh') {
    return once('refresh cookie', [
      '__Secure-: accepted only with Secure (RFC 6265bis §4.1.3.1); not __Host-, which would demand Path=/',
      'Path=/session: the browser sends it to the session\'s own requests, refresh and sign-out, and nowhere else (path-match, RFC 6265bis §5.1.4), so the long-lived token does not ride along on every request',
      'SameSite=Strict: no request another site starts carries it, not even a link or a popup, so no page elsewhere can rotate or end the session (RFC 6265bis §4.1.2.7)',
      `Max-Age=${maxAge}: ${Math.round(maxAge / 86400)} days, and each refresh swaps it for the next; the value is the session id, the generation and an HMAC: the server stores only the session's current generation`,
    ]);
  }
  if (cookie.name === '__Secure-device') {
    return once('device cookie', [
      'The device cookie: an HMAC binding a random device id to this account. At /login it lets this browser keep its own allowance of attempts while strangers guessing at the account wait (OWASP, "Slow down online guessing attacks with device cookies")',
      `Path=/login: only the login form sees it. Max-Age=${maxAge}: ${Math.round(maxAge / 86400)} days, renewed at each sign-in. SameSite=Strict: our own form posts same-site`,
    ]);
  }
  return [];
}

function genericNotes(name: string, value: string): string[] {
  switch (name) {
    case 'set-cookie':
      return setCookieNotes(value);
    case 'sec-fetch-site':
      return once(name, [
        'The browser says where a POST comes from, in a header no page can set: same-origin passes, a cross-site POST gets 403 before any work is done (Fetch Metadata, OWASP CSRF Prevention Cheat Sheet)',
      ]);
    case 'cache-control':
      return value === 'no-store' ? once(name, ['This response sets or depends on a session cookie: no cache may store it (RFC 9111 §5.2.2.5)']) : [];
    case 'content-security-policy':
      return once(name, ["Only this site's own files may run or style the page: an injected <script> is refused (XSS)"]);
    default:
      return [];
  }
}

function printNotes(notes: string[] | undefined): void {
  for (const note of notes ?? []) console.log(`    ${yellow('↳')} ${dim(note)}`);
}

function statusColour(status: number): (text: string) => string {
  return status < 300 ? green : status < 400 ? yellow : red;
}

/** Prints one exchange: the request head (and form body), then the response head, as sent and received. */
function print(exchange: Exchange, notes: Notes): void {
  console.log(bold(cyan(`> ${exchange.method} ${exchange.path} HTTP/1.1`)));
  printNotes(notes.request);
  for (const [name, value] of exchange.requestHeaders) {
    console.log(`> ${cyan(name)}: ${showCookies(name.toLowerCase(), value)}`);
    printNotes([...(notes[name.toLowerCase()] ?? []), ...genericNotes(name.toLowerCase(), value)]);
  }
  if (exchange.requestBody !== '') console.log(`>\n> ${exchange.requestBody}`);
  console.log('');
  console.log(bold(statusColour(exchange.status)(`< ${exchange.statusLine}`)));
  printNotes(notes.status);
  for (const [name, value] of exchange.responseHeaders) {
    console.log(`< ${cyan(name)}: ${showCookies(name.toLowerCase(), value)}`);
    printNotes([...(notes[`< ${name.toLowerCase()}`] ?? []), ...genericNotes(name.toLowerCase(), value)]);
  }
  const headline = /<h1>(.*?)<\/h1>/s.exec(exchange.body)?.[1]?.replace(/<[^>]+>/g, '');
  if (exchange.body !== '') console.log(dim(`  (body: ${Buffer.byteLength(exchange.body)} bytes${headline ? `, headline "${headline}"` : ''})`));
  console.log('');
}

function section(title: string, ...lines: string[]): void {
  console.log(magenta(`── ${title} ${'─'.repeat(Math.max(3, 72 - title.length))}`));
  for (const line of lines) console.log(line);
  console.log('');
}

/** Sends a request, prints it, and stops the trace if the server did not answer as docs/http.md says. */
async function step(send: () => Promise<Exchange>, expected: { status: number; location?: string }, notes: Notes = {}): Promise<Exchange> {
  const exchange = await send();
  print(exchange, notes);
  const location = header(exchange, 'location');
  if (exchange.status !== expected.status || (expected.location !== undefined && location !== expected.location)) {
    throw new Error(`Expected ${expected.status}${expected.location ? ` to ${expected.location}` : ''}, got ${exchange.statusLine}${location ? ` to ${location}` : ''}`);
  }
  return exchange;
}

const SEE_OTHER =
  '303 See Other: the browser follows with a GET, whatever the method was, so the form and its password are not sent again. 302 leaves the method to the browser; 307 would POST the form again (RFC 9110 §15.4.4)';

/** The user this trace signed up on a running server (--url), which outlives the trace. */
let leftOnServer: string | undefined;

async function trace(target: Target): Promise<void> {
  const browser = new Browser(target);
  const username = target.advanceClock ? 'alice' : `trace-${randomBytes(3).toString('hex')}`;

  section(
    '1. Sign up',
    `The browser submits the sign-up form on ${target.origin}/. The server stores the user, then answers`,
    'with a redirect that carries the session cookies.',
  );
  await step(() => browser.post('/signup', { username, password: 'correct horse battery staple' }), { status: 303, location: '/order' }, {
    request: ['A form POST, inside TLS: the password crosses the wire once'],
    status: [SEE_OTHER],
    '< location': ['Where to GET next: the page the user wanted, not the form they posted'],
  });
  if (!target.advanceClock) leftOnServer = username;

  section('2. Follow the redirect', 'The browser stored both cookies from the 303 before following it, then GETs /order.');
  await step(() => browser.get('/order'), { status: 200 }, {
    cookie: [
      'The cookie set on the 303 comes back on the GET that follows it: the browser stores Set-Cookie from any response, redirects included, and this is a same-origin, top-level GET, which SameSite=Lax allows; Path=/ covers /order and the connection is HTTPS (Secure)',
      '__Secure-refresh is not here: its Path=/session does not cover /order',
    ],
    status: ["The server verified the JWT (HS256 signature, iss, aud, exp), checked its jti against the logout deny list, and named the user in its sub claim"],
  });

  if (target.advanceClock) {
    target.advanceClock((target.accessSeconds + 1) * 1000);
    section(
      `3. ${target.accessSeconds + 1} seconds later`,
      `The server's clock is injected, so the trace moves it forward instead of waiting. The token's exp has passed,`,
      'and the browser has deleted __Host-jwt: its Max-Age ran out at the same moment.',
    );
  } else {
    browser.drop('__Host-jwt');
    section(
      '3. Later: the access token expires',
      '--url: a running server\'s clock cannot be moved from here, so the trace deletes __Host-jwt itself,',
      'as the browser does when its Max-Age runs out.',
    );
  }
  await step(() => browser.get('/order'), { status: 303, location: '/session/refresh?next=/order' }, {
    request: ['No Cookie header at all: the access cookie is gone, and the refresh cookie is not sent to /order'],
    status: ['No valid access cookie: a browser cannot handle a 401 itself, so it is sent round through /session/refresh (a missing cookie usually means an expired one)'],
    '< location': ['Under the path the refresh cookie is sent to; next= says where to come back (same-origin paths only)'],
    // Node writes Date itself, from the machine's clock (RFC 9110 §6.6.1 asks for the origin's own
    // clock); the injected clock only moves what the server decides with it.
    '< date': target.advanceClock
      ? [`Still the machine's time: the runtime writes Date from the system clock, and the injected clock reaches only what the server decides with it (token times and expiry), now ${target.accessSeconds + 1} s ahead of this Date`]
      : [],
  });

  section('4. Refresh', 'The browser follows to /session/refresh, and this time the refresh cookie goes along.');
  await step(() => browser.get('/session/refresh?next=/order'), { status: 303, location: '/order' }, {
    cookie: ['Only __Secure-refresh: /session/refresh path-matches its Path=/session. Refresh and sign-out are the only requests that ever carry it'],
    status: [
      'The refresh token was the current one: the server rotated it, and the next generation replaces it. Presenting the replaced one again (after a 10 s retry window for racing tabs) ends the whole session, however long ago it was replaced: reuse detection (RFC 9700 §4.14.2)',
    ],
    '< location': ['Back to where the user was going, with a fresh access cookie'],
  });

  section('5. Back to /order', 'Signed in again, and the user never saw a login form.');
  await step(() => browser.get('/order'), { status: 200 }, {
    cookie: ['The new access token, from the 303 the browser just followed'],
  });

  section('6. Log out', 'The user presses "Sign out": a form POST to /session/logout.');
  await step(() => browser.post('/session/logout', {}), { status: 303, location: '/login' }, {
    cookie: [
      'Both session cookies: the refresh cookie\'s Path=/session covers sign-out, so the session ends on the server even once the browser has dropped an expired access cookie',
    ],
    status: [
      '303 again: a POST answered with a redirect, so reloading the next page does not repeat the logout. The server ended the session and put this access token\'s jti on a deny list until its exp: a copy of either token opens nothing now',
    ],
  });

  section('7. The login page', 'Both session cookies are gone; only the device cookie, which lives on /login, is sent.');
  await step(() => browser.get('/login'), { status: 200 }, {
    cookie: [
      'No session cookie: the Max-Age=0 cookies deleted both. Sign-out keeps the device cookie: it proves no session, only that this browser signed in to the account before',
    ],
  });

  console.log(bold('Done.') + ' The tokens travelled only in Set-Cookie and Cookie headers over TLS: never in a URL, never readable by page script.');
  if (!args.full) console.log(dim('Token values are shortened; npm run trace -- --full prints them whole.'));
}

const target = await openTarget(args);
try {
  await trace(target);
} catch (error) {
  console.error(red(`Trace stopped: ${(error as Error).message}`));
  process.exitCode = 1;
} finally {
  await target.close();
  // Said even when the trace stopped early: the user was created all the same.
  if (leftOnServer !== undefined) console.log(`The user "${leftOnServer}" stays on ${target.origin}: the server has no route to delete a user`);
}
