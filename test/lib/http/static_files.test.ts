import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { loadStaticFiles, matchesEtag } from '../../../lib/http/static_files.ts';

describe('loadStaticFiles()', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'static-files-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('maps each file of a known type to "/" + its name, with its bytes and Content-Type', async () => {
    await writeFile(path.join(dir, 'style.css'), 'body { color: red }');
    await writeFile(path.join(dir, 'app.js'), 'export {};');
    await writeFile(path.join(dir, 'logo.svg'), '<svg/>');
    await writeFile(path.join(dir, 'icon.PNG'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    await writeFile(path.join(dir, 'favicon.ico'), Buffer.from([0, 0, 1, 0]));
    await writeFile(path.join(dir, 'robots.txt'), 'User-agent: *');

    const files = await loadStaticFiles(dir);

    assert.deepEqual(
      Object.fromEntries([...files].map(([urlPath, file]) => [urlPath, file.contentType])),
      {
        '/style.css': 'text/css; charset=utf-8',
        '/app.js': 'text/javascript; charset=utf-8',
        '/logo.svg': 'image/svg+xml',
        '/icon.PNG': 'image/png',
        '/favicon.ico': 'image/x-icon',
        '/robots.txt': 'text/plain; charset=utf-8',
      },
    );
    assert.equal(Buffer.from(files.get('/style.css')!.body).toString(), 'body { color: red }');
  });

  test('ignores files of unknown types and every subfolder, even one named like a file', async () => {
    await writeFile(path.join(dir, 'style.css'), 'x');
    await writeFile(path.join(dir, 'secret.env'), 'JWT_SECRET=x');
    await writeFile(path.join(dir, 'README'), 'x');
    await writeFile(path.join(dir, 'page.php'), '<?php');
    await mkdir(path.join(dir, 'nested.css'));
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'inner.css'), 'x');

    const files = await loadStaticFiles(dir);

    assert.deepEqual([...files.keys()], ['/style.css']);
  });

  test('serves index.html at / only, as an HTML page', async () => {
    await writeFile(path.join(dir, 'index.html'), '<!doctype html>');

    const files = await loadStaticFiles(dir);

    assert.deepEqual([...files.keys()], ['/']);
    assert.equal(files.get('/')!.contentType, 'text/html; charset=utf-8');
  });

  test('gives the same strong ETag to the same content and another to different content', async () => {
    await writeFile(path.join(dir, 'a.css'), 'same');
    await writeFile(path.join(dir, 'b.css'), 'same');
    await writeFile(path.join(dir, 'c.css'), 'different');

    const files = await loadStaticFiles(dir);
    const reloaded = await loadStaticFiles(dir);

    const etag = files.get('/a.css')!.etag;
    assert.match(etag, /^"[\w-]{27}"$/);
    assert.equal(files.get('/b.css')!.etag, etag);
    assert.equal(reloaded.get('/a.css')!.etag, etag);
    assert.notEqual(files.get('/c.css')!.etag, etag);
  });
});

describe('matchesEtag()', () => {
  const etag = '"abc"';
  const cases: [ifNoneMatch: string | undefined, matches: boolean][] = [
    [undefined, false],
    ['', false],
    ['"abc"', true],
    ['*', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['"x",W/"abc"', true],
    [' "x" , "abc" ', true],
    ['"x", "y"', false],
    ['abc', false],
    ['"ABC"', false],
    ['"abcd"', false],
    ['W/"x"', false],
  ];
  for (const [ifNoneMatch, matches] of cases) {
    test(`${matches ? 'matches' : 'does not match'} If-None-Match: ${ifNoneMatch === undefined ? '(none)' : JSON.stringify(ifNoneMatch)}`, () => {
      assert.equal(matchesEtag(ifNoneMatch, etag), matches);
    });
  }
});
