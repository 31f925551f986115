/**
 * `docs/http.md` is the project's reference of its HTTP interface. These tests hold it to the code:
 * its route table against the router `buildRouter` builds, its environment table against
 * `ENV_VARIABLES`, and the cookies and headers it shows against the ones the server sends.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DEFAULT_ACCESS_SECONDS } from '../../lib/sessions/access_tokens.ts';
import { ENV_VARIABLES } from '../../lib/config.ts';
import { CLEAR_ACCESS_COOKIE, CLEAR_REFRESH_COOKIE, accessCookie, refreshCookie } from '../../lib/sessions/cookies.ts';
import { CROSS_SITE_VARY } from '../../lib/defences/cross_site.ts';
import { securityHeaders } from '../../lib/defences/security_headers.ts';
import { loadStaticFiles } from '../../lib/http/static_files.ts';
import { buildRouter } from '../../lib/routes.ts';
import type { Services } from '../../lib/services.ts';
import { PUBLIC_DIR } from '../../lib/start_server.ts';
import { DEFAULT_LIFETIMES } from '../../lib/sessions/rules.ts';

const REFERENCE = readFileSync(new URL('../../docs/http.md', import.meta.url), 'utf8');

/** The rows of the first table in the `## <heading>` section, each as its trimmed cells (header and rule left out). */
function tableRows(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  assert.notEqual(start, -1, `docs/http.md has no "## ${heading}" section`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    if (line.startsWith('|')) rows.push(line.slice(1, line.lastIndexOf('|')).split('|').map((cell) => cell.trim()));
    else if (rows.length > 0) break; // the first table has ended
  }
  assert.ok(rows.length > 2, `the "${heading}" section of docs/http.md has no table`);
  return rows.slice(2);
}

/** The text of a cell that is one code span, such as `GET`; undefined for any other cell. */
function codeSpan(cell: string | undefined): string | undefined {
  return /^`([^`]+)`/.exec(cell ?? '')?.[1];
}

/** The path the reference writes for "each file in public/", in one row. */
const STATIC_FILE_PATH = '/<file>';

/** Each route of the reference as `METHOD /path`, its static-file row expanded to the files in `public/`. */
function documentedRoutes(markdown: string, staticPaths: Iterable<string>): string[] {
  return tableRows(markdown, 'Routes').flatMap(([methodCell, pathCell]) => {
    const method = codeSpan(methodCell);
    const path = codeSpan(pathCell);
    assert.ok(method !== undefined && path !== undefined, `a route row without a method and a path: | ${methodCell} | ${pathCell} |`);
    if (path !== STATIC_FILE_PATH) return [`${method} ${path}`];
    assert.ok(pathCell?.includes('`public/`'), `the ${STATIC_FILE_PATH} row must say it stands for the files in public/`);
    // public/index.html is served at `/`, which has a row of its own.
    return [...staticPaths].filter((file) => file !== '/').map((file) => `${method} ${file}`);
  });
}

async function routerRoutes(): Promise<{ routes: string[]; staticPaths: string[] }> {
  const staticFiles = await loadStaticFiles(PUBLIC_DIR);
  // The handlers are only listed, never called, so they need no services.
  const router = buildRouter({} as Services, staticFiles);
  return { routes: [...router.routes()].map(({ method, path }) => `${method} ${path}`), staticPaths: [...staticFiles.keys()] };
}

describe('docs/http.md', () => {
  test('documents every route the router has, and no route it lacks', async () => {
    const { routes, staticPaths } = await routerRoutes();
    assert.ok(staticPaths.length > 0, 'public/ has files to serve');
    const documented = documentedRoutes(REFERENCE, staticPaths);
    assert.deepEqual(documented.filter((route) => !routes.includes(route)), [], 'documented, but the router has no such route');
    assert.deepEqual(routes.filter((route) => !documented.includes(route)), [], 'the router has these routes, but docs/http.md does not document them');
    assert.equal(new Set(documented).size, documented.length, 'each route is documented once');
  });

  test('lists exactly the environment variables the server reads', () => {
    const documented = tableRows(REFERENCE, 'Environment').map(([name]) => codeSpan(name));
    assert.deepEqual([...documented].sort(), [...ENV_VARIABLES].sort());
  });

  test('shows the session cookies exactly as the server sets and clears them', () => {
    const shown = [
      accessCookie('<JWT>', DEFAULT_ACCESS_SECONDS),
      refreshCookie('<refresh-token>', DEFAULT_LIFETIMES.refreshMs / 1000),
      CLEAR_ACCESS_COOKIE,
      CLEAR_REFRESH_COOKIE,
    ];
    for (const cookie of shown) assert.ok(REFERENCE.includes(`\nSet-Cookie: ${cookie}\n`), `docs/http.md does not show: Set-Cookie: ${cookie}`);
  });

  test('shows the refresh-token state machine as docs/session-lifecycle.md draws it, row for row, in at most six rows', () => {
    const lifecycle = readFileSync(new URL('../../docs/session-lifecycle.md', import.meta.url), 'utf8');
    const drawn = tableRows(lifecycle, 'Rotation and reuse detection');
    assert.ok(drawn.length <= 6, `${drawn.length} rows`);
    assert.deepEqual(tableRows(REFERENCE, 'Refresh tokens'), drawn);
  });

  test('shows the security headers and Vary with the values the server sends', () => {
    for (const [name, value] of Object.entries({ ...securityHeaders('example.com'), Vary: CROSS_SITE_VARY })) {
      const row = tableRows(REFERENCE, 'Headers').find(([header]) => header?.startsWith(`\`${name}`));
      assert.ok(row !== undefined, `the Headers table has no ${name} row`);
      assert.ok(row.join(' ').includes(String(value)), `the ${name} row does not show ${String(value)}`);
    }
  });
});
