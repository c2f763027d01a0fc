// Concurrency limits of the data API: at most `total` resource requests at once, and at most
// `perUser` of them for one user; a request beyond either is answered 429 with Retry-After at once
// (kubectl and client-go retry it), so a crowd of viewers queues in its clients, not in PostgreSQL.

/** Options of {@link ConcurrencyLimits}. */
export interface ConcurrencyLimitOptions {
  total: number;
  perUser: number;
}

/** Why a request was turned away. */
export type LimitRefusal = "total" | "user";

/** Counts requests in flight, in total and per user name. */
export class ConcurrencyLimits {
  readonly #total: number;
  readonly #perUser: number;
  #inFlight = 0;
  readonly #byUser = new Map<string, number>();

  constructor(options: ConcurrencyLimitOptions) {
    this.#total = options.total;
    this.#perUser = options.perUser;
  }

  /**
   * Takes a slot for `user`: a function that gives it back (call it once, when the answer is sent),
   * or why none is free.
   */
  acquire(user: string): (() => void) | LimitRefusal {
    const mine = this.#byUser.get(user) ?? 0;
    if (mine >= this.#perUser) return "user";
    if (this.#inFlight >= this.#total) return "total";
    this.#inFlight++;
    this.#byUser.set(user, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      const left = (this.#byUser.get(user) ?? 1) - 1;
      if (left <= 0) this.#byUser.delete(user);
      else this.#byUser.set(user, left);
    };
  }

  /** Requests in flight now. */
  inFlight(): number {
    return this.#inFlight;
  }

  /** Users with a request in flight now. */
  users(): number {
    return this.#byUser.size;
  }
}
