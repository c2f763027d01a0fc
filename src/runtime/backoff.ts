// Per-item exponential back-off, as client-go's ItemExponentialFailureRateLimiter.

/** Options of {@link ItemBackoff}: delays in milliseconds. */
export interface BackoffOptions {
  /** Delay after the first failure; default 5 ms. */
  baseMs?: number;
  /** Upper bound of any delay; default 1000 s. */
  maxMs?: number;
}

/** Default delay after the first failure (client-go's 5 ms). */
export const DEFAULT_BACKOFF_BASE_MS = 5;
/** Default upper bound of a delay (client-go's 1000 s). */
export const DEFAULT_BACKOFF_MAX_MS = 1_000_000;

/**
 * Tracks failures per key: the n-th call of `when(key)` (n from 0) returns `base * 2^n`, capped at
 * `max`, until `forget(key)` resets the key. Keys that are never forgotten are kept in memory.
 */
export class ItemBackoff {
  readonly #base: number;
  readonly #max: number;
  readonly #failures = new Map<string, number>();

  constructor(opts: BackoffOptions = {}) {
    this.#base = opts.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.#max = opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    if (!(this.#base > 0) || !(this.#max >= this.#base)) {
      throw new RangeError(`backoff: need 0 < base (${this.#base}) <= max (${this.#max})`);
    }
  }

  /** Records one more failure of `key` and returns how long to wait before retrying it (ms). */
  when(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    return Math.min(this.#base * 2 ** n, this.#max);
  }

  /** Forgets the failures of `key`: its next `when` returns the base delay again. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many failures of `key` were recorded since it was last forgotten. */
  retries(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}
