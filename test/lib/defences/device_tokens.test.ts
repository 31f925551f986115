import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { DEVICE_TOKEN_SECONDS, DeviceTokens, MAX_DEVICES_PER_ACCOUNT, newDeviceId, withNewestDevice } from '../../../lib/defences/device_tokens.ts';
import { manualClock, TEST_SECRET } from '../../helpers/server.ts';

const SECRET = new TextEncoder().encode(TEST_SECRET);
const ALICE = 'user-id-of-alice';
const DEVICE = 'AAAAAAAAAAAAAAAAAAAAAA';

describe('DeviceTokens', () => {
  test('a token verifies for the account it was issued for, and gives back its device id', () => {
    const devices = new DeviceTokens(SECRET, manualClock().now);
    const id = newDeviceId();
    assert.match(id, /^[\w-]{22}$/);
    assert.notEqual(newDeviceId(), id);
    assert.equal(devices.verify(devices.issue(ALICE, id), ALICE), id);
  });

  test('a token is <issued at, base 36 seconds>.<device id>.<HMAC-SHA-256 under a key labelled "device-cookie-key">', () => {
    const clock = manualClock(Date.UTC(2026, 0, 1));
    const token = new DeviceTokens(SECRET, clock.now).issue(ALICE, DEVICE);
    const issuedAt = Math.floor(clock.now() / 1000).toString(36);
    const key = createHmac('sha256', SECRET).update('device-cookie-key').digest();
    const signature = createHmac('sha256', key).update(JSON.stringify([issuedAt, DEVICE, ALICE])).digest('base64url');
    assert.equal(token, `${issuedAt}.${DEVICE}.${signature}`);
  });

  test('a token does not verify for another account, with another secret, or altered anywhere', () => {
    const clock = manualClock();
    const devices = new DeviceTokens(SECRET, clock.now);
    const token = devices.issue(ALICE, DEVICE);
    const [issuedAt, deviceId, signature] = token.split('.') as [string, string, string];
    assert.equal(devices.verify(token, 'user-id-of-mallory'), undefined);
    assert.equal(new DeviceTokens(new TextEncoder().encode(`${TEST_SECRET}!`), clock.now).verify(token, ALICE), undefined);
    const altered = [
      `${(parseInt(issuedAt, 36) + 1).toString(36)}.${deviceId}.${signature}`,
      `${issuedAt}.${deviceId.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}.${signature}`,
      `${issuedAt}.${deviceId}.${signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`,
      `${token}=`,
      `x${token}`,
      `!${token}`,
      `${token}!`,
      '',
      'garbage',
    ];
    for (const value of altered) assert.equal(devices.verify(value, ALICE), undefined, value);
    assert.equal(devices.verify(undefined, ALICE), undefined);
  });

  test('a token expires with the cookie that carries it, and one issued more than a minute ahead is refused', () => {
    assert.equal(DEVICE_TOKEN_SECONDS, 365 * 86_400, 'a year');
    const clock = manualClock(Date.UTC(2026, 0, 1));
    const devices = new DeviceTokens(SECRET, clock.now);
    const token = devices.issue(ALICE, DEVICE);
    clock.advance(DEVICE_TOKEN_SECONDS * 1000);
    assert.equal(devices.verify(token, ALICE), DEVICE);
    clock.advance(1000);
    assert.equal(devices.verify(token, ALICE), undefined);

    const ahead = manualClock(Date.UTC(2026, 0, 1));
    const early = new DeviceTokens(SECRET, ahead.now).issue(ALICE, DEVICE);
    ahead.advance(-60_000); // another server whose clock is a minute behind: still within tolerance
    assert.equal(new DeviceTokens(SECRET, ahead.now).verify(early, ALICE), DEVICE);
    ahead.advance(-1000);
    assert.equal(new DeviceTokens(SECRET, ahead.now).verify(early, ALICE), undefined);
  });

  test('trustedDevice(): a valid token counts only while its account still trusts the device', () => {
    const devices = new DeviceTokens(SECRET, manualClock().now);
    const token = devices.issue(ALICE, DEVICE);
    assert.equal(devices.trustedDevice(token, { id: ALICE, deviceIds: ['other', DEVICE] }), DEVICE);
    assert.equal(devices.trustedDevice(token, { id: ALICE, deviceIds: ['other'] }), undefined, 'forgotten, or pushed out by newer devices');
    assert.equal(devices.trustedDevice(token, { id: ALICE, deviceIds: [] }), undefined, 'after "sign out everywhere"');
    assert.equal(devices.trustedDevice(token, { id: 'look-alike-account', deviceIds: [DEVICE] }), undefined, 'bound to the id, not the name');
    assert.equal(devices.trustedDevice(undefined, { id: ALICE, deviceIds: [DEVICE] }), undefined);
  });
});

describe('withNewestDevice()', () => {
  test(`keeps the newest ${MAX_DEVICES_PER_ACCOUNT} devices, oldest first: a sixth pushes out the first`, () => {
    let ids: string[] = [];
    for (const id of ['d1', 'd2', 'd3', 'd4', 'd5']) ids = withNewestDevice(ids, id);
    assert.deepEqual(ids, ['d1', 'd2', 'd3', 'd4', 'd5']);
    assert.deepEqual(withNewestDevice(ids, 'd6'), ['d2', 'd3', 'd4', 'd5', 'd6']);
  });

  test('a device already trusted moves to the end, and is not listed twice', () => {
    assert.deepEqual(withNewestDevice(['d1', 'd2', 'd3'], 'd1'), ['d2', 'd3', 'd1']);
    assert.deepEqual(withNewestDevice(['d1', 'd2', 'd3', 'd4', 'd5'], 'd1'), ['d2', 'd3', 'd4', 'd5', 'd1']);
    assert.deepEqual(withNewestDevice([], 'd1'), ['d1']);
  });
});
