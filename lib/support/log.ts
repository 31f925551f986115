/**
 * One line per request, and errors with their stack. Only method, path, status and time are logged:
 * never a header, a query string, a body or a cookie, so no token or password can reach the log.
 */

export interface Logger {
  request(method: string, path: string, status: number, ms: number): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface LogSink {
  out(line: string): void;
  err(line: string): void;
}

/** How long a request line may wait to be written with others. */
const LOG_FLUSH_MS = 50;

/**
 * Request lines are gathered and written together every 50 ms, not once per request.
 *
 * Node writes to stdout synchronously when it is a file or a pipe (how a service manager or
 * `npm start > server.log` runs us): every `process.stdout.write` is a blocking write(2) on the one
 * thread that serves all requests. In the benchmark that write was about 5 % of the server's CPU time
 * on /order; one write per 50 ms costs next to nothing (see docs/benchmarks.md). Anything
 * pending is written out when the process exits, however it exits short of SIGKILL.
 */
function batchedWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const text = `${pending.join('\n')}\n`;
    pending = [];
    stream.write(text);
  };
  process.on('exit', flush);
  return (line) => {
    if (pending.length === 0) setTimeout(flush, LOG_FLUSH_MS).unref();
    pending.push(line);
  };
}

let stdio: LogSink | undefined;

/** Request and info lines on stdout, batched; warnings and errors on stderr at once, unbatched. */
function stdioSink(): LogSink {
  stdio ??= { out: batchedWriter(process.stdout), err: (line) => process.stderr.write(`${line}\n`) };
  return stdio;
}

export function createLogger(sink: LogSink = stdioSink()): Logger {
  const stamp = () => new Date().toISOString();
  return {
    request: (method, path, status, ms) => sink.out(`${stamp()} ${method} ${path} ${status} ${ms.toFixed(1)}ms`),
    info: (message) => sink.out(message),
    warn: (message) => sink.err(`${stamp()} warning: ${message}`),
    error: (message, error) => sink.err(`${stamp()} error: ${message}${error instanceof Error ? `\n${error.stack}` : ''}`),
  };
}

/** A logger that drops everything, for tests that do not look at the log. */
export const silentLogger: Logger = { request() {}, info() {}, warn() {}, error() {} };
