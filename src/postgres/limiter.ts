// A counting semaphore with two priorities: at most N tasks at once, work a person waits for first.
import type { Priority } from "../runtime/queue.ts";

/**
 * Runs at most `max` tasks at a time; later ones wait, `high` ones before any `low` one (each FIFO).
 * `low` tasks never hold more than `max - reservedForHigh` slots: a slow or stuck resync statement
 * cannot make a regeneration wait for a connection.
 */
export class Limiter {
  readonly #max: number;
  readonly #lowMax: number;
  #running = 0;
  readonly #waiting: Record<Priority, (() => void)[]> = { high: [], low: [] };

  /** `max` must be a positive integer; `reservedForHigh` defaults to 1 when `max` > 1, else 0. */
  constructor(max: number, reservedForHigh = max > 1 ? 1 : 0) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError("max must be a positive integer");
    if (!Number.isInteger(reservedForHigh) || reservedForHigh < 0 || reservedForHigh >= max) throw new RangeError("reservedForHigh must be an integer in [0, max)");
    this.#max = max;
    this.#lowMax = max - reservedForHigh;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot, by priority. */
  waiting(priority: Priority): number {
    return this.#waiting[priority].length;
  }

  /** Runs `task` when a slot is free for `priority` (default `high`) and resolves or rejects with its result. */
  async run<T>(task: () => Promise<T>, priority: Priority = "high"): Promise<T> {
    if (this.#mayStart(priority)) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting[priority].push(resolve));
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #mayStart(priority: Priority): boolean {
    if (priority === "high") return this.#running < this.#max;
    return this.#waiting.high.length === 0 && this.#running < this.#lowMax;
  }

  /** Frees a slot: it passes to the first high task waiting, else to a low one if low tasks may have it. */
  #release(): void {
    const high = this.#waiting.high.shift();
    if (high !== undefined) {
      high(); // the slot passes to it directly
      return;
    }
    if (this.#waiting.low.length > 0 && this.#running - 1 < this.#lowMax) {
      this.#waiting.low.shift()!();
      return;
    }
    this.#running--;
  }
}
