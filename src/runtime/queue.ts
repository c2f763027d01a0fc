// Work queue keyed by string, with client-go's semantics: coalescing, one in flight per key, delays, back-off.
import { ItemBackoff } from "./backoff.ts";
import type { BackoffOptions } from "./backoff.ts";

/** Receives the queue's metrics (see `queueObserver` in metrics.ts); every method is optional to honour. */
export interface QueueObserver {
  /** The number of keys waiting to be handed out changed to `n`. */
  depth(n: number): void;
  /** A key entered the queue (coalesced adds are not counted). */
  add(): void;
  /** A key was re-added with back-off (`addRateLimited`). */
  retry(): void;
  /** A key waited `seconds` between entering the queue and being handed out. */
  queueLatency(seconds: number): void;
  /** A key was processed for `seconds` (from `get` to `done`). */
  workDuration(seconds: number): void;
}

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Back-off of `addRateLimited`; defaults 5 ms .. 1000 s. */
  backoff?: BackoffOptions;
  /** Metrics hooks. */
  observer?: QueueObserver;
  /**
   * Most low-priority keys processed at once (default: no limit): the other workers stay free for
   * high-priority work arriving during a long resync, so a burst of new objects keeps its speed.
   */
  maxLowInFlight?: number;
}

interface Waiting {
  deadline: number;
  timer: NodeJS.Timeout;
  priority: Priority;
}

/**
 * Which lane a key waits in: `high` for work a person waits for (a new or changed object, a
 * regeneration, a deletion, a retry), `low` for the periodic resync and polls. High keys are always
 * handed out first; a low key added again as high moves to the high lane.
 */
export type Priority = "high" | "low";

/**
 * Two FIFOs of keys (see {@link Priority}) with the guarantees of client-go's workqueue:
 * - a key is in the queue at most once: adds of a queued key coalesce (keeping the higher priority);
 * - a key is never handed out twice concurrently: adding a key that is being processed marks it
 *   dirty, and it is queued again (once) when `done(key)` is called;
 * - `addAfter` keeps the earliest deadline per key; `addRateLimited` delays by per-key back-off.
 * Every key returned by `get()` must be passed to `done()` afterwards.
 * After `shutDown()`, adds are ignored and `get()` resolves `undefined` (queued keys are dropped:
 * the operator stops taking work; the next leader re-lists everything anyway).
 */
