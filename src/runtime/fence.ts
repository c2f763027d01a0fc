// Leader fencing: the time until which this replica may act, moved forward by each lease renewal.
import { inCauseChain } from "./cause.ts";

/** Thrown instead of a write or a statement once this replica may no longer act (its lease may have passed to another). */
export class FencedError extends Error {
  constructor(message = "this replica no longer holds the leader lease; refusing to act") {
    super(message);
    this.name = "FencedError";
  }
}

/** True if `err` is a FencedError or wraps one in its `cause` chain. */
export function isFenced(err: unknown): boolean {
  return inCauseChain(err, FencedError);
}

/**
 * Tracks until when this replica may act. A renewal whose request was *sent* at `t` lets it act until
 * `t + renewDeadline`; others take over no earlier than `t + leaseDuration`, and every statement of
 * this process is cut off by the server after its statement_timeout, so with
 * renewDeadline + statementTimeout < leaseDuration nothing it started can still run when a new leader
 * begins. `check()` is called synchronously right before every write or statement.
 */
export class Fence {
  #validUntil: number;
  readonly #clock: () => number;

  /** A fence that starts closed; `open: true` starts it open for good (no leader election). */
  constructor(options: { open?: boolean; clock?: () => number } = {}) {
    this.#validUntil = options.open === true ? Number.POSITIVE_INFINITY : 0;
    this.#clock = options.clock ?? Date.now;
  }

  /** Records a successful acquire or renew whose request was sent at `sentAt` (ms), valid for `forMs`. */
  extend(sentAt: number, forMs: number): void {
    this.#validUntil = Math.max(this.#validUntil, sentAt + forMs);
  }

  /** Closes the fence for good (leadership lost or released). */
  close(): void {
    this.#validUntil = 0;
  }

  /** True while this replica may act. */
  isOpen(): boolean {
    return this.#clock() < this.#validUntil;
  }

  /** Throws FencedError unless this replica may act. */
  check(): void {
    if (!this.isOpen()) throw new FencedError();
  }
}
