/**
 * The files in `public/`, read once at start into memory. A request path is only ever a key into this
 * map and never reaches the disk, so `..` in any encoding cannot escape the folder.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface StaticFile {
  readonly body: Uint8Array;
  readonly contentType: string;
  /** A strong validator from the content (RFC 9110 §8.8.3), for `If-None-Match`. */
  readonly etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Maps `/style.css` to the file `public/style.css`, for each file in `dir` of a known type, and `/` to
 * `index.html` (served at `/` only, so a page has one address).
 */
export async function loadStaticFiles(dir: string): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[path.extname(entry.name).toLowerCase()];
    if (!entry.isFile() || contentType === undefined) continue;
    const body = await readFile(path.join(dir, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    files.set(entry.name === 'index.html' ? '/' : `/${entry.name}`, { body, contentType, etag });
  }
  return files;
}

/** True when an `If-None-Match` header lists this ETag (or `*`), so a 304 will do. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`;
  });
}
