/**
 * The answer the project gave to `GET /order`, recorded by `run.ts` and replayed by the yardsticks so
 * that they send what the project sends: `bare_server.ts` byte for byte (status line, headers, body),
 * `fastify_server.ts` its headers and its page with the signed-in user's name filled in.
 */
import { readFileSync } from 'node:fs';

export interface RecordedResponse {
  status: number;
  statusMessage: string;
  /** As sent: order, case and repeats kept. */
  headers: [name: string, value: string][];
  body: string;
  /** The user the page was rendered for: where `fastify_server.ts` puts the name of its own user. */
  username: string;
}

export function readRecordedResponse(file: string): RecordedResponse {
  return JSON.parse(readFileSync(file, 'utf8')) as RecordedResponse;
}

/**
 * Headers the runtime writes on every answer, the project's as the yardsticks': replayed, they would
 * be sent twice, or with the recording's date.
 */
const WRITTEN_BY_THE_RUNTIME = new Set(['date', 'connection', 'keep-alive']);

/** The recorded headers a server sets itself. */
export function replayedHeaders(response: RecordedResponse): [name: string, value: string][] {
  return response.headers.filter(([name]) => !WRITTEN_BY_THE_RUNTIME.has(name.toLowerCase()));
}
