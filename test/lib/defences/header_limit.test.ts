import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { MAX_HEADER_LINES, assertHeaderLinesUnderCap, refuseTooManyHeaders } from '../../../lib/defences/header_limit.ts';
import type { Request } from '../../../lib/http/listener.ts';

/** A request as the runtime hands it over: `rawHeaders` is name, value, name, value, ... */
const withLines = (lines: number) => ({ rawHeaders: Array.from({ length: lines }, (_, i) => [`X-${i}`, '1']).flat() }) as unknown as IncomingMessage;

test(`a request of ${MAX_HEADER_LINES - 1} header lines passes; one of ${MAX_HEADER_LINES}, which may have lost some, gets 431`, () => {
  assert.equal(MAX_HEADER_LINES, 100);
  assert.doesNotThrow(() => assertHeaderLinesUnderCap(withLines(MAX_HEADER_LINES - 1)));
  for (const lines of [MAX_HEADER_LINES, MAX_HEADER_LINES + 1, 2000]) {
    assert.throws(() => assertHeaderLinesUnderCap(withLines(lines)), { code: 'ERR_TOO_MANY_HEADERS', message: 'Cannot read request: it has 100 header lines or more' });
  }
});

test('the guard judges the request it is given', () => {
  assert.doesNotThrow(() => refuseTooManyHeaders({ req: withLines(10) } as Request));
  assert.throws(() => refuseTooManyHeaders({ req: withLines(MAX_HEADER_LINES) } as Request), { code: 'ERR_TOO_MANY_HEADERS' });
});
