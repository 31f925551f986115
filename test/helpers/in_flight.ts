/**
 * A request held in flight on purpose, for shutdown tests: a sign-up whose body is sent only when the
 * test says so.
 */
import { request } from 'node:https';

export interface HeldRequest {
  /** Sends the body; resolves with the response once it is complete. */
  finish(): Promise<{ status: number; location: string | undefined }>;
}

/**
 * Resolves once the server holds the request and waits for its body. `Expect: 100-continue` makes the
 * server say when that is (RFC 9110 §10.1.1), so a signal sent next lands while the request is in
 * flight, not before it arrived.
 */
export async function holdSignup(origin: string, ca: string, username: string): Promise<HeldRequest> {
  const body = new URLSearchParams({ username, password: 'correct horse battery' }).toString();
  const req = request(new URL('/signup', origin), {
    method: 'POST',
    ca,
    agent: false,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
  });
  const response = new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
  });
  response.catch(() => {}); // awaited by finish(); a failure before then must not go unhandled
  await new Promise((resolve, reject) => {
    req.once('continue', resolve);
    response.catch(reject);
  });
  return {
    finish() {
      req.end(body);
      return response;
    },
  };
}
