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

const stdio: LogSink = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function createLogger(sink: LogSink = stdio): Logger {
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
