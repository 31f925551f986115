/**
 * A map that keeps at most `max` entries, forgetting the least recently used first: for caches and
 * per-client state that an attacker could otherwise grow without bound by varying a key.
 */
export class LruMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
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
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) {
      const [oldest] = this.#map.keys();
      this.#map.delete(oldest as K);
    }
  }

  delete(key: K): void {
    this.#map.delete(key);
  }
}
