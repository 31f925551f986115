/**
 * The servers sections 1 and 2 of `npm run bench` put side by side, on each runtime: the project, the
 * Fastify server doing the same job, and the bare server sending the project's /order answer byte for
 * byte. All run at once (idle, a server costs nothing), so the rounds can take them in turn.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { httpsRequest } from '../scripts/support/https_client.ts';
import { RUNTIME_NAMES, type Runtime } from './plan.ts';
import { cookieValue, startProject, startYardstick, type TlsFiles } from './processes.ts';
import type { RecordedResponse } from './recorded_response.ts';

export type Kind = 'project' | 'fastify' | 'bare';
export const KIND_NAMES: Record<Kind, string> = { project: 'the project', fastify: 'Fastify', bare: 'the bare server' };

export interface Contender {
  readonly runtime: Runtime;
  readonly kind: Kind;
  /** `Fastify on Deno`. */
  readonly label: string;
  readonly url: string;
  /** The Cookie header that gets /order: its own user's token (the bare server, asking for none, gets the project's). */
  readonly cookie: string;
  cpuSeconds(): number;
  stop(): Promise<unknown>;
}

/** The user each server's /order page is rendered for: the same name, so the same bytes. */
const ORDER_USER = 'benchuser';
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** Signs `username` up on `url`; returns the `__Host-jwt=…` cookie of the 303. */
export async function signUp(url: string, ca: string, username: string, password: string): Promise<string> {
  const response = await httpsRequest(`${url}/signup`, { ca, method: 'POST', headers: FORM, body: new URLSearchParams({ username, password }).toString() });
  const jwt = cookieValue(response.setCookies, '__Host-jwt');
  if (response.status !== 303 || jwt === undefined) throw new Error(`signup on ${url} answered ${response.status} without a token: ${response.body}`);
  return `__Host-jwt=${jwt}`;
}

/**
 * On each runtime: the project (its data in `root`), one user signed up, its /order answer recorded,
 * and the two yardsticks replaying it. Refuses to go on if a yardstick answers anything else.
 */
export async function startContenders(root: string, tls: TlsFiles, secret: string, runtimes: readonly Runtime[], password: string): Promise<Contender[]> {
  const ca = await readFile(tls.certFile, 'utf8');
  const contenders: Contender[] = [];
  for (const runtime of runtimes) {
    const dir = path.join(root, `contenders-${runtime}`);
    const project = await startProject(path.join(dir, 'data'), tls, secret, { name: 'project', runtime });
    const label = (kind: Kind) => `${KIND_NAMES[kind]} on ${RUNTIME_NAMES[runtime]}`;
    contenders.push({ runtime, kind: 'project', label: label('project'), url: project.url, cookie: await signUp(project.url, ca, ORDER_USER, password), cpuSeconds: () => project.cpuSeconds(), stop: () => project.stop() });
    const projectCookie = contenders.at(-1)!.cookie;

    const page = await httpsRequest(`${project.url}/order`, { ca, headers: { Cookie: projectCookie } });
    if (page.status !== 200) throw new Error(`GET /order with a fresh cookie answered ${page.status}`);
    const recorded: RecordedResponse = {
      status: page.status,
      statusMessage: page.statusLine.split(' ').slice(2).join(' '),
      headers: page.rawHeaders,
      body: page.body,
      username: ORDER_USER,
    };
    const responseFile = path.join(dir, 'order-response.json');
    await writeFile(responseFile, JSON.stringify(recorded));

    for (const kind of ['fastify', 'bare'] as const) {
      const yardstick = await startYardstick(kind, runtime, { responseFile, tls, secret, logFile: path.join(dir, `${kind}.log`) });
      const cookie = kind === 'fastify' ? await signUp(yardstick.url, ca, ORDER_USER, password) : projectCookie;
      contenders.push({ runtime, kind, label: label(kind), url: yardstick.url, cookie, cpuSeconds: () => yardstick.cpuSeconds(), stop: () => yardstick.stop() });
      await assertSameAnswer(label(kind), yardstick.url, ca, cookie, recorded);
    }
  }
  return contenders;
}

/**
 * The yardstick's /order answer against the project's: the same status, body and headers (by name,
 * whatever their case and order; the date aside). A yardstick that answers otherwise measures something else.
 */
async function assertSameAnswer(label: string, url: string, ca: string, cookie: string, recorded: RecordedResponse): Promise<void> {
  const answer = await httpsRequest(`${url}/order`, { ca, headers: { Cookie: cookie } });
  const headerLines = (headers: [string, string][]) =>
    headers
      .filter(([name]) => name.toLowerCase() !== 'date')
      .map(([name, value]) => `${name.toLowerCase()}: ${value}`)
      .sort();
  const expected = [`${recorded.status} ${recorded.statusMessage}`, ...headerLines(recorded.headers), recorded.body];
  const actual = [`${answer.status} ${answer.statusLine.split(' ').slice(2).join(' ')}`, ...headerLines(answer.rawHeaders), answer.body];
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    const differ = actual.filter((line) => !expected.includes(line)).concat(expected.filter((line) => !actual.includes(line)).map((line) => `(missing) ${line}`));
    throw new Error(`${label} does not answer GET /order as the project does:\n${differ.map((line) => `  ${line.slice(0, 200)}`).join('\n')}`);
  }
}
