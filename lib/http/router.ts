/**
 * A router is a table from (method, path) to a handler: `add` fills it, `match` reads it. Paths are
 * matched exactly, byte for byte, with no decoding or normalising, so `/order`, `/order/` and
 * `/%6Frder` are three different paths and only the first one exists.
 */
import { MethodNotAllowedError, NotFoundError } from '../errors.ts';

export class Router<H> {
  readonly #routes = new Map<string, Map<string, H>>();

  /** Registers `handler` for `method` on `path`. A GET route answers HEAD as well. */
  add(method: string, path: string, handler: H): this {
    let methods = this.#routes.get(path);
    if (methods === undefined) this.#routes.set(path, (methods = new Map()));
    if (methods.has(method)) throw new Error(`Cannot add route: ${method} ${path} is already registered`);
    methods.set(method, handler);
    return this;
  }

  /** The handler for `method` on `path`; 404 for an unknown path, 405 with `Allow` for a wrong method. */
  match(method: string, path: string): H {
    const methods = this.#routes.get(path);
    if (methods === undefined) throw new NotFoundError(`Cannot find ${path}`);
    const handler = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined);
    if (handler !== undefined) return handler;
    const allowed = [...methods.keys()];
    if (methods.has('GET') && !methods.has('HEAD')) allowed.push('HEAD');
    throw new MethodNotAllowedError(`Cannot ${method} ${path}: use ${allowed.join(' or ')}`, allowed);
  }

  /** The handler for `method` on `path`, or undefined: for a lookup that must not throw. */
  find(method: string, path: string): H | undefined {
    const methods = this.#routes.get(path);
    return methods?.get(method) ?? (method === 'HEAD' ? methods?.get('GET') : undefined);
  }

  /** Every registered (method, path), in the order added: what `docs/http.md`'s route table is checked against. */
  *routes(): Generator<{ method: string; path: string }> {
    for (const [path, methods] of this.#routes) for (const method of methods.keys()) yield { method, path };
  }

  /** True when `path` has any route (used to log known paths only). */
  has(path: string): boolean {
    return this.#routes.has(path);
  }
}
