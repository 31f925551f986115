/**
 * The framework yardstick: the project's job done the way a Fastify 5 application does it, with the
 * framework's own plugins and their documented options, and nothing the job does not need.
 *
 *   POST /signup  a form (`@fastify/formbody`), checked by a JSON schema; argon2id at the project's
 *                 parameters; the user kept in a Map; a JWT (`@fastify/jwt`, HS256, the project's
 *                 `iss` and `aud`, 15 minutes) in the project's `__Host-jwt` cookie (`@fastify/cookie`)
 *                 on a 303 to /order
 *   GET /order    the JWT read from that cookie and verified (signature, `iss`, `aud`, `exp`), its user
 *                 looked up, and the page sent: the project's own /order page and headers, with this
 *                 user's name filled in, so both send the same bytes
 *
 * Like the project, it remembers tokens that verified (fast-jwt's `cache`, which its documentation
 * recommends), and writes one log line per request (Fastify's logger, pino) to stdout, a file. Unlike
 * the project, it keeps no sessions, no refresh tokens and nothing on disk: no fsync, no journal.
 *
 * Run as a child process by `run.ts`, under Node or Deno: RESPONSE_FILE holds the recorded /order
 * answer (`recorded_response.ts`), TLS_CERT/TLS_KEY the certificate, JWT_SECRET the key. It prints
 * `listening <port>` on stderr once it listens.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyJwt from '@fastify/jwt';
import { hash } from '@node-rs/argon2';
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { OWASP_ARGON2ID } from '../lib/accounts/passwords.ts';
import { AUDIENCE, DEFAULT_ACCESS_SECONDS, ISSUER } from '../lib/sessions/access_tokens.ts';
import { ACCESS_COOKIE } from '../lib/sessions/cookies.ts';
import { readRecordedResponse, replayedHeaders } from './recorded_response.ts';

const recorded = readRecordedResponse(process.env.RESPONSE_FILE!);
const pageParts = recorded.body.split(escapeHtml(recorded.username));
// Content-Length aside: Fastify counts the bytes of what it sends.
const pageHeaders = Object.fromEntries(replayedHeaders(recorded).filter(([name]) => name.toLowerCase() !== 'content-length'));

interface User {
  id: string;
  username: string;
  passwordHash: string;
}
const usersById = new Map<string, User>();
const idsByName = new Map<string, string>();

const app = Fastify({
  https: { cert: readFileSync(process.env.TLS_CERT!), key: readFileSync(process.env.TLS_KEY!) },
  keepAliveTimeout: 5_000, // the same as the project's server
  // One line per request, as the project writes, instead of Fastify's two (received, completed).
  logger: true,
  disableRequestLogging: true,
});
app.addHook('onResponse', async (request, reply) => {
  request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime });
});
await app.register(fastifyFormbody);
await app.register(fastifyCookie);
await app.register(fastifyJwt, {
  secret: process.env.JWT_SECRET!,
  cookie: { cookieName: ACCESS_COOKIE, signed: false },
  sign: { algorithm: 'HS256', iss: ISSUER, aud: AUDIENCE, expiresIn: DEFAULT_ACCESS_SECONDS },
  verify: { algorithms: ['HS256'], allowedIss: ISSUER, allowedAud: AUDIENCE, cache: true },
});

const signupSchema = {
  body: {
    type: 'object',
    required: ['username', 'password'],
    properties: {
      username: { type: 'string', minLength: 3, maxLength: 32, pattern: '^[a-zA-Z0-9_.-]+$' },
      password: { type: 'string', minLength: 8, maxLength: 1024 },
    },
  },
};

app.post<{ Body: { username: string; password: string } }>('/signup', { schema: signupSchema }, async (request, reply) => {
  const { username, password } = request.body;
  const passwordHash = await hash(password, { ...OWASP_ARGON2ID, algorithm: 2 }); // 2 = argon2id
  // Checked after the hash, in the same turn of the event loop as the insertion: no two can win.
  if (idsByName.has(username)) return reply.code(409).send('That username is taken');
  const user = { id: randomUUID(), username, passwordHash };
  usersById.set(user.id, user);
  idsByName.set(username, user.id);
  const token = await reply.jwtSign({ sid: randomUUID(), jti: randomUUID() }, { sub: user.id });
  return reply
    .setCookie(ACCESS_COOKIE, token, { path: '/', maxAge: DEFAULT_ACCESS_SECONDS, httpOnly: true, secure: true, sameSite: 'lax' })
    .header('Cache-Control', 'no-store')
    .redirect('/order', 303);
});

app.get('/order', async (request, reply) => {
  let claims: { sub?: string };
  try {
    claims = await request.jwtVerify<{ sub?: string }>();
  } catch {
    return reply.code(401).send('Sign in first');
  }
  const user = claims.sub === undefined ? undefined : usersById.get(claims.sub);
  if (user === undefined) return reply.code(401).send('Sign in first');
  return reply.headers(pageHeaders).send(pageParts.join(escapeHtml(user.username)));
});

/** What a template engine does to text it puts into HTML. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

await app.listen({ port: 0, host: '127.0.0.1' });
console.error(`listening ${(app.server.address() as AddressInfo).port}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
