/**
 * A thin promise wrapper over autocannon: keep-alive connections, one request shape (with a fresh body
 * per request when asked), a summary of throughput and latency, and a count of each status code so a
 * run that silently measured redirects or errors is caught.
 */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** Builds each request's body (unique usernames); called per request. */
  body?: () => string;
}

export interface LoadResult {
  /** Responses per second over the whole run. */
  rps: number;
  /** Latency in milliseconds. */
  p50: number;
  p99: number;
  total: number;
  /** Responses by status code, plus `errors` and `timeouts`. */
  statuses: Record<string, number>;
}

export function load(options: LoadOptions): Promise<LoadResult> {
  const body = options.body;
  const request = {
    method: options.method ?? 'GET',
    path: options.path,
    headers: options.headers ?? {},
    ...(body && { setupRequest: (req: object) => ({ ...req, body: body() }) }),
  };
  return new Promise((resolve, reject) => {
    autocannon(
      { url: options.url, connections: options.connections, pipelining: 1, duration: options.seconds, requests: [request] },
      (error: Error | null, result: autocannon.Result) => {
        if (error) return reject(error);
        const statuses: Record<string, number> = {};
        for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count;
        if (result.errors) statuses.errors = result.errors;
        if (result.timeouts) statuses.timeouts = result.timeouts;
        resolve({ rps: result.requests.total / result.duration, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, statuses });
      },
    );
  });
}
