/**
 * `npm run build`, and `npm start`'s first step (`prestart`): bundles `server.ts` and the modules it
 * imports into `dist/server.js`, plain JavaScript that Node runs without tsx. tsx compiles TypeScript
 * as it is loaded, on a loader thread of its own with its own V8 heap: about a third of a second and
 * 36 MiB on every start (docs/benchmarks.md, "Start-up"). Bundled once, before the start, it costs
 * about a tenth of a second and nothing while the server runs.
 *
 * Plain JavaScript, not TypeScript, because it runs before anything can compile TypeScript: run under
 * tsx, this script would spend on every `npm start` the very time the bundle saves.
 *
 * `npm run dev` stays on tsx (its watcher restarts the server on every change), `npm run start:deno`
 * runs `server.ts` itself (Deno compiles TypeScript natively), and the tests use tsx, as before.
 */
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const outdir = path.join(projectRoot, 'dist');

const { outputFiles } = await build({
  absWorkingDir: projectRoot,
  entryPoints: ['server.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20', // package.json's engines
  format: 'esm', // the modules are ES modules: top-level await, and import.meta.url below
  // Packages stay in node_modules and load as they do under tsx: argon2 is a native addon that cannot
  // be bundled, and the others are npm's to install and update, not copies frozen in dist/.
  packages: 'external',
  // dist/ is one folder below the project, as lib/ is, so lib/start_server.ts's
  // `new URL('../public', import.meta.url)` finds public/ from the bundle as it does from the source.
  outdir,
  // A module imported only when needed (the PostgreSQL stores, with `DATABASE_URL`) stays a file of its
  // own, loaded when needed. In one file its `import postgres` would be hoisted and run on every start.
  splitting: true,
  // Stack traces name lib/*.ts and their lines (npm start runs node --enable-source-maps).
  sourcemap: 'linked',
  logLevel: 'warning', // silent when all is well: npm start's output is the server's
  write: false, // written below, so that a server starting from dist/ meanwhile never reads half a file
});

// Two `npm start`s at once (two instances, docs/instances.md) both build. A file whose bytes did not
// change is left alone, and a changed one replaced whole by a rename, so neither start can load a file
// the other is halfway through writing. The chunks first, server.js last: it imports them by name.
const entry = path.join(outdir, 'server.js');
await mkdir(outdir, { recursive: true });
const inOrder = [...outputFiles].sort((a, b) => Number(a.path === entry) - Number(b.path === entry));
for (const file of inOrder) {
  const current = await readFile(file.path).catch(() => undefined);
  if (current?.equals(file.contents)) continue;
  const partial = `${file.path}.${process.pid}.partial`;
  await writeFile(partial, file.contents);
  await rename(partial, file.path);
}
// Chunks are named by a hash of their content: those of earlier builds are removed, not left to pile up.
const built = new Set(outputFiles.map((file) => path.basename(file.path)));
for (const name of await readdir(outdir)) {
  if (!built.has(name) && !name.endsWith('.partial')) await rm(path.join(outdir, name), { force: true });
}
