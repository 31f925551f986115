/**
 * Every known way to slip a JWT past a verifier, thrown at `GET /order`. Each attack must leave the
 * request signed out: a 401 from the "not signed in" branch of the handler, never the page that names
 * the user, never a 500. The tokens are forged by hand (`scripts/support/forge_jwt.ts`) with the test
 * server's own JWT_SECRET where the attack needs it, so each one differs from a token the server
 * accepts by exactly the flaw under test; the first test proves that control token is accepted.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { base64url, compact, decodeJwt, es256, forge, hmac, replaceSegment, unsigned } from '../../scripts/support/forge_jwt.ts';
import { send, type TestResponse } from '../helpers/https_client.ts';
import { TEST_SECRET, launchServer, type LaunchedServer } from '../helpers/server.ts';

const ISSUER = 'jwt-cookie-redirect';
const AUDIENCE = 'jwt-cookie-redirect';
const HS256 = { alg: 'HS256', typ: 'JWT' };
const withServerKey = hmac('sha256', TEST_SECRET);

let server: LaunchedServer;
/** Alice's real access token, as the server set it. */
let aliceToken: string;
let alice: { sub: string; sid: string };
let bobId: string;

/** A listener that only counts connections: where jku, x5u and kid URLs point. */
let keyServer: Server;
let keyServerUrl: string;
let keyServerConnections = 0;

/** The attacker's own key pair, for tokens that bring their own key (jwk, jku, x5u). */
const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });

