/**
 * The one place a failure becomes a response: each error code of `../errors.ts` has its status and
 * headers here, and its message becomes a page, or `{"error": ...}` for a client that asked for JSON.
 */
import { STATUS_CODES } from 'node:http';
import { BusyError, DomainError, MethodNotAllowedError, TooManyRequestsError, type ErrorCode } from '../errors.ts';
import type { SafeHtml } from '../pages/html.ts';
import { errorPage } from '../pages/pages.ts';
import type { Logger } from '../support/log.ts';
import { NO_STORE, htmlReply, jsonReply, type Reply, type ReplyHeaders } from './reply.ts';

/** Only errors that can reach a client have a status; the others stop the start (config, damaged files). */
const STATUS: Readonly<Partial<Record<ErrorCode, number>>> = {
  ERR_INVALID_INPUT: 400,
  ERR_NOT_SIGNED_IN: 401,
  ERR_REFRESH: 401,
  ERR_CROSS_SITE: 403,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_USERNAME_TAKEN: 409,
  ERR_LENGTH_REQUIRED: 411,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_TOO_MANY_REQUESTS: 429,
  ERR_TOO_MANY_HEADERS: 431,
  ERR_STORAGE: 503,
  ERR_SESSION_NOT_STARTED: 503,
  ERR_BUSY: 503,
};

/** What a storage failure tells the client: the cause (a path, a database error) is the operator's. */
const STORAGE_MESSAGE = 'Cannot save right now: storage is unavailable, try again shortly';

/** Seconds a client waits before retrying a write that storage refused. */
const STORAGE_RETRY_SECONDS = 5;

/**
 * The challenge every 401 carries. RFC 9110 §15.5.2: a 401 "MUST send a WWW-Authenticate header field
 * containing at least one challenge applicable to the target resource". No registered scheme
 * (IANA's HTTP Authentication Scheme Registry) describes "sign in with a form, get a cookie", so this
 * uses the `Cookie` scheme of draft-broyer-http-cookie-auth (an expired draft, never a standard): it
 * names the form that signs in and the cookie that carries the session, which is what a client needs
 * to know. Browsers only prompt for schemes they implement (Basic, Digest, ...), so this unknown one
 * shows no login dialog: the page in the body is what a person sees.
 */
export function signInChallenge(realm: string, cookieName: string): string {
  return `Cookie realm="${realm}", form-action="/login", cookie-name="${cookieName}"`;
}

/** An error a client may see: its status, the message to show, and the form field it is about. */
export interface ClientError {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly field: string | undefined;
}

export interface ErrorReplyOptions {
  /** The client asked for JSON (`Accept: application/json`). */
  readonly wantsJson: boolean;
  /** A route's own page for its failures (the form with the error beside a field); the generic page otherwise. */
  readonly page?: (error: ClientError) => SafeHtml | undefined;
  /** `WWW-Authenticate` for a 401. */
  readonly challenge: string;
  /** Set-Cookie values a 401 from a refresh sends, clearing the refresh cookie that failed. */
  readonly clearOnRefreshFailure: readonly string[];
  readonly log: Pick<Logger, 'error'>;
  /** Said in the log line of an unexpected failure: `POST /signup`. */
  readonly request: string;
}

/** The status a client is answered with for `error`; undefined for anything but a client-facing domain error. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof DomainError ? STATUS[error.code] : undefined;
}

export function errorReply(error: unknown, options: ErrorReplyOptions): Reply {
  const status = statusOf(error);
  if (!(error instanceof DomainError) || status === undefined) {
    options.log.error(`${options.request} failed`, error);
    const message = 'Something went wrong on our side';
    return options.wantsJson ? jsonReply(500, { error: message }, NO_STORE) : htmlReply(500, errorPage(500, 'Internal Server Error', message), NO_STORE);
  }
  // A failure underneath (a disk that refused a write) is the operator's to see, not the client's.
  if (error.code === 'ERR_STORAGE') options.log.error(`${options.request} answered 503`, error);
  const message = error.code === 'ERR_STORAGE' ? STORAGE_MESSAGE : error.message;
  const field = 'field' in error && typeof error.field === 'string' ? error.field : undefined;
  const headers = { ...NO_STORE, ...headersFor(error, options) };
  if (options.wantsJson) return jsonReply(status, { error: message, ...(field && { field }) }, headers);
  const clientError: ClientError = { status, code: error.code, message, field };
  const page = options.page?.(clientError) ?? errorPage(status, STATUS_CODES[status] ?? 'Error', message);
  return htmlReply(status, page, headers);
}

function headersFor(error: DomainError, options: ErrorReplyOptions): ReplyHeaders {
  if (error instanceof MethodNotAllowedError) return { Allow: error.allowed.join(', ') };
  if (error instanceof TooManyRequestsError || error instanceof BusyError) return { 'Retry-After': String(error.retryAfterSeconds) };
  switch (error.code) {
    case 'ERR_NOT_SIGNED_IN':
      return { 'WWW-Authenticate': options.challenge };
    case 'ERR_REFRESH':
      return { 'WWW-Authenticate': options.challenge, 'Set-Cookie': [...options.clearOnRefreshFailure] };
    case 'ERR_STORAGE':
    case 'ERR_SESSION_NOT_STARTED':
      return { 'Retry-After': String(STORAGE_RETRY_SECONDS) };
    // The rest of the request was never read, or its headers may be incomplete: nothing more can be
    // read from this connection with confidence, so the answer closes it.
    case 'ERR_TOO_MANY_HEADERS':
    case 'ERR_LENGTH_REQUIRED':
    case 'ERR_BODY_TOO_LARGE':
      return { Connection: 'close' };
    default:
      return {};
  }
}
