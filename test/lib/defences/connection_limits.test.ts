import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FALLBACK_MAX_CONNECTIONS, MAX_REQUESTS_PER_CONNECTION, defaultMaxConnections, isLastRequest } from '../../../lib/defences/connection_limits.ts';
import { Duplex } from 'node:stream';

describe('defaultMaxConnections()', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'limits-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const limitsFile = async (openFiles: string) => {
    const file = path.join(dir, `limits-${openFiles.replace(/\s+/g, '-')}`);
    await writeFile(file, `Limit                     Soft Limit           Hard Limit           Units\nMax processes             63455                63455                processes\nMax open files            ${openFiles}                files\n`);
    return file;
  };

  test('keeps 64 descriptors of the soft limit for everything but connections', async () => {
    assert.equal(defaultMaxConnections(await limitsFile('256                  4096')), 192);
  });

  test('stops at 10,000 where the limit is higher or unlimited: memory runs out first', async () => {
    assert.equal(defaultMaxConnections(await limitsFile('1048576              1048576')), 10_000);
    assert.equal(defaultMaxConnections(await limitsFile('unlimited            unlimited')), 10_000);
  });

  test(`falls back to ${FALLBACK_MAX_CONNECTIONS} where the limit cannot be read (Deno, not Linux)`, () => {
    assert.equal(defaultMaxConnections(path.join(dir, 'missing')), FALLBACK_MAX_CONNECTIONS);
  });
});

test(`isLastRequest() is true from the ${MAX_REQUESTS_PER_CONNECTION}th request on a connection, for each connection apart`, () => {
  const [one, two] = [new Duplex(), new Duplex()];
  const answers = Array.from({ length: MAX_REQUESTS_PER_CONNECTION + 1 }, () => isLastRequest(one));
  assert.deepEqual(answers.map((last, i) => [i + 1, last]).filter(([, last]) => last), [[MAX_REQUESTS_PER_CONNECTION, true], [MAX_REQUESTS_PER_CONNECTION + 1, true]]);
  assert.equal(isLastRequest(two), false);
});