before(async () => {
  server = await launchServer();
  keyServer = createServer((socket) => {
    keyServerConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  keyServerUrl = `http://127.0.0.1:${(keyServer.address() as { port: number }).port}`;

  const aliceBrowser = server.browser();
  await aliceBrowser.signup('alice');
  aliceToken = (await aliceBrowser.cookie('__Host-jwt'))!;
  const { sub, sid } = decodeJwt(aliceToken).payload as { sub: string; sid: string };
  alice = { sub, sid };

  const bobBrowser = server.browser();
  await bobBrowser.signup('bob');
  bobId = decodeJwt((await bobBrowser.cookie('__Host-jwt'))!).payload.sub as string;
});

after(async () => {
  await new Promise((resolve) => keyServer.close(resolve));
  await server.stop();
});

/** Alice's claims, good for ten minutes, with `changes` applied (`undefined` removes a claim). */
function claims(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const base = { sub: alice.sub, sid: alice.sid, jti: randomUUID(), iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600 };
  const merged: Record<string, unknown> = { ...base, ...changes };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return merged;
}

/** Signed with the server's real key, as only someone holding JWT_SECRET could. */
function signedByServerKey(payload: unknown, header: Record<string, unknown> = HS256): string {
  return forge(header, payload, withServerKey);
}

function openOrder(cookie: string | undefined, options: { headers?: OutgoingHttpHeaders; path?: string } = {}): Promise<TestResponse> {
  const headers = { accept: 'application/json', ...(cookie !== undefined && { cookie }), ...options.headers };
  return send(new URL(options.path ?? '/order', server.origin).href, server.ca, 'GET', { headers });
}

/** The handler's signed-out branch answered: a JSON 401, and nothing that belongs to a user. */
function assertShutOut(response: TestResponse): void {
  assert.notEqual(response.status, 500);
  assert.equal(response.status, 401);
  assert.deepEqual(Object.keys(response.json as object), ['error']);
  assert.doesNotMatch(response.body, /alice|bob|Hello/i);
  assert.deepEqual(response.setCookies, []);
}

test('a token signed with the server key, as every forgery below starts from, opens /order as alice', async () => {
  const response = await openOrder(`__Host-jwt=${signedByServerKey(claims())}`, { headers: { accept: 'text/html' } });
  assert.equal(response.status, 200);
  assert.match(response.body, /Hello, <span class="username">alice<\/span>/);
});

interface Attack {
  name: string;
  /** The Cookie header to send; built once the users exist. */
  cookie: () => string | undefined;
  headers?: () => OutgoingHttpHeaders;
  path?: () => string;
}

const jwt = (token: string) => `__Host-jwt=${token}`;

const attacks: Attack[] = [
  // The algorithm: only HS256 is accepted, whatever the header asks for.
  { name: 'alg "none" with no signature', cookie: () => jwt(forge({ alg: 'none', typ: 'JWT' }, claims(), unsigned)) },
  { name: 'alg "NONE" with no signature', cookie: () => jwt(forge({ alg: 'NONE', typ: 'JWT' }, claims(), unsigned)) },
  { name: 'alg "none" over alice\'s real payload and signature', cookie: () => jwt(replaceSegment(aliceToken, 0, base64url(JSON.stringify({ alg: 'none', typ: 'JWT' })))) },
  { name: 'HS384 signed with the server key', cookie: () => jwt(forge({ alg: 'HS384', typ: 'JWT' }, claims(), hmac('sha384', TEST_SECRET))) },
  { name: 'HS512 signed with the server key', cookie: () => jwt(forge({ alg: 'HS512', typ: 'JWT' }, claims(), hmac('sha512', TEST_SECRET))) },
  // Key confusion: an asymmetric alg whose "public key" is the HMAC secret.
  { name: 'RS256 header, HMAC signature with the secret as public key', cookie: () => jwt(forge({ alg: 'RS256', typ: 'JWT' }, claims(), withServerKey)) },
  { name: 'ES256 header, HMAC signature with the secret as public key', cookie: () => jwt(forge({ alg: 'ES256', typ: 'JWT' }, claims(), withServerKey)) },
  // The signature.
  { name: "alice's real signature over a payload that says bob", cookie: () => jwt(replaceSegment(aliceToken, 1, base64url(JSON.stringify({ ...decodeJwt(aliceToken).payload, sub: bobId })))) },
  { name: 'the signature stripped (trailing dot kept)', cookie: () => jwt(aliceToken.slice(0, aliceToken.lastIndexOf('.') + 1)) },
  { name: 'the signature truncated by 4 characters', cookie: () => jwt(aliceToken.slice(0, -4)) },
  // One token, two spellings: padding, or the unused low bits of the last character set (RFC 4648 §3.5).
  { name: "alice's real token with \"=\" after the signature", cookie: () => jwt(`${aliceToken}=`) },
  { name: "alice's real token with the signature's last character swapped for its twin (the same bytes)", cookie: () => jwt(withTwinLastCharacter(aliceToken)) },
  { name: 'the signature of another token', cookie: () => jwt(replaceSegment(aliceToken, 2, signedByServerKey(claims()).split('.')[2]!)) },
  { name: 'ES256 "psychic signature" (r = s = 0)', cookie: () => jwt(forge({ alg: 'ES256', typ: 'JWT' }, claims(), () => base64url(new Uint8Array(64)))) },
  { name: 'HS256 signed with an empty key', cookie: () => jwt(forge(HS256, claims(), hmac('sha256', ''))) },
  // Times, issuer, audience, claims: all signed with the server key, so only the claim is wrong.
  { name: 'exp a minute in the past', cookie: () => jwt(signedByServerKey(claims({ iat: now() - 120, exp: now() - 60 }))) },
  { name: 'nbf a minute in the future', cookie: () => jwt(signedByServerKey(claims({ nbf: now() + 60 }))) },
  { name: 'iat a minute in the future', cookie: () => jwt(signedByServerKey(claims({ iat: now() + 60, exp: now() + 660 }))) },
  { name: 'exp a year away (longer than an access token lives)', cookie: () => jwt(signedByServerKey(claims({ iat: now() - 3600, exp: now() + 365 * 86400 }))) },
  { name: 'wrong iss', cookie: () => jwt(signedByServerKey(claims({ iss: 'https://evil.example' }))) },
  { name: 'wrong aud', cookie: () => jwt(signedByServerKey(claims({ aud: 'some-other-service' }))) },
  ...['sub', 'sid', 'jti', 'iat', 'exp', 'iss', 'aud'].map((claim) => ({
    name: `the ${claim} claim missing`,
    cookie: () => jwt(signedByServerKey(claims({ [claim]: undefined }))),
  })),
  { name: 'sub of the wrong type (a number)', cookie: () => jwt(signedByServerKey(claims({ sub: 42 }))) },
  { name: 'sub of a user that does not exist', cookie: () => jwt(signedByServerKey(claims({ sub: randomUUID() }))) },
  // Headers that try to pick the key: the verifier has one key and reads none of them.
  { name: 'kid pointing at /dev/null, signed with an empty key', cookie: () => jwt(forge({ ...HS256, kid: '../../../../../../dev/null' }, claims(), hmac('sha256', ''))) },
  { name: 'kid pointing at a URL', cookie: () => jwt(forge({ ...HS256, kid: `${keyServerUrl}/key` }, claims(), hmac('sha256', 'attacker'))) },
  { name: 'jku pointing at the attacker’s key set', cookie: () => jwt(forge({ alg: 'ES256', jku: `${keyServerUrl}/jwks.json` }, claims(), es256(attacker.privateKey))) },
  { name: 'x5u pointing at the attacker’s certificate', cookie: () => jwt(forge({ alg: 'ES256', x5u: `${keyServerUrl}/cert.pem` }, claims(), es256(attacker.privateKey))) },
  { name: 'jwk embedding the attacker’s public key', cookie: () => jwt(forge({ alg: 'ES256', jwk: attacker.publicKey.export({ format: 'jwk' }) }, claims(), es256(attacker.privateKey))) },
  { name: 'jwk embedding the attacker’s HMAC key', cookie: () => jwt(forge({ ...HS256, jwk: { kty: 'oct', k: base64url('attacker') } }, claims(), hmac('sha256', 'attacker'))) },
  { name: 'an unknown crit header, signed with the server key', cookie: () => jwt(signedByServerKey(claims(), { ...HS256, crit: ['urn:example:unknown'], 'urn:example:unknown': true })) },
  // Shapes that are not a JWT at all.
  { name: 'two segments', cookie: () => jwt(aliceToken.split('.').slice(0, 2).join('.')) },
  { name: 'four segments', cookie: () => jwt(`${aliceToken}.${aliceToken.split('.')[2]}`) },
  { name: 'bad base64url in every segment', cookie: () => jwt('!!!.@@@.###') },
  { name: 'a payload that is a JSON array, signed with the server key', cookie: () => jwt(signedByServerKey([])) },
  { name: 'a payload that is invalid UTF-8, signed with the server key', cookie: () => jwt(compact(base64url(JSON.stringify(HS256)), base64url(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d])), withServerKey)) },
  { name: 'a header that is not JSON, signed with the server key', cookie: () => jwt(compact(base64url('{alg:HS256'), base64url(JSON.stringify(claims())), withServerKey)) },
  { name: 'a 10 KB token', cookie: () => jwt(replaceSegment(aliceToken, 1, base64url(JSON.stringify({ ...decodeJwt(aliceToken).payload, pad: 'x'.repeat(10_000) })))) },
  { name: 'an empty cookie value', cookie: () => jwt('') },
  // The token in the wrong place: only the cookie counts.
  { name: 'the valid token in the query string', cookie: () => undefined, path: () => `/order?token=${aliceToken}&__Host-jwt=${aliceToken}` },
  { name: 'the valid token as Authorization: Bearer', cookie: () => undefined, headers: () => ({ authorization: `Bearer ${aliceToken}` }) },
  { name: 'the valid token under another cookie name', cookie: () => `jwt=${aliceToken}; __Secure-jwt=${aliceToken}` },
  // Cookie tossing: a second __Host-jwt means we cannot know which one is ours.
  { name: 'a second __Host-jwt cookie (forged) beside the real one', cookie: () => `${jwt(aliceToken)}; ${jwt(signedByServerKey(claims({ sub: bobId })).slice(0, -2))}` },
  { name: 'the real __Host-jwt cookie sent twice', cookie: () => `${jwt(aliceToken)}; ${jwt(aliceToken)}` },
];

