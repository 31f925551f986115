import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { securityHeaders } from '../../../lib/defences/security_headers.ts';

describe('securityHeaders()', () => {
  const local = [
    ...['localhost', 'localhost:8443', 'LOCALHOST:8443', 'localhost.', 'app.localhost', 'app.localhost:8443'],
    ...['127.0.0.1', '127.0.0.1:8443', '10.0.0.7:8443', '[::1]', '[::1]:8443', '[::ffff:127.0.0.1]:8443'],
  ];
  for (const host of local) {
    test(`leaves out HSTS for Host: ${host}, so other local servers are not pinned to HTTPS`, () => {
      assert.equal(securityHeaders(host)['Strict-Transport-Security'], undefined);
    });
  }

  const remote = ['example.com', 'example.com:8443', 'localhost.example.com', 'notlocalhost', 'mylocalhost:8443', '127.0.0.1.example.com'];
  for (const host of remote) {
    test(`sends HSTS for a year for Host: ${host}`, () => {
      assert.equal(securityHeaders(host)['Strict-Transport-Security'], 'max-age=31536000');
    });
  }

  for (const host of ['localhost:8443', 'example.com']) {
    test(`sends the strict CSP, nosniff and same-origin referrers for Host: ${host}`, () => {
      const headers = securityHeaders(host);
      assert.equal(
        headers['Content-Security-Policy'],
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
      );
      assert.equal(headers['X-Content-Type-Options'], 'nosniff');
      assert.equal(headers['Referrer-Policy'], 'same-origin');
    });
  }

  test('leaves out HSTS when there is no Host (HTTP/1.0): no host name to pin', () => {
    assert.equal(securityHeaders(undefined)['Strict-Transport-Security'], undefined);
    assert.equal(securityHeaders(undefined)['X-Content-Type-Options'], 'nosniff');
  });

  test('returns a frozen object that one response cannot change for the next', () => {
    assert.ok(Object.isFrozen(securityHeaders('localhost')));
    assert.ok(Object.isFrozen(securityHeaders('example.com')));
  });
});
