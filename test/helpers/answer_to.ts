/**
 * The answer a client gets for an error: what a test of a domain module checks when it means the HTTP
 * status and headers, through the one place that maps errors (`lib/http/error_reply.ts`).
 */
import { errorReply } from '../../lib/http/error_reply.ts';
import type { Reply } from '../../lib/http/reply.ts';

export function answerTo(error: unknown): Reply {
  return errorReply(error, { wantsJson: true, challenge: 'Cookie realm="test"', clearOnRefreshFailure: [], log: { error() {} }, request: 'TEST /' });
}
