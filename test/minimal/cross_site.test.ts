/**
 * The minimal server's CSRF rule: a POST /signup a browser marks as coming from another site, or whose
 * Origin is not the server's own, is refused with 403 before anything is read or stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { send } from '../helpers/https_client.ts';
import { launchMinimalServer, minimalUsers } from '../helpers/minimal_server.ts';
import { RUNTIME, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchMinimalServer();
});
after(async () => {
  await server.stop();
});

const signupWith = (username: string, headers: Record<string, string>) =>
  send(`${server.origin}/signup`, server.ca, 'POST', { form: { username, password: 'correct horse battery' }, headers });

describe(`a cross-site POST /signup (${RUNTIME})`, () => {
  const refused: { name: string; username: string; headers: () => Record<string, string> }[] = [
    { name: 'Sec-Fetch-Site: cross-site', username: 'crosssite', headers: () => ({ 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }) },
    { name: 'Sec-Fetch-Site: same-site (a sibling subdomain)', username: 'samesite', headers: () => ({ 'sec-fetch-site': 'same-site', origin: 'https://sub.localhost' }) },
    { name: 'Sec-Fetch-Site: cross-site, whatever Origin says', username: 'lyingorigin', headers: () => ({ 'sec-fetch-site': 'cross-site', origin: server.origin }) },
    // Older browsers send Origin only.
    { name: 'a foreign Origin', username: 'foreignorigin', headers: () => ({ origin: 'https://evil.example' }) },
    { name: 'Origin: null (a sandboxed frame)', username: 'nullorigin', headers: () => ({ origin: 'null' }) },
    { name: 'our host over plain http', username: 'httporigin', headers: () => ({ origin: server.origin.replace('https:', 'http:') }) },
  ];
  for (const { name, username, headers } of refused) {
    test(`with ${name} is refused with 403, stores nothing and sets no cookie`, async () => {
      const response = await signupWith(username, headers());
      assert.equal(response.status, 403);
      assert.match(response.body, /This form was sent from another site/);
      assert.deepEqual(response.setCookies, []);
      assert.ok(!(await minimalUsers(server.dataDir)).some((user) => user.username === username));
    });
  }

  test('is accepted from the page itself (same-origin), from the address bar (none), and from a client that is no browser (neither header)', async () => {
    assert.equal((await signupWith('sameorigin', { 'sec-fetch-site': 'same-origin', origin: server.origin })).status, 303);
    assert.equal((await signupWith('typedin', { 'sec-fetch-site': 'none' })).status, 303);
    assert.equal((await signupWith('ownorigin', { origin: server.origin })).status, 303);
    assert.equal((await signupWith('curl', {})).status, 303);
  });
});
