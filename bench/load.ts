/**
 * A thin promise wrapper over autocannon: keep-alive connections, one request shape (with a fresh body
 * per request when asked), a summary of throughput and latency, and a count of each status code so a
 * run that silently measured redirects or errors is caught.
 *
 * Latency percentiles come from each response's own time, not from autocannon's summary: that one
 * keeps whole milliseconds, and a bare server's p99 of 2 ms against 3 ms would read as 1.5×.
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
  /** Latency in milliseconds (to the microsecond). */
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
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: options.url, connections: options.connections, pipelining: 1, duration: options.seconds, requests: [request] },
      (error: Error | null, result: autocannon.Result) => {
        if (error) return reject(error);
        const statuses: Record<string, number> = {};
        for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count;
        if (result.errors) statuses.errors = result.errors;
        if (result.timeouts) statuses.timeouts = result.timeouts;
        latencies.sort((a, b) => a - b);
        resolve({ rps: result.requests.total / result.duration, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), total: result.requests.total, statuses });
      },
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, milliseconds: number) => latencies.push(milliseconds));
  });
}

/** The value below which a fraction `q` of the sorted `values` lie, rounded to the microsecond. */
export function percentile(sorted: readonly number[], q: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return Math.round(value * 1000) / 1000;
}
