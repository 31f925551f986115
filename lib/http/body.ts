/**
 * Reading a POST body into a flat object of string fields, from the two encodings a form or a script
 * sends: `application/x-www-form-urlencoded` and `application/json`.
 *
 * Every way a body can be wrong ends in an error of `../errors.ts` with a message saying what is wrong; nothing
 * else is thrown. The result has no prototype, so a field named `__proto__` is just a name.
 */
import type { IncomingMessage } from 'node:http';
import { BodyTooLargeError, InvalidInputError, LengthRequiredError, UnsupportedMediaTypeError } from '../errors.ts';

/** Form fields by name: strings only, no prototype. */
export type Fields = Record<string, string>;

/** 16 KiB holds any honest sign-up or login form many times over. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Our forms have three fields; a body with dozens is not one of them. */
export const MAX_FIELDS = 20;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads and parses the request body, checking encoding, type and size before reading a byte. */
export async function readFields(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Fields> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw new UnsupportedMediaTypeError(`Cannot read body: Content-Encoding "${encoding}" is not accepted, send it uncompressed`);
  }
  const mediaType = parseMediaType(req.headers['content-type']);
  const body = await readBody(req, limit);
  return parseFields(mediaType, body);
}

/** The two body formats we accept. */
export type BodyMediaType = 'application/x-www-form-urlencoded' | 'application/json';

/** Checks `Content-Type`: one of our two types, with no charset or `charset=utf-8`; 415 otherwise. */
export function parseMediaType(header: string | undefined): BodyMediaType {
  const [essence = '', ...parameters] = (header ?? '').split(';');
  const type = essence.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' && type !== 'application/json') {
    const shown = header === undefined ? 'none' : `"${header}"`;
    throw new UnsupportedMediaTypeError(`Cannot read body: Content-Type ${shown} is not supported, send application/x-www-form-urlencoded or application/json`);
  }
  for (const parameter of parameters) {
    const [key = '', value = ''] = parameter.split('=').map((part) => part.trim().toLowerCase());
    if (key === 'charset' && value.replace(/^"|"$/g, '') !== 'utf-8') {
      throw new UnsupportedMediaTypeError(`Cannot read body: charset "${value}" is not supported, send UTF-8`);
    }
  }
  return type;
}

/**
 * Collects the body up to `limit` bytes. A declared `Content-Length` over the limit is refused before
 * reading; a body that grows past it anyway is refused as soon as it does. Either way the 413 closes
 * the connection, so the rest of an oversized upload is never read.
 *
 * A chunked body is refused with 411 Length Required (RFC 9110 §15.5.12) before a byte is read.
 * Browsers send every form with a `Content-Length`; chunked framing only adds parser surface, and
 * Deno's parser puts no limit on chunk extensions (20 KB of them reached the sign-up handler).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (req.headers['transfer-encoding'] !== undefined) {
    throw new LengthRequiredError('Cannot read body: send it with a Content-Length, chunked bodies are not accepted');
  }
  const tooLarge = () => new BodyTooLargeError(`Cannot read body: it is larger than ${limit} bytes`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge();

  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw error;
    // The client went away or broke the framing mid-body; there is nobody left to answer properly.
    throw new InvalidInputError('Cannot read body: the request ended early', { cause: error });
  }
  return Buffer.concat(chunks, size);
}

/** Parses a complete body of the given type into fields. */
export function parseFields(mediaType: BodyMediaType, body: Uint8Array): Fields {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch (error) {
    throw new InvalidInputError('Cannot read body: it is not valid UTF-8', { cause: error });
  }
  return mediaType === 'application/json' ? parseJsonFields(text) : parseFormFields(text);
}

/**
 * `application/x-www-form-urlencoded` (WHATWG URL §5.1), but strict where `URLSearchParams` is lenient:
 * a broken percent-escape or one that decodes to invalid UTF-8 is an error, not a silent U+FFFD.
 */
export function parseFormFields(text: string): Fields {
  const fields: Fields = Object.create(null);
  let count = 0;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    if (++count > MAX_FIELDS) throw new InvalidInputError(`Cannot read form: more than ${MAX_FIELDS} fields`);
    const eq = pair.indexOf('=');
    const name = decodeFormComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeFormComponent(pair.slice(eq + 1));
    addField(fields, name, value);
  }
  return fields;
}

function decodeFormComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch (error) {
    throw new InvalidInputError('Cannot read form: a percent-escape is malformed or not UTF-8', { cause: error });
  }
}

/** A JSON object whose values are all strings. */
export function parseJsonFields(text: string): Fields {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError('Cannot read JSON: the body is not valid JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError('Cannot read JSON: the body must be an object of string fields');
  }
  const entries = Object.entries(parsed);
  if (entries.length > MAX_FIELDS) throw new InvalidInputError(`Cannot read JSON: more than ${MAX_FIELDS} fields`);
  const fields: Fields = Object.create(null);
  for (const [name, value] of entries) {
    if (typeof value !== 'string') throw new InvalidInputError(`Cannot read JSON: field "${name}" must be a string`);
    addField(fields, name, value);
  }
  assertNoRepeatedKey(text);
  return fields;
}

/**
 * `JSON.parse` silently keeps the last of a repeated key. Once the body is known to be a flat object
 * of strings, its string literals alternate key, value, so the keys can be read off in order.
 */
function assertNoRepeatedKey(text: string): void {
  const literals = text.match(/"(?:[^"\\]|\\.)*"/g) ?? [];
  const seen = new Set<string>();
  for (let i = 0; i < literals.length; i += 2) {
    const name = JSON.parse(literals[i]!) as string;
    if (seen.has(name)) throw new InvalidInputError(`Cannot read JSON: field "${name}" is repeated`);
    seen.add(name);
  }
}

function addField(fields: Fields, name: string, value: string): void {
  if (Object.hasOwn(fields, name)) throw new InvalidInputError(`Cannot read form: field "${name}" is repeated`);
  fields[name] = value;
}

/** The named field, or a 400 that names it. */
export function requireField(fields: Fields, name: string): string {
  const value = fields[name];
  if (value === undefined) throw new InvalidInputError(`Missing field "${name}"`);
  return value;
}