export class WorkQueue {
  readonly #lanes: Record<Priority, string[]> = { high: [], low: [] };
  /** The lane of each queued key, or of the re-queue due when a dirty key being processed is done. */
  readonly #priority = new Map<string, Priority>();
  #size = 0;
  readonly #dirty = new Set<string>();
  readonly #processing = new Map<string, number>();
  readonly #enqueuedAt = new Map<string, number>();
  readonly #waiting = new Map<string, Waiting>();
  readonly #getters: Array<{ resolve: (key: string | undefined) => void; highOnly: boolean }> = [];
  readonly #drainers: Array<() => void> = [];
  readonly #backoff: ItemBackoff;
  readonly #observer: QueueObserver | undefined;
  readonly #maxLowInFlight: number;
  /** Keys handed out from the low lane and not done yet. */
  readonly #lowInFlight = new Set<string>();
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.#backoff = new ItemBackoff(opts.backoff);
    this.#observer = opts.observer;
    this.#maxLowInFlight = Math.max(1, opts.maxLowInFlight ?? Infinity);
  }

  /**
   * Queues `key` now in the lane of `priority`, unless it is already queued (coalesced; a low key
   * moves to the high lane) or being processed (then it is marked dirty, and re-queued on `done`).
   */
  add(key: string, priority: Priority = "high"): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) {
      if (priority === "high" && this.#priority.get(key) === "low") {
        this.#priority.set(key, "high");
        // Queued in the low lane: add it to the high lane too; the low entry is skipped when reached.
        if (!this.#processing.has(key)) this.#lanes.high.push(key);
        this.#wake();
      }
      return;
    }
    this.#dirty.add(key);
    this.#priority.set(key, priority);
    this.#observer?.add();
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Queues `key` after `ms` milliseconds; a key already waiting keeps the earlier of both deadlines (and the higher priority). */
  addAfter(key: string, ms: number, priority: Priority = "high"): void {
    if (this.#shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key, priority);
      return;
    }
    const deadline = Date.now() + ms;
    const existing = this.#waiting.get(key);
    const lane: Priority = existing?.priority === "high" ? "high" : priority;
    if (existing !== undefined) {
      if (existing.deadline <= deadline) {
        existing.priority = lane;
        return;
      }
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      const waiting = this.#waiting.get(key);
      this.#waiting.delete(key);
      this.add(key, waiting?.priority ?? lane);
    }, ms);
    this.#waiting.set(key, { deadline, timer, priority: lane });
  }

  /**
   * Queues `key` after its back-off delay (which grows with each call until `forget`), in the lane of
   * `priority` (default high): a failed resync pass retries as resync work, so that a server failing
   * thousands of them never queues them ahead of a regeneration.
   */
  addRateLimited(key: string, priority: Priority = "high"): void {
    if (this.#shuttingDown) return;
    this.#observer?.retry();
    this.addAfter(key, this.#backoff.when(key), priority);
  }

  /** Resets the back-off of `key` (after a successful or terminal reconcile). */
  forget(key: string): void {
    this.#backoff.forget(key);
  }

  /** How many times `key` was re-added with back-off since it was last forgotten. */
  numRequeues(key: string): number {
    return this.#backoff.retries(key);
  }

  /**
   * Resolves with the next key, waiting while the queue is empty; the key counts as processing until
   * `done(key)`. With `highOnly`, only keys of the high lane are handed out (a worker kept free for
   * work a person waits for). Resolves `undefined` once the queue is shut down.
   */
  get(highOnly = false): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const lane = this.#nextLane();
    if (lane === "high" || (lane === "low" && !highOnly && this.#lowAllowed())) return Promise.resolve(this.#take(lane));
    return new Promise((resolve) => this.#getters.push({ resolve, highOnly }));
  }

  /** The lane `key` was handed out from while it is being processed (`high` for a key not being processed). */
  priorityOf(key: string): Priority {
    return this.#lowInFlight.has(key) ? "low" : "high";
  }

  /** Marks `key` as processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    const started = this.#processing.get(key);
    if (started === undefined) return;
    this.#processing.delete(key);
    this.#observer?.workDuration((performance.now() - started) / 1000);
    // A low key done frees a place for the next one (handed out by #wake, directly or through #push).
    const wasLow = this.#lowInFlight.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key);
    else if (wasLow && !this.#shuttingDown) this.#wake();
    if (this.#processing.size === 0) {
      for (const drained of this.#drainers.splice(0)) drained();
    }
  }

  /** Keys waiting to be handed out (not counting delayed keys nor keys being processed). */
  len(): number {
    return this.#size;
  }

  /** True once `shutDown` or `shutDownWithDrain` was called. */
  shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Stops the queue: ignores further adds, drops queued and delayed keys, wakes all waiting `get()`s with `undefined`. */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
    this.#lanes.high.length = 0;
    this.#lanes.low.length = 0;
    this.#size = 0;
    this.#priority.clear();
    this.#lowInFlight.clear();
    this.#dirty.clear();
    this.#enqueuedAt.clear();
    this.#observer?.depth(0);
    for (const getter of this.#getters.splice(0)) getter.resolve(undefined);
  }

  /**
   * Shuts down, then waits until every key handed out has been `done()`, at most `timeoutMs`.
   * Resolves true when drained, false on timeout.
   */
  async shutDownWithDrain(timeoutMs: number): Promise<boolean> {
    this.shutDown();
    if (this.#processing.size === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#drainers.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #push(key: string): void {
    this.#lanes[this.#priority.get(key) ?? "high"].push(key);
    this.#size++;
    this.#enqueuedAt.set(key, performance.now());
    this.#wake();
  }

  /** Hands queued keys to waiting `get()`s: a high key preferably to a high-only getter, a low key only to the others. */
  #wake(): void {
    for (;;) {
      const lane = this.#nextLane();
      if (lane === undefined || this.#getters.length === 0 || (lane === "low" && !this.#lowAllowed())) break;
      let index = lane === "high" ? this.#getters.findIndex((g) => g.highOnly) : -1;
      if (index < 0) index = this.#getters.findIndex((g) => !g.highOnly);
      if (index < 0) break;
      const [getter] = this.#getters.splice(index, 1);
      getter!.resolve(this.#take(lane));
    }
    this.#observer?.depth(this.#size);
  }

  /** True when `key` at the head of `lane` is really waiting there (entries of promoted or handed-out keys are stale). */
  #valid(key: string, lane: Priority): boolean {
    return this.#priority.get(key) === lane && this.#dirty.has(key) && !this.#processing.has(key);
  }

  /** The lane of the next key to hand out (high first), dropping stale entries on the way; undefined when empty. */
  #nextLane(): Priority | undefined {
    for (const lane of ["high", "low"] as const) {
      const queue = this.#lanes[lane];
      while (queue.length > 0 && !this.#valid(queue[0]!, lane)) queue.shift();
      if (queue.length > 0) return lane;
    }
    return undefined;
  }

  #lowAllowed(): boolean {
    return this.#lowInFlight.size < this.#maxLowInFlight;
  }

  #take(lane: Priority): string {
    const key = this.#lanes[lane].shift();
    if (key === undefined) throw new Error("work queue: no key to take");
    if (lane === "low") this.#lowInFlight.add(key);
    this.#size--;
    this.#priority.delete(key);
    const now = performance.now();
    const since = this.#enqueuedAt.get(key);
    this.#enqueuedAt.delete(key);
    if (since !== undefined) this.#observer?.queueLatency((now - since) / 1000);
    this.#observer?.depth(this.#size);
    this.#processing.set(key, now);
    this.#dirty.delete(key);
    return key;
  }
}
