/**
 * Building JWTs by hand, the way an attacker does: any header, any payload, any signature. Nothing
 * here validates anything, on purpose.
 */
import { createHmac, createSign, type KeyObject } from 'node:crypto';

export function base64url(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

/** The header and payload of a compact JWT, decoded without checking anything. */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header = '', payload = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')),
  };
}

/** Signs `signingInput` (`header.payload`) and returns the signature segment. */
export type Signer = (signingInput: string) => string;

/** HMAC with any hash and any key, the empty key included. */
export function hmac(hash: 'sha256' | 'sha384' | 'sha512', key: string | Uint8Array): Signer {
  return (input) => createHmac(hash, key).update(input).digest('base64url');
}

/** ES256 with the attacker's own key (IEEE P1363 r||s, as JWS wants). */
export function es256(privateKey: KeyObject): Signer {
  return (input) => createSign('sha256').update(input).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
}

export const unsigned: Signer = () => '';

/** A compact JWS from raw header and payload segments (already encoded) and a signer. */
export function compact(headerSegment: string, payloadSegment: string, sign: Signer): string {
  const input = `${headerSegment}.${payloadSegment}`;
  return `${input}.${sign(input)}`;
}

/** `token` with its header (0), payload (1) or signature (2) segment replaced, the others kept. */
export function replaceSegment(token: string, index: 0 | 1 | 2, segment: string): string {
  const segments = token.split('.');
  segments[index] = segment;
  return segments.join('.');
}

/** A compact JWS from a header and payload object. */
export function forge(header: Record<string, unknown>, payload: unknown, sign: Signer): string {
  return compact(base64url(JSON.stringify(header)), base64url(JSON.stringify(payload)), sign);
}
