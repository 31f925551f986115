/**
 * A map that keeps at most `max` entries, forgetting the least recently used first: for caches and
 * per-client state that an attacker could otherwise grow without bound by varying a key.
 *
 * With `weigh`, `max` bounds the entries' total weight instead of their number: a cache of pages
 * capped in bytes, whatever size each page is. An entry heavier than `max` alone is not kept.
 */
export class LruMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly #max: number;
  readonly #weigh: (key: K, value: V) => number;
  #weight = 0;

  constructor(max: number, weigh: (key: K, value: V) => number = () => 1) {
    this.#max = max;
    this.#weigh = weigh;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The total weight of the entries kept: their number, unless `weigh` was given. */
  get weight(): number {
    return this.#weight;
  }

  /** The value, now counted as just used. A `Map` keeps insertion order, so re-inserting moves it last. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.#weigh(key, value);
    if (weight > this.#max) return;
    this.#map.set(key, value);
    this.#weight += weight;
    for (const [oldest, old] of this.#map) {
      if (this.#weight <= this.#max) break;
      this.#map.delete(oldest);
      this.#weight -= this.#weigh(oldest, old);
    }
  }

  delete(key: K): void {
    const value = this.#map.get(key);
    if (value === undefined) return;
    this.#map.delete(key);
    this.#weight -= this.#weigh(key, value);
  }
}
