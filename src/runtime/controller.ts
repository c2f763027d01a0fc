// Binds a work queue to a reconcile function: workers, retries with back-off, terminal errors, metrics.
import { randomUUID } from "node:crypto";
import type { BackoffOptions } from "./backoff.ts";
import { inCauseChain } from "./cause.ts";
import { isFenced, type Fence } from "./fence.ts";
import { withPriority } from "./lane.ts";
import type { Logger } from "./logger.ts";
import { errorMessage, keyFields } from "./logger.ts";
import type { Metrics } from "./metrics.ts";
import { queueObserver } from "./metrics.ts";
import { WorkQueue, type Priority } from "./queue.ts";

/** What a reconcile asks for besides success: `requeueAfter` (ms) reconciles the key again later (polling). */
export interface ReconcileResult {
  requeueAfter?: number;
}

/**
 * Drives the object named by `key` ("ns/name" or "name") toward its spec, re-reading the world each
 * time. Throw {@link TerminalError} for problems only a change of the object can fix; any other error
 * is retried with per-key exponential back-off. `log` carries namespace, name and reconcileID;
 * `priority` is the lane the key was taken from (`low`: a resync or a poll), which the pass and
 * everything it awaits also see (`currentPriority` in lane.ts).
 */
export interface Reconciler {
  reconcile(key: string, log: Logger, priority: Priority): Promise<ReconcileResult>;
}

/** An error that retrying cannot fix (invalid spec): the key is forgotten until the object changes. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

/** True if `err` is a {@link TerminalError} or wraps one in its `cause` chain. */
export function isTerminal(err: unknown): boolean {
  return inCauseChain(err, TerminalError);
}

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** Controller name: the `controller` label of metrics, the work queue's `name` label, a log field. */
  name: string;
  reconciler: Reconciler;
  log: Logger;
  /** Keys reconciled in parallel (never the same key twice at once); default 1. */
  workers?: number;
  /**
   * Further workers that take only high-priority keys (see queue.ts): work a person waits for never
   * waits for a resync pass to finish. Default 0.
   */
  highOnlyWorkers?: number;
  /**
   * Most workers on low-priority keys (resync, polls) at once; default half of `workers` (rounded
   * up): a burst of new objects during a long resync keeps most of the workers.
   */
  maxLowInFlight?: number;
  /** Back-off of failed keys; defaults 5 ms .. 1000 s. */
  backoff?: BackoffOptions;
  metrics?: Metrics;
  /** No pass starts while it is closed (this replica may no longer hold its lease); default: always open. */
  fence?: Fence;
}

/** How long a key waits when the fence refused its pass. */
const FENCED_RETRY_MS = 1_000;

/**
 * Reconciles keys from its own {@link WorkQueue} with `workers` concurrent workers. After a success
 * the key's back-off is forgotten (and it is re-queued after `requeueAfter` if given); after an error
 * it is re-queued with back-off; after a TerminalError it is forgotten. One-shot: once stopped, it
 * cannot be started again.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #reconciler: Reconciler;
  readonly #log: Logger;
  readonly #workers: number;
  readonly #highOnlyWorkers: number;
  readonly #metrics: Metrics | undefined;
  readonly #fence: Fence | undefined;
  #running: Promise<void>[] = [];

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.#reconciler = opts.reconciler;
    this.#log = opts.log.child({ controller: opts.name });
    this.#workers = Math.max(1, opts.workers ?? 1);
    this.#highOnlyWorkers = Math.max(0, opts.highOnlyWorkers ?? 0);
    this.#metrics = opts.metrics;
    this.#fence = opts.fence;
    this.queue = new WorkQueue({
      backoff: opts.backoff,
      maxLowInFlight: opts.maxLowInFlight ?? Math.ceil(this.#workers / 2),
      observer: opts.metrics ? queueObserver(opts.metrics, opts.name) : undefined,
    });
  }

  /**
   * Queues a key for reconciliation (coalesced with pending adds). `low` is for the periodic resync:
   * such keys never delay one queued `high` (the default). Usable before `start()`.
   */
  enqueue(key: string, priority: Priority = "high"): void {
    this.queue.add(key, priority);
  }

  /** Starts the workers; does nothing if already started. */
  start(): void {
    if (this.#running.length > 0) return;
    this.#log.info("starting controller", { workers: this.#workers, highOnlyWorkers: this.#highOnlyWorkers });
    for (let i = 0; i < this.#workers; i++) this.#running.push(this.#work(false));
    for (let i = 0; i < this.#highOnlyWorkers; i++) this.#running.push(this.#work(true));
  }

  /**
   * Stops taking work and waits up to `timeoutMs` for in-flight reconciles. Resolves true when all
   * finished, false if some were abandoned (they keep running but their results are ignored).
   */
  async stop(timeoutMs: number): Promise<boolean> {
    const drained = await this.queue.shutDownWithDrain(timeoutMs);
    if (!drained) this.#log.warn("abandoning in-flight reconciles", { timeoutMs });
    else await Promise.all(this.#running);
    this.#log.info("controller stopped", { drained });
    return drained;
  }

  async #work(highOnly: boolean): Promise<void> {
    for (;;) {
      const key = await this.queue.get(highOnly);
      if (key === undefined) return;
      try {
        await this.#process(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  async #process(key: string): Promise<void> {
    if (this.#fence !== undefined && !this.#fence.isOpen()) {
      this.queue.addAfter(key, FENCED_RETRY_MS);
      return;
    }
    const reconcileID = randomUUID();
    const log = this.#log.child({ ...keyFields(key), reconcileID });
    const started = performance.now();
    const priority = this.queue.priorityOf(key);
    let result: "success" | "error" | "requeue" | "terminal";
    try {
      const res = await withPriority(priority, () => this.#reconciler.reconcile(key, log, priority));
      this.queue.forget(key);
      if (res.requeueAfter !== undefined && res.requeueAfter > 0) {
        result = "requeue";
        // A poll: it waits behind work a person waits for.
        this.queue.addAfter(key, res.requeueAfter, "low");
      } else {
        result = "success";
      }
      log.debug("reconciled", { result, requeueAfter: res.requeueAfter });
    } catch (err) {
      if (isFenced(err)) {
        // Not the object's fault: this replica stopped acting in the middle of the pass.
        log.warn("pass stopped: this replica may no longer hold the lease", { err: errorMessage(err) });
        this.queue.addAfter(key, FENCED_RETRY_MS);
        return;
      }
      this.#metrics?.reconcileErrors.inc({ controller: this.name });
      if (isTerminal(err)) {
        result = "terminal";
        this.queue.forget(key);
        log.warn("reconcile failed, not retrying until the object changes", { err: errorMessage(err) });
      } else {
        result = "error";
        // In the lane it failed in: failed resync passes never go ahead of a regeneration.
        this.queue.addRateLimited(key, priority);
        log.error("reconcile failed, retrying", { err: errorMessage(err), retries: this.queue.numRequeues(key) });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.#metrics?.reconcileTotal.inc({ controller: this.name, result });
    this.#metrics?.reconcileDuration.observe({ controller: this.name }, seconds);
  }
}