/** `token` with its last character swapped for the one that differs only in the lowest of its six bits. */
function withTwinLastCharacter(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1];
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

describe('GET /order refuses', () => {
  for (const attack of attacks) {
    test(`${attack.name}`, async () => {
      assertShutOut(await openOrder(attack.cookie(), { headers: attack.headers?.(), path: attack.path?.() }));
    });
  }

  test('a token whose jti is on the deny list (logged out), though its signature is good', async () => {
    const tab = server.browser();
    await tab.navigate('POST', '/login', { form: { username: 'alice', password: 'correct horse battery' } });
    const token = (await tab.cookie('__Host-jwt'))!;
    assert.equal((await openOrder(jwt(token))).status, 200);
    assert.equal((await tab.request('POST', '/session/logout')).status, 303);

    const response = await openOrder(jwt(token));
    assertShutOut(response);
    assert.match((response.json as { error: string }).error, /signed out/);
  });
});

test('no key URL in a token header was ever fetched', () => {
  assert.equal(keyServerConnections, 0);
});

test('after the whole barrage the original token still opens /order, and nothing was logged as an error', async () => {
  const response = await openOrder(jwt(aliceToken), { headers: { accept: 'text/html' } });
  assert.equal(response.status, 200);
  assert.match(response.body, /Hello, <span class="username">alice<\/span>/);
  assert.doesNotMatch(server.output(), / 500 |error:/);
});
