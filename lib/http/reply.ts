/**
 * What a handler returns: a whole response, written in one place (`listener.ts`), so a handler can never
 * leave half a response on the wire when something fails midway.
 */

import { SafeHtml } from '../pages/html.ts';

export type HeaderValue = string | string[];
export type ReplyHeaders = Readonly<Record<string, HeaderValue>>;

export interface Reply {
  readonly status: number;
  readonly headers: ReplyHeaders;
  readonly body: string | Uint8Array;
}

/** Responses that set or read a session cookie must never be stored by a cache (RFC 9111 §5.2.2.5). */
export const NO_STORE: ReplyHeaders = Object.freeze({ 'Cache-Control': 'no-store' });

/** A page: markup from `pages.ts`, or one already encoded as UTF-8. */
export function htmlReply(status: number, page: SafeHtml | Uint8Array, headers: ReplyHeaders = {}): Reply {
  const body = page instanceof SafeHtml ? page.value : page;
  return { status, headers: { 'Content-Type': 'text/html; charset=utf-8', ...headers }, body };
}

export function jsonReply(status: number, value: unknown, headers: ReplyHeaders = {}): Reply {
  return { status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(value) };
}

/**
 * 303 See Other (RFC 9110 §15.4.4): the browser follows it with a GET whatever the original method
 * was, so the POSTed password is not sent again. 302 leaves the method change to the browser's
 * discretion (RFC 9110 §15.4.3); 307 would re-POST the form to the new URL.
 */
export function seeOther(location: string, headers: ReplyHeaders = {}): Reply {
  return { status: 303, headers: { Location: location, ...headers }, body: '' };
}

export function noContent(headers: ReplyHeaders = {}): Reply {
  return { status: 204, headers, body: '' };
}
