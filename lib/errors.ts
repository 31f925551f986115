/**
 * Every error the server means to throw, each with a stable `code` to branch on (never the message).
 *
 * Domain code throws these and never chooses an HTTP status: `http/error_reply.ts` is the one place
 * that turns a code into a status, headers and a page or `{"error": ...}`. Anything thrown that is not
 * one of these is a bug: it is logged with its stack and the client sees a bare 500.
 */

export type ErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_CORRUPT_FILE'
  | 'ERR_STORAGE'
  | 'ERR_SESSION_NOT_STARTED'
  | 'ERR_BUSY'
  | 'ERR_INVALID_INPUT'
  | 'ERR_LENGTH_REQUIRED'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_TOO_MANY_HEADERS'
  | 'ERR_CROSS_SITE'
  | 'ERR_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_USERNAME_TAKEN'
  | 'ERR_NOT_SIGNED_IN'
  | 'ERR_REFRESH'
  | 'ERR_TOO_MANY_REQUESTS';

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name; // `StorageError: …` in a log line, whichever class was thrown
  }
}

/** A configuration mistake the operator must fix; the message names the variable or the file. */
export class ConfigError extends DomainError { readonly code = 'ERR_CONFIG'; }

/**
 * A stored file is damaged somewhere other than its last, torn record, or is not the shape its store
 * expects: the server refuses to start rather than guess what it held or overwrite it.
 */
export class CorruptFileError extends DomainError { readonly code = 'ERR_CORRUPT_FILE'; }

/** A write did not reach the disk or the database; nothing of it is kept in memory either. */
export class StorageError extends DomainError { readonly code = 'ERR_STORAGE'; }

/** The account was stored, but its first session could not be: "try again" would only meet "taken". */
export class SessionNotStartedError extends DomainError { readonly code = 'ERR_SESSION_NOT_STARTED'; }

/** More work is queued than is worth waiting for (load shedding); the client may retry after a while. */
export class BusyError extends DomainError {
  readonly code = 'ERR_BUSY';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A request, a body or a form field that is not what the server accepts; `field` names the form field. */
export class InvalidInputError extends DomainError {
  readonly code = 'ERR_INVALID_INPUT';
  readonly field: string | undefined;
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.field = options.field;
  }
}

/** A body sent without a Content-Length (chunked): its size could not be capped before reading. */
export class LengthRequiredError extends DomainError { readonly code = 'ERR_LENGTH_REQUIRED'; }

export class BodyTooLargeError extends DomainError { readonly code = 'ERR_BODY_TOO_LARGE'; }

export class UnsupportedMediaTypeError extends DomainError { readonly code = 'ERR_UNSUPPORTED_MEDIA_TYPE'; }

/** A request with so many header lines that the runtime may have dropped some of them. */
export class TooManyHeadersError extends DomainError { readonly code = 'ERR_TOO_MANY_HEADERS'; }

/** An unsafe request sent by a page of another site (CSRF). */
export class CrossSiteError extends DomainError { readonly code = 'ERR_CROSS_SITE'; }

export class NotFoundError extends DomainError { readonly code = 'ERR_NOT_FOUND'; }

export class MethodNotAllowedError extends DomainError {
  readonly code = 'ERR_METHOD_NOT_ALLOWED';
  readonly allowed: readonly string[];
  constructor(message: string, allowed: readonly string[]) {
    super(message);
    this.allowed = allowed;
  }
}

export class UsernameTakenError extends DomainError {
  readonly code = 'ERR_USERNAME_TAKEN';
  readonly field = 'username';
}

/** The request carries no valid session, or a login's name and password do not match. */
export class NotSignedInError extends DomainError { readonly code = 'ERR_NOT_SIGNED_IN'; }

/** How a refresh failed; each ends in "sign in again". */
export type RefreshFailure = 'unknown' | 'expired' | 'reused';

/** A refresh token that opens no session: the browser's copy of it is cleared. */
export class RefreshError extends DomainError {
  readonly code = 'ERR_REFRESH';
  readonly reason: RefreshFailure;
  constructor(reason: RefreshFailure) {
    super(reason === 'reused' ? 'This session was ended because its refresh token was used twice: sign in again' : 'Your session has ended: sign in again');
    this.reason = reason;
  }
}

/** A rate limit or a login backoff: the client must wait `retryAfterSeconds`. */
export class TooManyRequestsError extends DomainError {
  readonly code = 'ERR_TOO_MANY_REQUESTS';
  readonly retryAfterSeconds: number;
  constructor(message: string, waitMs: number) {
    super(message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  }
}
