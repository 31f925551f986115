import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { assertSameOrigin, CROSS_SITE_VARY, isUnsafeMethod, refuseCrossSite, varyOnOrigin } from '../../../lib/defences/cross_site.ts';
import type { Request } from '../../../lib/http/listener.ts';
import { DomainError } from '../../../lib/errors.ts';
import { statusOf } from '../../../lib/http/error_reply.ts';

const HOST = 'localhost:8443';

function request(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers: { host: HOST, ...headers } } as unknown as IncomingMessage;
}

/** The rules of docs/http.md, "Cross-site requests", case by case. */
const table: [headers: Record<string, string>, verdict: 'pass' | 403][] = [
  // 1. Sec-Fetch-Site decides when present, whatever Origin says.
  [{ 'sec-fetch-site': 'same-origin' }, 'pass'],
  [{ 'sec-fetch-site': 'none' }, 'pass'],
  [{ 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }, 'pass'],
  [{ 'sec-fetch-site': 'same-site' }, 403],
  [{ 'sec-fetch-site': 'cross-site' }, 403],
  [{ 'sec-fetch-site': 'same-site', origin: `https://${HOST}` }, 403],
  [{ 'sec-fetch-site': 'cross-site', origin: `https://${HOST}` }, 403],
  [{ 'sec-fetch-site': 'something-new' }, 403],
  // 2. No Sec-Fetch-Site: Origin must be exactly https:// + Host.
  [{ origin: `https://${HOST}` }, 'pass'],
  [{ origin: 'https://evil.example' }, 403],
  [{ origin: `http://${HOST}` }, 403],
  [{ origin: 'https://localhost:9443' }, 403],
  [{ origin: 'https://app.localhost:8443' }, 403],
  [{ origin: 'null' }, 403],
  [{ origin: '' }, 403],
  // 3. Neither header: not a browser.
  [{}, 'pass'],
];

describe('assertSameOrigin()', () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    for (const [headers, verdict] of table) {
      const shown = JSON.stringify(headers);
      if (verdict === 'pass') {
        test(`lets ${method} with ${shown} pass`, () => {
          assert.doesNotThrow(() => assertSameOrigin(request(method, headers)));
        });
      } else {
        test(`answers 403 to ${method} with ${shown}`, () => {
          assert.throws(() => assertSameOrigin(request(method, headers)), (error: unknown) => {
            assert.ok(error instanceof DomainError);
            assert.equal(statusOf(error), 403);
            assert.match(error.message, /^Cannot accept this request: it came from another (site|origin)/);
            return true;
          });
        });
      }
    }
  }

  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    test(`never judges ${method}, even from another site`, () => {
      assert.doesNotThrow(() => assertSameOrigin(request(method, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' })));
    });
  }
});

describe('isUnsafeMethod()', () => {
  const cases: [method: string, unsafe: boolean][] = [
    ['GET', false],
    ['HEAD', false],
    ['OPTIONS', false],
    ['POST', true],
    ['PUT', true],
    ['PATCH', true],
    ['DELETE', true],
    ['PROPFIND', true],
  ];
  for (const [method, unsafe] of cases) {
    test(`calls ${method} ${unsafe ? 'unsafe' : 'safe'}`, () => {
      assert.equal(isUnsafeMethod(method), unsafe);
    });
  }
});

describe('assertSameOrigin(): an Origin that only begins with our own is another origin', () => {
  // A prefix or substring match would let any host whose name starts with ours through: the attacker
  // registers `localhost:8443.evil.example`, or writes our host as the userinfo of theirs.
  test('refuses https://HOST.evil.example, a host under the attacker\'s domain', () => {
    assert.throws(() => assertSameOrigin(request('POST', { origin: `https://${HOST}.evil.example` })), { code: 'ERR_CROSS_SITE' });
  });

  test('refuses https://HOST@evil.example, our host as userinfo in front of the attacker\'s', () => {
    assert.throws(() => assertSameOrigin(request('POST', { origin: `https://${HOST}@evil.example` })), { code: 'ERR_CROSS_SITE' });
  });

  test('refuses an Origin with our host and a trailing path or slash', () => {
    assert.throws(() => assertSameOrigin(request('POST', { origin: `https://${HOST}/` })), { code: 'ERR_CROSS_SITE' });
  });
});

describe('CROSS_SITE_VARY', () => {
  test('names both request headers the verdict depends on, so a cache never serves one origin\'s answer to another', () => {
    // The same POST passes or gets 403 by Origin alone, and by Sec-Fetch-Site alone.
    assert.notEqual(verdict({ origin: `https://${HOST}` }), verdict({ origin: 'https://evil.example' }));
    assert.notEqual(verdict({ 'sec-fetch-site': 'same-origin' }), verdict({ 'sec-fetch-site': 'cross-site' }));
    const named = CROSS_SITE_VARY.split(',').map((name) => name.trim().toLowerCase());
    assert.deepEqual(named.sort(), ['origin', 'sec-fetch-site']);
  });
});

function verdict(headers: Record<string, string>): 'pass' | number {
  try {
    assertSameOrigin(request('POST', headers));
    return 'pass';
  } catch (error) {
    return statusOf(error) ?? 0;
  }
}

describe('the guard and the hook of the wiring', () => {
  const wired = (method: string, headers: Record<string, string>) => ({ method, req: request(method, headers) }) as unknown as Request;

  test('refuseCrossSite judges the request it is given: 403 from another site, nothing from our own', () => {
    assert.throws(() => refuseCrossSite(wired('POST', { 'sec-fetch-site': 'cross-site' })), { code: 'ERR_CROSS_SITE' });
    assert.equal(refuseCrossSite(wired('POST', { 'sec-fetch-site': 'same-origin' })), undefined);
  });

  test('varyOnOrigin adds Vary: Origin, Sec-Fetch-Site to an answer to an unsafe method, keeping its headers; a GET answer is left as it is', () => {
    const reply = { status: 303, headers: { Location: '/order' }, body: '' };
    assert.deepEqual(varyOnOrigin(wired('POST', {}), reply), { status: 303, headers: { Vary: 'Origin, Sec-Fetch-Site', Location: '/order' }, body: '' });
    assert.equal(varyOnOrigin(wired('GET', {}), reply), reply);
  });
});
