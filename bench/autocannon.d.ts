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
  function autocannon(options: Record<string, unknown>, callback: (error: Error | null, result: autocannon.Result) => void): unknown;
  export default autocannon;
}
