import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getCookieValues, parseCookies, parseSetCookie, serializeSetCookie, type CookieAttributes } from '../../../lib/http/cookies.ts';

describe('parseCookies()', () => {
  const cases: [description: string, header: string | undefined, expected: Record<string, string>][] = [
    ['no header', undefined, {}],
    ['an empty header', '', {}],
    ['one pair', 'a=1', { a: '1' }],
    ['pairs separated by "; "', 'a=1; b=2', { a: '1', b: '2' }],
    ['pairs separated by ";" alone', 'a=1;b=2', { a: '1', b: '2' }],
    ['spaces around names and values', '  a =  1 ;   b=2  ', { a: '1', b: '2' }],
    ['a quoted value, without its quotes', 'a="1 2"', { a: '1 2' }],
    ['a lone double quote as it is', 'a="', { a: '"' }],
    ['an empty value', 'a=', { a: '' }],
    ['a value holding "="', 'jwt=x.y=z', { jwt: 'x.y=z' }],
    ['a value that is not percent-decodable, raw', 'a=%zz', { a: '%zz' }],
    ['nothing of a part without "="', 'flag; a=1', { a: '1' }],
    ['nothing of a part with an empty name', '=1; a=2', { a: '2' }],
    ['nothing of empty parts', ';; a=1 ;;', { a: '1' }],
  ];
  for (const [description, header, expected] of cases) {
    test(`reads ${description}`, () => {
      assert.deepEqual({ ...parseCookies(header) }, expected);
    });
  }

  test('keeps the first of a repeated name', () => {
    assert.equal(parseCookies('a=first; a=second')['a'], 'first');
  });

  test('returns an object without a prototype, so "__proto__" is just a name', () => {
    const cookies = parseCookies('__proto__=x; constructor=y; toString=z');
    assert.equal(Object.getPrototypeOf(cookies), null);
    assert.deepEqual(Object.keys(cookies), ['__proto__', 'constructor', 'toString']);
    assert.equal(cookies['__proto__'], 'x');
    assert.equal(({} as Record<string, unknown>)['x'], undefined);
  });

  test('inherits nothing: toString and hasOwnProperty are not cookies', () => {
    const cookies = parseCookies('a=1');
    assert.equal(cookies['toString'], undefined);
    assert.equal('hasOwnProperty' in cookies, false);
  });
});

describe('getCookieValues()', () => {
  test('returns every value sent under a name, in order', () => {
    assert.deepEqual(getCookieValues('a=1; b=2; a="3"; a=', 'a'), ['1', '3', '']);
  });

  test('returns an empty list for a missing name or no header', () => {
    assert.deepEqual(getCookieValues('b=2', 'a'), []);
    assert.deepEqual(getCookieValues(undefined, 'a'), []);
  });

  test('matches names exactly, with case', () => {
    assert.deepEqual(getCookieValues('A=1; a=2', 'a'), ['2']);
  });
});

