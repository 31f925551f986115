import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DomainError } from '../../../lib/errors.ts';
import { statusOf } from '../../../lib/http/error_reply.ts';
import { OWASP_ARGON2ID, PasswordHasher, type Argon2Params } from '../../../lib/accounts/passwords.ts';
import { FAST_ARGON2 } from '../../helpers/server.ts';
import { answerTo } from '../../helpers/answer_to.ts';

const fast = () => PasswordHasher.create({ params: FAST_ARGON2 });

describe('PasswordHasher', () => {
  test('hash() uses argon2id with the OWASP parameters by default (m=19456 KiB, t=2, p=1)', async () => {
    const hasher = await PasswordHasher.create();
    assert.deepEqual(hasher.params, { memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    assert.match(await hasher.hash('correct horse battery'), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[\w+/]+\$[\w+/]+$/);
  });

  test('hash() salts each hash, so one password gives two different hashes', async () => {
    const hasher = await fast();
    assert.notEqual(await hasher.hash('correct horse battery'), await hasher.hash('correct horse battery'));
  });

  test('verify() is true for the password that was hashed and false for any other', async () => {
    const hasher = await fast();
    const stored = await hasher.hash('correct horse battery');
    assert.equal(await hasher.verify(stored, 'correct horse battery'), true);
    assert.equal(await hasher.verify(stored, 'correct horse batterY'), false);
    assert.equal(await hasher.verify(stored, ''), false);
  });

  test('verify() checks a hash made with other parameters by the parameters in the hash', async () => {
    const stored = await (await fast()).hash('correct horse battery');
    assert.equal(await (await PasswordHasher.create({ params: { ...FAST_ARGON2, memoryCost: 512 } })).verify(stored, 'correct horse battery'), true);
  });

  test('verifyNobody() resolves false, whatever the password', async () => {
    const hasher = await fast();
    assert.equal(await hasher.verifyNobody('correct horse battery'), false);
    assert.equal(await hasher.verifyNobody(''), false);
  });

  const policy: Argon2Params = { memoryCost: 512, timeCost: 2, parallelism: 1 };
  const rehash: [description: string, params: Argon2Params, needed: boolean][] = [
    ['the current parameters', policy, false],
    ['less memory', { ...policy, memoryCost: 256 }, true],
    ['fewer passes', { ...policy, timeCost: 1 }, true],
    ['more memory', { ...policy, memoryCost: 1024 }, false],
    ['more passes', { ...policy, timeCost: 3 }, false],
  ];
  for (const [description, params, needed] of rehash) {
    test(`needsRehash() is ${needed} for a hash made with ${description}`, async () => {
      const stored = await (await PasswordHasher.create({ params })).hash('correct horse battery');
      assert.equal((await PasswordHasher.create({ params: policy })).needsRehash(stored), needed);
    });
  }

  test('needsRehash() is true for an argon2i hash, even with the same parameters', async () => {
    // argon2i at the same m, t and p (only its parameters are read, so the digest is a placeholder).
    const argon2i = '$argon2i$v=19$m=256,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$WCq5W2SLi4C0RtXyVFr1IMwyCDbzOlrzDqX4Th6dUwM';
    assert.equal((await fast()).needsRehash(argon2i), true);
  });

  test('needsRehash() is true for a hash below the OWASP policy', async () => {
    const stored = await (await fast()).hash('correct horse battery');
    assert.equal((await PasswordHasher.create({ params: OWASP_ARGON2ID })).needsRehash(stored), true);
  });

  test('hash() answers 503 with Retry-After at once when maxInFlight hashes are already running', async () => {
    const hasher = await PasswordHasher.create({ params: FAST_ARGON2, maxInFlight: 1 });
    const first = hasher.hash('correct horse battery');
    await assert.rejects(hasher.hash('another password'), (error: unknown) => {
      assert.ok(error instanceof DomainError);
      assert.equal(statusOf(error), 503);
      assert.match(String(answerTo(error).headers['Retry-After']), /^\d+$/);
      return true;
    });
    assert.match(await first, /^\$argon2id\$/);
  });

  test('hash() accepts work again once the hash in flight is done', async () => {
    const hasher = await PasswordHasher.create({ params: FAST_ARGON2, maxInFlight: 1 });
    await hasher.hash('correct horse battery');
    assert.match(await hasher.hash('another password'), /^\$argon2id\$/);
  });

  test('verify() shares the bound with hash()', async () => {
    const hasher = await PasswordHasher.create({ params: FAST_ARGON2, maxInFlight: 1 });
    const stored = await hasher.hash('correct horse battery');
    const running = hasher.hash('another password');
    await assert.rejects(hasher.verify(stored, 'correct horse battery'), { code: 'ERR_BUSY' });
    await running;
  });
});
