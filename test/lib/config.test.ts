import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ENV_VARIABLES, readConfig } from '../../lib/config.ts';
import { ConfigError } from '../../lib/errors.ts';

const CWD = path.resolve('/srv/app');
const SECRET_32_BYTES = 'x'.repeat(32);

describe('readConfig()', () => {
  test('uses the defaults of docs/http.md for an empty environment', () => {
    assert.deepEqual(readConfig({}, CWD), {
      port: 8443,
      host: 'localhost',
      dataDir: path.join(CWD, 'data'),
      jwtSecret: undefined,
      rateLimit: 20,
      tlsCertFile: path.join(CWD, 'certs/localhost-cert.pem'),
      tlsKeyFile: path.join(CWD, 'certs/localhost-key.pem'),
      development: true,
      databaseUrl: undefined,
      maxConnections: undefined,
    });
  });

  test('treats empty and blank variables as unset', () => {
    assert.deepEqual(readConfig({ PORT: '', HOST: ' ', DATA_DIR: '', JWT_SECRET: '', RATE_LIMIT: '  ' }, CWD), readConfig({}, CWD));
  });

  test('reads every variable', () => {
    const config = readConfig(
      {
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: 'state',
        JWT_SECRET: SECRET_32_BYTES,
        RATE_LIMIT: '0',
        TLS_CERT: '/etc/tls/cert.pem',
        TLS_KEY: 'key.pem',
        NODE_ENV: 'production',
        MAX_CONNECTIONS: '500',
      },
      CWD,
    );
    assert.equal(config.port, 0);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.dataDir, path.join(CWD, 'state'));
    assert.deepEqual(config.jwtSecret, new TextEncoder().encode(SECRET_32_BYTES));
    assert.equal(config.rateLimit, 0);
    assert.equal(config.tlsCertFile, path.resolve('/etc/tls/cert.pem'));
    assert.equal(config.tlsKeyFile, path.join(CWD, 'key.pem'));
    assert.equal(config.development, false);
    assert.equal(config.maxConnections, 500);
  });

  test('accepts the ends of each range', () => {
    assert.equal(readConfig({ PORT: '65535' }, CWD).port, 65535);
    assert.equal(readConfig({ PORT: ' 8080 ' }, CWD).port, 8080);
    assert.equal(readConfig({ RATE_LIMIT: '1000000' }, CWD).rateLimit, 1_000_000);
  });

  test('counts JWT_SECRET in UTF-8 bytes, not characters', () => {
    assert.equal(readConfig({ JWT_SECRET: 'é'.repeat(16) }, CWD).jwtSecret?.length, 32);
  });

  const refused: [env: Record<string, string>, variable: string, message: RegExp][] = [
    [{ PORT: 'abc' }, 'PORT', /PORT must be a whole number from 0 to 65535, got "abc"/],
    [{ PORT: '70000' }, 'PORT', /PORT must be a whole number from 0 to 65535, got "70000"/],
    [{ PORT: '65536' }, 'PORT', /PORT/],
    [{ PORT: '-1' }, 'PORT', /PORT/],
    [{ PORT: '80.5' }, 'PORT', /PORT/],
    [{ PORT: '1e3' }, 'PORT', /PORT/],
    [{ PORT: '0x50' }, 'PORT', /PORT/],
    [{ RATE_LIMIT: '-1' }, 'RATE_LIMIT', /RATE_LIMIT must be a whole number from 0 to 1000000, got "-1"/],
    [{ RATE_LIMIT: 'ten' }, 'RATE_LIMIT', /RATE_LIMIT/],
    [{ RATE_LIMIT: '1000001' }, 'RATE_LIMIT', /RATE_LIMIT/],
    [{ MAX_CONNECTIONS: '0' }, 'MAX_CONNECTIONS', /MAX_CONNECTIONS must be a whole number from 1 to 1000000, got "0"/],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET', /JWT_SECRET is 5 bytes, it must be at least 32/],
    [{ JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET', /JWT_SECRET is 31 bytes/],
  ];
  for (const [env, variable, message] of refused) {
    test(`refuses ${JSON.stringify(env).slice(0, 60)} with a message naming ${variable}`, () => {
      assert.throws(() => readConfig(env, CWD), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^Cannot start: /);
        assert.ok(error.message.includes(variable), `"${error.message}" does not name ${variable}`);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test('returns a frozen object', () => {
    const config = readConfig({}, CWD);
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });

  test('lists exactly the variables it reads, for Deno --allow-env', () => {
    assert.deepEqual([...ENV_VARIABLES].sort(), ['DATABASE_URL', 'DATA_DIR', 'HOST', 'JWT_SECRET', 'MAX_CONNECTIONS', 'NODE_ENV', 'PORT', 'RATE_LIMIT', 'TLS_CERT', 'TLS_KEY']);
  });
});
