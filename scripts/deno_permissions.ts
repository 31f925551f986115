/**
 * The `deno run` command line for `server.ts`, with permission to touch exactly what the server
 * touches. The paths come from the same `readConfig` the server runs, so a custom `DATA_DIR` or
 * `TLS_CERT` is allowed, and nothing else is. `npm run start:deno` and the tests' launcher both use it.
 */
import { lookup } from 'node:dns/promises';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import path from 'node:path';
import { ENV_VARIABLES, readConfig, type Config } from '../lib/config.ts';
import { PROJECT_ROOT } from './support/project_root.ts';
import { ConfigError } from '../lib/errors.ts';
import { connectionCap } from '../lib/defences/connection_limits.ts';

/** The binary the `deno` dev dependency installs: no global Deno needed. */
export const DENO = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'deno');

/** napi-rs's loader reads it to tell glibc Linux from musl Linux, and so which addon to load. */
const LDD = '/usr/bin/ldd';

/** `deno run <permissions> server.ts` (or `script`: another script and its arguments), for the environment the server will see. */
export async function denoRunArgs(env: NodeJS.ProcessEnv, cwd = process.cwd(), script = [path.join(PROJECT_ROOT, 'server.ts')]): Promise<string[]> {
  return ['run', ...(await denoPermissions(env, cwd)), ...script];
}

/** One flag per kind of access; docs/deno.md says why each is needed. */
export async function denoPermissions(env: NodeJS.ProcessEnv, cwd = process.cwd()): Promise<string[]> {
  const allow = {
    ffi: argon2Addons(),
    read: [LDD],
    write: [] as string[],
    net: [] as string[],
    sys: [] as string[],
    env: [...ENV_VARIABLES],
  };
  const config = configOrRefused(env, cwd);
  if (config !== undefined) {
    const tlsFiles = [config.tlsCertFile, config.tlsKeyFile];
    // Existing TLS files are only read; missing ones are generated, and their folders created.
    const tlsFolders = tlsFiles.every((file) => existsSync(file)) ? [] : tlsFiles.map((file) => path.dirname(file));
    allow.read.push(path.join(PROJECT_ROOT, 'public'), config.dataDir, ...tlsFiles, ...tlsFolders);
    allow.write.push(config.dataDir, ...tlsFolders);
    allow.net.push(...(await listenAddresses(config.host, config.port)));
    if (config.databaseUrl !== undefined) allow.net.push(databaseAddress(config.databaseUrl));
    // DATA_DIR's lock (lib/storage/data_dir_lock.ts) names this host, and asks whether a stale lock's pid still runs.
    if (config.databaseUrl === undefined) allow.sys.push('hostname', 'getPriority');
  }
  return [
    '--no-prompt', // a server has nobody to ask: a missing permission fails at once, with Deno's message
    ...Object.entries(allow).flatMap(([name, values]) => (values.length === 0 ? [] : [`--allow-${name}=${flagValue(values)}`])),
    '--ignore-env', // every other variable reads as unset (the argon2 loader probes a few NAPI_RS_* ones)
  ];
}

/**
 * What the launcher adds to Deno's environment: `MAX_CONNECTIONS`, the cap the server would work out
 * from the descriptor limit if it could read it. Deno refuses `/proc/self/limits` to all but
 * `--allow-all`; the launcher runs under the same limit as the Deno it hands over to (`exec` keeps it),
 * so it reads the limit in its place (`descriptorLimit()`) and passes it here. Nothing where the limit
 * cannot be read (not Linux).
 */
export function denoEnvironment(env: NodeJS.ProcessEnv, cwd: string, limit: number | undefined): Record<string, string> {
  const config = configOrRefused(env, cwd);
  if (config === undefined || limit === undefined) return {};
  return { MAX_CONNECTIONS: String(connectionCap(config.maxConnections, limit).max) };
}

/**
 * The configuration, or `undefined` when the server will refuse it: it does so with its own message
 * as the first thing it does, so it needs no access beyond loading its modules and reading variables.
 */
function configOrRefused(env: NodeJS.ProcessEnv, cwd: string): Config | undefined {
  try {
    return readConfig(env, cwd);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/**
 * What `--allow-net` must name to listen on HOST:PORT. A host name such as `localhost` is looked up
 * first: Deno checks the name (the bare name when the port is 0), then each address it listens on.
 */
async function listenAddresses(host: string, port: number): Promise<string[]> {
  if (isIP(host) !== 0) return [hostPort(host, port)];
  const addresses = await lookup(host, { all: true });
  return [port === 0 ? host : hostPort(host, port), ...addresses.map(({ address }) => hostPort(address, port))];
}

/** DATABASE_URL's host and port (5432 unless it says otherwise): the one place the server connects to. */
function databaseAddress(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return hostPort(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 5432));
}

function hostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The argon2 addon npm installed for this platform, such as
 * `@node-rs/argon2-linux-x64-gnu/argon2.linux-x64-gnu.node`: the one native library Deno may load.
 */
function argon2Addons(): string[] {
  // node_modules/@node-rs: @node-rs/argon2 and, beside it, the package of binaries for this platform.
  const scope = path.dirname(path.dirname(createRequire(import.meta.url).resolve('@node-rs/argon2')));
  const addons: string[] = [];
  for (const name of readdirSync(scope).filter((entry) => entry.startsWith('argon2'))) {
    for (const file of readdirSync(path.join(scope, name))) if (file.endsWith('.node')) addons.push(path.join(scope, name, file));
  }
  if (addons.length === 0) throw new Error(`Cannot find the argon2 addon in ${scope}: run npm install`);
  return addons;
}

/** A flag's value: the values once each, comma-separated (Deno has no way to escape a comma in a path). */
function flagValue(values: readonly string[]): string {
  const withComma = values.find((value) => value.includes(','));
  if (withComma !== undefined) throw new Error(`Cannot run under Deno: "${withComma}" contains a comma, which a permission flag cannot express`);
  return [...new Set(values)].join(',');
}
