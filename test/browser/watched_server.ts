/**
 * The in-process test server, watched from the server's side, so what the browser scenarios assert is
 * observable whatever the engine (classic WebDriver has no network or console events):
 * - every navigation it answers, in order, as the address bar went through them: `303 /refresh?next=/order`;
 * - every CSP violation a page reports, through a test-only `Content-Security-Policy-Report-Only`
 *   header repeating the production policy with a `report-uri` (the production header is untouched);
 * - and, on request, a barrier that holds `/session/refresh` requests until several tabs have all sent theirs.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { securityHeaders } from '../../lib/defences/security_headers.ts';
import { startInProcess, type InProcessServer } from '../helpers/server.ts';

/** One navigation of a tab, as the address bar would go through it: `303 /order`. */
export type Hop = `${number} ${string}`;

/** Where the pages report CSP violations; answered here, never by the app. */
const CSP_REPORTS_PATH = '/test-only/csp-reports';

export interface WatchedServer extends InProcessServer {
  /** Every document request answered so far (navigations and form posts), in order. Empty it at will. */
  readonly hops: Hop[];
  /** CSP violations reported by any page so far. */
  readonly cspReports: string[];
  /** The names of the cookies each navigation carried, by its URL (the latest of each). */
  readonly cookiesSent: Map<string, string[]>;
  /**
   * Holds the next `count` requests to `/session/refresh` until all of them have arrived, then lets
   * them in together: a race the tabs are sure to run. Resolves with how many arrived before `timeoutMs`.
   */
  holdRefreshes(count: number, timeoutMs?: number): Promise<number>;
}

export async function startWatched(options: Parameters<typeof startInProcess>[0] = {}): Promise<WatchedServer> {
  const server = await startInProcess(options);
  const hops: Hop[] = [];
  const cspReports: string[] = [];
  const cookiesSent = new Map<string, string[]>();
  /** The barrier `holdRefreshes` sets: the requests waiting at it, and who to tell when it opens. */
  let held: { count: number; waiting: (() => void)[]; opened(arrived: number): void } | undefined;

  const reportOnly = `${securityHeaders('127.0.0.1')['Content-Security-Policy']}; report-uri ${CSP_REPORTS_PATH}`;
  const httpsServer = server.running.server;
  const app = httpsServer.listeners('request') as RequestListener[];
  httpsServer.removeAllListeners('request');
  httpsServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === CSP_REPORTS_PATH && req.method === 'POST') {
      void readCspReport(req).then((report) => {
        cspReports.push(report);
        res.writeHead(204).end();
      });
      return;
    }
    if (isDocumentRequest(req) && !req.url?.includes('/test-only/')) {
      res.once('finish', () => hops.push(`${res.statusCode} ${req.url}`));
      cookiesSent.set(req.url ?? '', (req.headers.cookie ?? '').split(';').map((pair) => pair.split('=')[0]!.trim()).filter((name) => name !== ''));
    }
    res.setHeader('Content-Security-Policy-Report-Only', reportOnly);
    const pass = () => {
      for (const listener of app) listener.call(httpsServer, req, res);
    };
    if (held && req.url?.startsWith('/session/refresh')) {
      held.waiting.push(pass);
      if (held.waiting.length === held.count) release();
      return;
    }
    pass();
  });

  function release(): void {
    if (!held) return;
    const { waiting, opened } = held;
    held = undefined;
    for (const pass of waiting) pass();
    opened(waiting.length);
  }

  return {
    ...server,
    hops,
    cspReports,
    cookiesSent,
    holdRefreshes(count, timeoutMs = 10_000) {
      return new Promise((resolve) => {
        const timer = setTimeout(release, timeoutMs);
        held = {
          count,
          waiting: [],
          opened(arrived) {
            clearTimeout(timer);
            resolve(arrived);
          },
        };
      });
    },
  };
}

/**
 * A navigation or a form post, not a stylesheet or a favicon: Fetch Metadata says so
 * (`Sec-Fetch-Dest: document`), which all three engines send.
 */
function isDocumentRequest(req: IncomingMessage): boolean {
  return req.headers['sec-fetch-dest'] === 'document';
}

/** A `report-uri` report (CSP Level 2 §4.4): `{"csp-report": {...}}`, as `application/csp-report`. */
async function readCspReport(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  try {
    const report = (JSON.parse(body) as { 'csp-report': Record<string, string> })['csp-report'];
    return `${report['effective-directive'] ?? report['violated-directive']} refused ${report['blocked-uri'] || 'inline code'} on ${report['document-uri']}`;
  } catch {
    return `an unreadable CSP report: ${body.slice(0, 200)}`;
  }
}
