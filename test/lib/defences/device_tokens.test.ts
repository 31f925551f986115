import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEVICE_TOKEN_SECONDS, DeviceTokens } from '../../../lib/defences/device_tokens.ts';
import { manualClock, TEST_SECRET } from '../../helpers/server.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);

describe('DeviceTokens', () => {
  test('a token verifies for the account it was issued for, and names a new device each time', () => {
    const devices = new DeviceTokens(SECRET, manualClock().now);
    const first = devices.issue('alice');
    const second = devices.issue('alice');
    assert.match(devices.verify(first, 'alice') ?? '', /^[\w-]{22}$/);
    assert.notEqual(devices.verify(first, 'alice'), devices.verify(second, 'alice'));
  });

  test('a token does not verify for another account, with another secret, or altered anywhere', () => {
    const clock = manualClock();
    const devices = new DeviceTokens(SECRET, clock.now);
    const token = devices.issue('alice');
    const [issuedAt, deviceId, signature] = token.split('.') as [string, string, string];
    assert.equal(devices.verify(token, 'mallory'), undefined);
    assert.equal(new DeviceTokens(new TextEncoder().encode(`${TEST_SECRET}!`), clock.now).verify(token, 'alice'), undefined);
    const altered = [
      `${(parseInt(issuedAt, 36) + 1).toString(36)}.${deviceId}.${signature}`,
      `${issuedAt}.${deviceId.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}.${signature}`,
      `${issuedAt}.${deviceId}.${signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`,
      `${token}=`,
      '',
      'garbage',
    ];
    for (const value of altered) assert.equal(devices.verify(value, 'alice'), undefined, value);
    assert.equal(devices.verify(undefined, 'alice'), undefined);
  });

  test('a token expires with the cookie that carries it', () => {
    const clock = manualClock();
    const devices = new DeviceTokens(SECRET, clock.now);
    const token = devices.issue('alice');
    clock.advance(DEVICE_TOKEN_SECONDS * 1000);
    assert.notEqual(devices.verify(token, 'alice'), undefined);
    clock.advance(1000);
    assert.equal(devices.verify(token, 'alice'), undefined);
  });
});
