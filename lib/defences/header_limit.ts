/**
 * A cap on header lines that refuses a request reaching it, rather than judging it on what is left.
 *
 * Past `maxHeadersCount`, both runtimes drop the remaining header lines without a word (Node keeps
 * 2,000 raw lines by default, Deno 1,000 pairs): 2,000 filler lines before `Origin: https://evil.com`
 * made a cross-site POST look header-less, and so same-origin. A request that reaches the cap may have
 * lost lines, so it gets 431 (RFC 6585 §5) before anything looks at its headers.
 */
import type { IncomingMessage } from 'node:http';
import type { Guard } from '../http/listener.ts';
import { TooManyHeadersError } from '../errors.ts';

/**
 * Browsers send 10 to 25 header lines; 100 is Apache's `LimitRequestFields`. Set as the server's
 * `maxHeadersCount` too, so that neither runtime stores more (Node rounds up to its next batch of 32).
 */
export const MAX_HEADER_LINES = 100;

export function assertHeaderLinesUnderCap(req: IncomingMessage): void {
  if (req.rawHeaders.length / 2 >= MAX_HEADER_LINES) {
    throw new TooManyHeadersError(`Cannot read request: it has ${MAX_HEADER_LINES} header lines or more`);
  }
}

/** The guard: first in the list, before anything reads a header the runtime may have dropped. */
export const refuseTooManyHeaders: Guard = (request) => assertHeaderLinesUnderCap(request.req);
