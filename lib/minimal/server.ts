/**
 * The lesson in one file: the sign-up form's POST is answered with a 303 that carries a JWT in an HttpOnly
 * cookie; the browser follows it to /order and sends the cookie back on its own. node:https, a hand-written
 * router, and the same file under Node and Deno 2. The full server (server.ts, lib/) builds on the same idea.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash } from '@node-rs/argon2';
import { SignJWT, jwtVerify } from 'jose';

// ── 1. Configuration: the full server's variables ─────────────────────────────────────────────────
const PORT = Number(process.env.PORT || 8443); // 0: any free port
const HOST = process.env.HOST || 'localhost';
// Not the full server's data/: its users.json has another shape, and each would overwrite the other's.
const DATA_DIR = path.resolve(process.env.DATA_DIR || 'data/minimal');
const TLS_CERT = path.resolve(process.env.TLS_CERT || 'certs/localhost-cert.pem');
const TLS_KEY = path.resolve(process.env.TLS_KEY || 'certs/localhost-key.pem');
const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));
const USERS_FILE = path.join(DATA_DIR, 'users.json');
const ISSUER = 'jwt-cookie-redirect-minimal'; // and the audience: tokens made by and for this server only
const TOKEN_SECONDS = 15 * 60;
const MAX_FORM_BYTES = 16 * 1024; // an honest sign-up form many times over
const ARGON2ID = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const; // algorithm 2 is argon2id; OWASP's minimum cost

const SECRET_FROM_ENV = new TextEncoder().encode(process.env.JWT_SECRET ?? '');
if (SECRET_FROM_ENV.length > 0 && SECRET_FROM_ENV.length < 32) {
  // HS256 needs a key at least as long as its hash, 256 bits (RFC 7518 §3.2).
  console.error(`Cannot start: JWT_SECRET is ${SECRET_FROM_ENV.length} bytes, it must be at least 32`);
  process.exit(1);
}
await mkdir(DATA_DIR, { recursive: true, mode: 0o700 });
const SECRET = SECRET_FROM_ENV.length > 0 ? SECRET_FROM_ENV : await loadOrCreateSecret();

async function loadOrCreateSecret(): Promise<Uint8Array> {
  // No JWT_SECRET: 256 random bits, made on first start and kept where only the owner can read them.
  const file = path.join(DATA_DIR, 'jwt-secret');
  if (!existsSync(file)) await writeFile(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url');
}

// ── 2. The sign-up page: public/ read once, so a request path is a key in a map and never reaches the disk ──
type Reply = { status: number; headers?: Record<string, string>; body?: string | Uint8Array };
const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.js': 'text/javascript' };
const staticFiles = new Map<string, Reply>();
for (const name of await readdir(PUBLIC_DIR)) {
  const headers = { 'Content-Type': CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream' };
  staticFiles.set(name === 'index.html' ? '/' : `/${name}`, { status: 200, headers, body: await readFile(path.join(PUBLIC_DIR, name)) });
}

// ── 3. POST /signup: check the form, hash the password, store the user, answer 303 with the cookie ──
type User = { username: string; passwordHash: string; createdAt: string };
// Two names are one account when they differ only in case or in compatibility forms ("ａｌｉｃｅ").
const usernameKey = (username: string) => username.normalize('NFKC').toLowerCase();
const users = new Map<string, User>();
for (const user of existsSync(USERS_FILE) ? (JSON.parse(await readFile(USERS_FILE, 'utf8')).users as User[]) : []) users.set(usernameKey(user.username), user);

async function signup(req: IncomingMessage): Promise<Reply> {
  // CSRF: browsers say where a request came from in a header page script cannot set (Fetch Metadata), older
  // ones in Origin. A request with neither is not from a browser, so it carries no victim's cookies.
  const site = req.headers['sec-fetch-site'];
  const foreignOrigin = req.headers.origin !== undefined && req.headers.origin !== `https://${req.headers.host}`;
  if (site === undefined ? foreignOrigin : site !== 'same-origin' && site !== 'none') return refusal(403, 'This form was sent from another site');
  if (req.headers['content-type']?.split(';')[0] !== 'application/x-www-form-urlencoded') return refusal(415, 'Send the form as application/x-www-form-urlencoded');
  // Browsers send forms with a Content-Length; refusing chunked ones lets that one number bound the body.
  if (req.headers['transfer-encoding'] !== undefined) return refusal(411, 'Send the form with a Content-Length');
  // Refused before a byte is read; Connection: close, so the rest of the upload is never read either.
  if (Number(req.headers['content-length']) > MAX_FORM_BYTES) return refusal(413, `The form is over ${MAX_FORM_BYTES} bytes`, { Connection: 'close' });

  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const username = (form.get('username') ?? '').normalize('NFKC').trim();
  const password = form.get('password') ?? '';
  if (!/^[\p{L}\p{M}\p{N}._-]{3,32}$/u.test(username)) return refusal(400, 'Username must be 3 to 32 letters, digits, ".", "_" or "-"');
  if ([...password].length < 8) return refusal(400, 'Password must be at least 8 characters');
  const passwordHash = await hash(password, ARGON2ID);
  const key = usernameKey(username); // checked after the hash: another sign-up may take the name meanwhile
  if (users.has(key)) return refusal(409, `The username "${username}" is taken: choose another`);
  users.set(key, { username, passwordHash, createdAt: new Date().toISOString() });
  await saveUsers().catch((error: unknown) => {
    users.delete(key);
    throw error;
  });
  // 303, not 302 or 307: the browser follows it with a GET, so the password is not posted again (RFC 9110 §15.4.4).
  return { status: 303, headers: { Location: '/order', 'Set-Cookie': await sessionCookie(username), ...NO_STORE } };
}

// One save at a time: each writes every user, so an earlier one must not land over a later one.
let saving: Promise<void> = Promise.resolve();
function saveUsers(): Promise<void> {
  saving = saving.catch(() => {}).then(writeUsersFile);
  return saving;
}

// Whole or not at all, and on disk before the 303, so no kill -9 or power cut loses an answered sign-up:
// write a temp file, fsync it, rename it over users.json (rename(2) is atomic), fsync the folder (the new name).
async function writeUsersFile(): Promise<void> {
  const temp = `${USERS_FILE}.${randomUUID()}.tmp`;
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(`${JSON.stringify({ users: [...users.values()] }, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, USERS_FILE);
  const folder = await open(DATA_DIR, 'r');
  await folder.sync();
  await folder.close();
}

async function sessionCookie(username: string): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT().setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(username).setJti(randomUUID())
    .setIssuedAt(iat).setExpirationTime(iat + TOKEN_SECONDS).setIssuer(ISSUER).setAudience(ISSUER).sign(SECRET);
  // __Host-: the browser takes it only with Secure, Path=/ and no Domain, so no subdomain can plant one (RFC 6265bis §4.1.3.2).
  // HttpOnly: page script cannot read it (XSS). Secure: never sent over plain HTTP. SameSite=Lax: not sent with
  // cross-site POSTs (CSRF), still sent when a link elsewhere opens the site. Max-Age: dropped when the token expires.
  return `__Host-jwt=${jwt}; Path=/; Max-Age=${TOKEN_SECONDS}; HttpOnly; Secure; SameSite=Lax`;
}

// ── 4. GET /order: the cookie came back on its own; verify it and name the user ─────────────────────
// An answer that sets or depends on the session cookie must not be kept by any cache (RFC 9111 §5.2.2.5).
const NO_STORE = { 'Cache-Control': 'no-store' };
// A 401 must carry a challenge (RFC 9110 §15.5.2); none is registered for forms and cookies: draft-broyer-http-cookie-auth's, as in the full server.
const CHALLENGE = `Cookie realm="${ISSUER}", form-action="/signup", cookie-name="__Host-jwt"`;

async function order(req: IncomingMessage): Promise<Reply> {
  const cookie = req.headers.cookie?.split('; ').find((pair) => pair.startsWith('__Host-jwt='));
  const username = cookie === undefined ? undefined : await verifiedUsername(cookie.slice('__Host-jwt='.length));
  if (username === undefined) {
    const body = page('Not signed in', '<h1>You are not signed in</h1>\n<p>No session, or it has expired: <a href="/">sign up</a>.</p>');
    return { status: 401, headers: { ...HTML, ...NO_STORE, 'WWW-Authenticate': CHALLENGE }, body };
  }
  return { status: 200, headers: { ...HTML, ...NO_STORE }, body: page('Your order', `<h1>Hello, <span class="username">${escapeHtml(username)}</span></h1>`) };
}

async function verifiedUsername(token: string): Promise<string | undefined> {
  try {
    // Only HS256: the token's own header never picks the algorithm ("alg": "none", key confusion).
    const { payload } = await jwtVerify(token, SECRET, { algorithms: ['HS256'], issuer: ISSUER, audience: ISSUER, requiredClaims: ['sub', 'exp'] });
    return payload.sub;
  } catch {
    return undefined; // forged, tampered with, expired, or for another server: not signed in
  }
}

// ── 5. Pages, refusals, the router, and listen ────────────────────────────────────────────────────
const HTML = { 'Content-Type': 'text/html; charset=utf-8' };
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
// Every value a page shows goes through here: a username can only ever be text, never markup (XSS).
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
const page = (title: string, main: string) =>
  `<!doctype html>\n<html lang="en">\n<meta charset="utf-8">\n<title>${title}</title>\n<link rel="stylesheet" href="/style.css">\n<main>\n${main}\n</main>\n</html>\n`;

const refusal = (status: number, message: string, headers: Record<string, string> = {}): Reply =>
  ({ status, headers: { ...HTML, ...headers }, body: page('Error', `<p>${escapeHtml(message)}</p>\n<p><a href="/">Back</a></p>`) });

type Handler = (req: IncomingMessage) => Reply | Promise<Reply>;
const routes = new Map<string, Map<string, Handler>>([['/signup', new Map([['POST', signup]])], ['/order', new Map([['GET', order]])]]);
for (const [urlPath, file] of staticFiles) routes.set(urlPath, new Map([['GET', () => file]]));

async function route(req: IncomingMessage): Promise<Reply> {
  const urlPath = (req.url ?? '/').split('?')[0]!;
  const methods = routes.get(urlPath);
  if (methods === undefined) return refusal(404, `There is no page at ${urlPath}`);
  const handler = methods.get(req.method === 'HEAD' ? 'GET' : req.method!); // every GET route answers HEAD too (RFC 9110 §9.3.2)
  const allowed = [...methods.keys(), ...(methods.has('GET') ? ['HEAD'] : [])].join(', ');
  if (handler === undefined) return refusal(405, `${urlPath} takes ${allowed}`, { Allow: allowed });
  return await handler(req);
}

const server = createServer(await loadOrCreateCertificate(), async (req, res) => {
  const reply = await route(req).catch((error: unknown) => {
    console.error(error);
    return refusal(500, 'Something went wrong on our side');
  });
  res.writeHead(reply.status, { 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(reply.body ?? ''), ...reply.headers }).end(reply.body);
});
server.listen(PORT, HOST, () => console.log(`Listening on https://${HOST.includes(':') ? `[${HOST}]` : HOST}:${(server.address() as AddressInfo).port}`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));

async function loadOrCreateCertificate(): Promise<{ cert: string; key: string }> {
  if (existsSync(TLS_CERT) && existsSync(TLS_KEY)) return { cert: await readFile(TLS_CERT, 'utf8'), key: await readFile(TLS_KEY, 'utf8') };
  // First start: a self-signed certificate, its own CA, for the names a local browser, curl or test uses.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', extensions: [
    { name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true }, { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] }] });
  for (const file of [TLS_CERT, TLS_KEY]) await mkdir(path.dirname(file), { recursive: true });
  await writeFile(TLS_KEY, pems.private, { mode: 0o600, flag: 'wx' }); // 'wx': never replace a key or certificate that exists
  await writeFile(TLS_CERT, pems.cert, { flag: 'wx' });
  return { cert: pems.cert, key: pems.private };
}