describe('serializeSetCookie()', () => {
  const hostCookie: CookieAttributes = { path: '/', maxAge: 900, httpOnly: true, secure: true, sameSite: 'Lax' };

  const valid: [name: string, value: string, attributes: CookieAttributes, expected: string][] = [
    ['__Host-jwt', 'a.b.c', hostCookie, '__Host-jwt=a.b.c; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax'],
    [
      '__Secure-refresh',
      'r4nd0m-_',
      { path: '/refresh', maxAge: 604800, httpOnly: true, secure: true, sameSite: 'Strict' },
      '__Secure-refresh=r4nd0m-_; Path=/refresh; Max-Age=604800; HttpOnly; Secure; SameSite=Strict',
    ],
    ['__Host-jwt', '', { ...hostCookie, maxAge: 0 }, '__Host-jwt=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax'],
    ['plain', 'v', { path: '/', maxAge: 1 }, 'plain=v; Path=/; Max-Age=1'],
    ['quoted', '"v"', { path: '/', maxAge: 1 }, 'quoted="v"; Path=/; Max-Age=1'],
    ['d', 'v', { path: '/', maxAge: 1, domain: 'example.com' }, 'd=v; Path=/; Max-Age=1; Domain=example.com'],
    ['n', 'v', { path: '/', maxAge: 1, secure: true, sameSite: 'None' }, 'n=v; Path=/; Max-Age=1; Secure; SameSite=None'],
    ["!#$%&'*+-.^_`|~09AZaz", '!#+-:<[]~', { path: '/', maxAge: 1 }, "!#$%&'*+-.^_`|~09AZaz=!#+-:<[]~; Path=/; Max-Age=1"],
  ];
  for (const [name, value, attributes, expected] of valid) {
    test(`writes ${expected}`, () => {
      assert.equal(serializeSetCookie(name, value, attributes), expected);
    });
  }

  const refused: [description: string, name: string, value: string, attributes: CookieAttributes, message: RegExp][] = [
    ['an empty name', '', 'v', { path: '/', maxAge: 1 }, /invalid name ""/],
    ['a name with a space', 'a b', 'v', { path: '/', maxAge: 1 }, /invalid name "a b"/],
    ['a name with "="', 'a=b', 'v', { path: '/', maxAge: 1 }, /invalid name/],
    ['a name with ";"', 'a;b', 'v', { path: '/', maxAge: 1 }, /invalid name/],
    ['a non-ASCII name', 'café', 'v', { path: '/', maxAge: 1 }, /invalid name/],
    ['a value with ";"', 'a', 'x;y', { path: '/', maxAge: 1 }, /invalid value/],
    ['a value with ","', 'a', 'x,y', { path: '/', maxAge: 1 }, /invalid value/],
    ['a value with a space', 'a', 'x y', { path: '/', maxAge: 1 }, /invalid value/],
    ['a value with an inner \'"\'', 'a', 'x"y', { path: '/', maxAge: 1 }, /invalid value/],
    ['a value with an unmatched \'"\'', 'a', '"xy', { path: '/', maxAge: 1 }, /invalid value/],
    ['a value with "\\"', 'a', 'x\\y', { path: '/', maxAge: 1 }, /invalid value/],
    ['a value with CR LF', 'a', 'x\r\nSet-Cookie: y=1', { path: '/', maxAge: 1 }, /invalid value/],
    ['a non-ASCII value', 'a', 'é', { path: '/', maxAge: 1 }, /invalid value/],
    ['a path not starting with "/"', 'a', 'v', { path: 'order', maxAge: 1 }, /invalid path "order"/],
    ['an empty path', 'a', 'v', { path: '', maxAge: 1 }, /invalid path ""/],
    ['a path with ";"', 'a', 'v', { path: '/x; Domain=evil.example', maxAge: 1 }, /invalid path/],
    ['a path with a control character', 'a', 'v', { path: '/x\n', maxAge: 1 }, /invalid path/],
    ['a negative Max-Age', 'a', 'v', { path: '/', maxAge: -1 }, /Max-Age must be a whole number of seconds, got -1/],
    ['a fractional Max-Age', 'a', 'v', { path: '/', maxAge: 1.5 }, /Max-Age must be a whole number of seconds, got 1.5/],
    ['a NaN Max-Age', 'a', 'v', { path: '/', maxAge: Number.NaN }, /Max-Age/],
    ['an infinite Max-Age', 'a', 'v', { path: '/', maxAge: Number.POSITIVE_INFINITY }, /Max-Age/],
    ['a domain with ";"', 'a', 'v', { path: '/', maxAge: 1, domain: 'a.example;x' }, /invalid domain/],
    ['an empty domain', 'a', 'v', { path: '/', maxAge: 1, domain: '' }, /invalid domain/],
    ['__Host- without Secure', '__Host-jwt', 'v', { ...hostCookie, secure: false }, /prefix requires Secure/],
    ['__Host- with Path=/order', '__Host-jwt', 'v', { ...hostCookie, path: '/order' }, /__Host- prefix requires Path=\/ and no Domain/],
    ['__Host- with a Domain', '__Host-jwt', 'v', { ...hostCookie, domain: 'example.com' }, /__Host- prefix requires Path=\/ and no Domain/],
    ['__Secure- without Secure', '__Secure-refresh', 'v', { path: '/refresh', maxAge: 1 }, /prefix requires Secure/],
    ['SameSite=None without Secure', 'a', 'v', { path: '/', maxAge: 1, sameSite: 'None' }, /SameSite=None requires Secure/],
  ];
  for (const [description, name, value, attributes, message] of refused) {
    test(`refuses ${description}`, () => {
      assert.throws(() => serializeSetCookie(name, value, attributes), { name: 'TypeError', message });
    });
  }
});

