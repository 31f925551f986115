/**
 * Where to send the user after login or refresh: only ever a path on this site.
 */

export const DEFAULT_NEXT = '/order';

// One "/", then not a second "/" or "\", then printable ASCII only.
const SAME_ORIGIN_PATH = /^\/(?![/\\])[\x21-\x7e]*$/;

// Percent-encoded forms of the above: a control character anywhere, or "/" or "\" right after the
// first "/". Harmless while they stay encoded, but one layer that decodes the value once more (a
// proxy, a later hop) would turn them into a header split or a `//evil.example`.
const ENCODED_DANGER = /%(?:[01][0-9a-f]|7f)|^\/%(?:2f|5c)/i;

/**
 * `next` must be a path on this origin. `//evil.example` is a network-path reference that sends the
 * browser to another host, and browsers read `/\evil.example` the same way; control characters are
 * refused too (CR/LF would split the `Location` header, and URL parsers silently drop tab and newline),
 * and so are their percent-encoded forms.
 * Anything else becomes `/order`: this is what keeps login from being an open redirect
 * (OWASP Unvalidated Redirects and Forwards Cheat Sheet).
 */
export function safeNextPath(next: string | null | undefined): string {
  if (typeof next !== 'string' || next.length > 2048) return DEFAULT_NEXT;
  if (!SAME_ORIGIN_PATH.test(next) || ENCODED_DANGER.test(next)) return DEFAULT_NEXT;
  return next;
}
