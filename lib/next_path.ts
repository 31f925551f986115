/**
 * Where to send the user after login or refresh: only ever a path on this site.
 */

export const DEFAULT_NEXT = '/order';

// One "/", then not a second "/" or "\", then printable ASCII only.
const SAME_ORIGIN_PATH = /^\/(?![/\\])[\x21-\x7e]*$/;

// A percent-encoded control character (%00-%1F, %7F): harmless while it stays encoded, but one layer
// that decodes the path once more (a proxy, a log, a later hop) turns %0D%0A back into a header split.
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;

/**
 * `next` must be a path on this origin. `//evil.example` is a network-path reference that sends the
 * browser to another host, and browsers read `/\evil.example` the same way; control characters are
 * refused too (CR/LF would split the `Location` header, and URL parsers silently drop tab and newline).
 * Anything else becomes `/order`: this is what keeps login from being an open redirect
 * (OWASP Unvalidated Redirects and Forwards Cheat Sheet).
 */
export function safeNextPath(next: string | null | undefined): string {
  if (typeof next !== 'string' || next.length > 2048 || !SAME_ORIGIN_PATH.test(next) || ENCODED_CONTROL.test(next)) return DEFAULT_NEXT;
  return next;
}
