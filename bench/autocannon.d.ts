/** The slice of autocannon's API the benchmark uses (the package ships no types of its own). */
declare module 'autocannon' {
  namespace autocannon {
    interface Result {
      requests: { total: number; average: number };
      latency: { p50: number; p99: number; average: number };
      statusCodeStats: Record<string, { count: number }>;
      errors: number;
      timeouts: number;
      /** Seconds. */
      duration: number;
    }
  }
  /** Returns the running instance, which emits `response` (client, status code, bytes, milliseconds) per response. */
  function autocannon(options: Record<string, unknown>, callback: (error: Error | null, result: autocannon.Result) => void): import('node:events').EventEmitter;
  export default autocannon;
}