describe('parseCookies(): double quotes are stripped only when they enclose the whole value', () => {
  // RFC 6265bis §4.1.1: a cookie-value may be wrapped in DQUOTEs, which are not part of it. Anything
  // else keeps its quotes, so a token is never read with a character cut off its end or its start.
  const cases: [description: string, header: string, value: string][] = [
    ['an empty quoted value as empty', 'a=""', ''],
    ['a quoted value, spaces around the quotes trimmed first', 'a= "v" ', 'v'],
    ['a value with only a leading quote as it is', 'a="v', '"v'],
    ['a value with only a trailing quote as it is', 'a=v"', 'v"'],
    ['a quote inside a value as it is', 'a=x"y', 'x"y'],
    ['one pair of quotes only, from a doubly quoted value', 'a=""v""', '"v"'],
  ];
  for (const [description, header, value] of cases) {
    test(`reads ${description}: ${header} → ${JSON.stringify(value)}`, () => {
      assert.equal(parseCookies(header)['a'], value);
      assert.deepEqual(getCookieValues(header, 'a'), [value]);
    });
  }
});

describe('serializeSetCookie(): Domain values of every shape a host name has', () => {
  // Each label is letters, digits and inner hyphens, of one character or many (RFC 1034 §3.5).
  for (const domain of ['localhost', 'a.example', 'x.y', 'a.b.c.example', 'my-app.example.com', '.example.com']) {
    test(`writes Domain=${domain}`, () => {
      assert.equal(serializeSetCookie('d', 'v', { path: '/', maxAge: 1, domain }), `d=v; Path=/; Max-Age=1; Domain=${domain}`);
    });
  }
  for (const domain of ['-a.example', 'a-.example', 'a..example', 'a.example.', 'a_b.example']) {
    test(`refuses Domain=${domain}`, () => {
      assert.throws(() => serializeSetCookie('d', 'v', { path: '/', maxAge: 1, domain }), { name: 'TypeError', message: /invalid domain/ });
    });
  }
});

describe('parseSetCookie(): a Set-Cookie read the way a browser reads it (RFC 6265bis §5.6)', () => {
  const read = (setCookie: string) => {
    const cookie = parseSetCookie(setCookie);
    return cookie && { name: cookie.name, value: cookie.value, attributes: Object.fromEntries(cookie.attributes) };
  };

  test('reads the name, the value and every attribute, names lower-cased, flags as ""', () => {
    assert.deepEqual(read('__Host-jwt=a.b.c; Path=/; Max-Age=900; HttpOnly; Secure; SameSite=Lax'), {
      name: '__Host-jwt',
      value: 'a.b.c',
      attributes: { path: '/', 'max-age': '900', httponly: '', secure: '', samesite: 'Lax' },
    });
  });

  test('trims spaces around names, values and attributes', () => {
    assert.deepEqual(read(' n = v ;  PATH = /x ; secure '), { name: 'n', value: 'v', attributes: { path: '/x', secure: '' } });
  });

  test('keeps "=" inside the value and inside an attribute value', () => {
    assert.deepEqual(read('a=b=c; Foo=x=y'), { name: 'a', value: 'b=c', attributes: { foo: 'x=y' } });
  });

  test('takes the last of a repeated attribute, whatever its case', () => {
    assert.deepEqual(read('a=b; Path=/x; path=/y'), { name: 'a', value: 'b', attributes: { path: '/y' } });
  });

  test('skips empty attributes', () => {
    assert.deepEqual(read('a=b;; ;Secure'), { name: 'a', value: 'b', attributes: { secure: '' } });
  });

  test('ignores a whole Set-Cookie whose first pair has no "="', () => {
    assert.equal(parseSetCookie('novalue; Path=/; Secure'), undefined);
  });
});
