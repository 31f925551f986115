/**
 * Where to send the user after login or refresh: only ever a path on this site.
 */

export const DEFAULT_NEXT = '/order';

// One "/", then printable ASCII only: no control characters (CR/LF would split the `Location` header,
// and URL parsers silently drop tab and newline), no spaces, nothing beyond ASCII.
const PRINTABLE_PATH = /^\/[\x21-\x7e]*$/;

// A control character percent-encoded, anywhere: harmless while it stays encoded, but one layer that
// decodes the value once more (a proxy, a later hop) would turn it into a header split.
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;

// In the path (not the query), the percent-encoded forms of ".", "/" and "\" and of "%" itself: a hop
// that decodes the path and then resolves it would see dot segments and slashes that are not here now
// ("/%2e%2e//evil.example", "/%252e%252e//evil.example" after two decodings). No page of ours needs them.
const ENCODED_PATH_SYNTAX = /%(?:2e|2f|5c|25)/i;

/**
 * `next` must be a path on this origin. `//evil.example` is a network-path reference that sends the
 * browser to another host, and browsers read `/\evil.example` the same way. Dot segments are resolved
 * here (RFC 3986 §5.2.4), and the result is checked again: `/.//evil.example` and `/a/..//evil.example`
 * look like paths but every URL parser resolves them to `//evil.example`. Anything else becomes
 * `/order`: this is what keeps login from being an open redirect (OWASP Unvalidated Redirects and
 * Forwards Cheat Sheet).
 */
export function safeNextPath(next: string | null | undefined): string {
  if (typeof next !== 'string' || next.length > 2048) return DEFAULT_NEXT;
  if (!PRINTABLE_PATH.test(next) || ENCODED_CONTROL.test(next)) return DEFAULT_NEXT;
  const queryAt = next.search(/[?#]/);
  const rawPath = queryAt === -1 ? next : next.slice(0, queryAt);
  // A backslash anywhere in the path: browsers read it as "/".
  if (rawPath.includes('\\') || ENCODED_PATH_SYNTAX.test(rawPath)) return DEFAULT_NEXT;
  const path = removeDotSegments(rawPath);
  // An empty segment ("//") anywhere: at the start it names another host, and further along one more
  // "/.." from a later hop would bring it to the start.
  if (!path.startsWith('/') || path.includes('//')) return DEFAULT_NEXT;
  return queryAt === -1 ? path : path + next.slice(queryAt);
}

/**
 * RFC 3986 §5.2.4 "Remove Dot Segments", for an absolute path: "." segments go, ".." takes the segment
 * before it away, and nothing climbs above the root.
 */
function removeDotSegments(path: string): string {
  const output: string[] = [];
  const segments = path.split('/').slice(1); // the path starts with "/": the first piece is empty
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') output.pop();
      if (last) output.push(''); // "/a/." and "/a/.." end in "/", as the RFC's algorithm leaves them
    } else {
      output.push(segment);
    }
  });
  return `/${output.join('/')}`;
}
