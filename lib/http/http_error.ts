/** Extra response headers an error needs, such as `Allow` on a 405 or `Retry-After` on a 429. */
export type ErrorHeaders = Readonly<Record<string, string>>;

export interface HttpErrorOptions {
  cause?: unknown;
  headers?: ErrorHeaders;
  field?: string;
}

/**
 * An HTTP failure the client is meant to see: a status and a message that is safe to show.
 *
 * Handlers throw it; the one catch in `listener.ts` turns it into a page or `{"error": ...}`. Anything
 * else that is thrown is a bug: it is logged with its stack and the client only sees a bare 500.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly code = 'ERR_HTTP';
  readonly status: number;
  readonly headers: ErrorHeaders;
  /** The form field the message is about, so a page can show it next to that field. */
  readonly field: string | undefined;

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.status = status;
    this.headers = options.headers ?? {};
    this.field = options.field;
  }
}
