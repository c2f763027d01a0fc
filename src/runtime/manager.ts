// Owns the process's runtime parts: HTTP endpoints, leader election, informers, controllers, resync.
import type { Controller } from "./controller.ts";
import type { Fence } from "./fence.ts";
import type { HttpServer } from "./http.ts";
import { startHttpServer } from "./http.ts";
import { LeaderElector } from "./leader.ts";
import type { LeaderElectorOptions } from "./leader.ts";
import type { Logger } from "./logger.ts";
import { errorMessage } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

/** What the manager needs of an informer (any `Informer<T>` fits). */
export interface ManagedInformer {
  start(): void;
  stop(): Promise<void>;
  hasSynced(): boolean;
  waitForSync(timeoutMs?: number): Promise<void>;
  keys(): string[];
}

/** Options of {@link Manager}; durations in milliseconds. */
export interface ManagerOptions {
  log: Logger;
  metrics: Metrics;
  http: { port: number; host?: string };
  /** Lease settings; when absent, this replica leads at once (single replica, tests, local runs). */
  leaderElection?: Omit<LeaderElectorOptions, "log" | "onStartedLeading" | "onStoppedLeading">;
  /** Every key cached by an informer registered for resync is enqueued this often; 0 disables. */
  resyncPeriodMs: number;
  /** How long `stop()` waits for in-flight reconciles. */
  shutdownTimeoutMs: number;
  /**
   * Opened by each lease renewal for renewDeadline, closed when leadership is lost or released; the
   * controllers and clients check it (see fence.ts). Without leader election it is left as given.
   */
  fence?: Fence;
  /**
   * Called after leadership was lost and reconciling stopped. The process should exit non-zero so it
   * restarts clean (main.ts: `() => process.exit(1)`).
   */
  onLostLeadership: () => void;
  /**
   * Called once every informer synced, before the controllers start: what the caches show together
   * (a WorkspaceDatabase and its Secrets) can then choose the lane of its first pass.
   */
  onSynced?: () => void;
}

interface ManagedController {
  controller: Controller;
  resyncFrom: ManagedInformer[];
}

/**
 * Runs the operator's parts in order. `start()`: HTTP server first, then leader election; once leading,
 * informers start, and when all have synced, controllers start and the periodic resync begins.
 * `/readyz` is true while standing by as a non-leader (so rolling updates proceed) and, once leading,
 * only after every informer synced; `/healthz` is true until leadership is lost. `stop()` (SIGTERM):
 * stops taking work, waits for in-flight reconciles up to shutdownTimeout, stops informers, releases
 * the lease, closes the HTTP server. One-shot: a stopped manager cannot start again.
 */
export class Manager {
  readonly #o: ManagerOptions;
  readonly #log: Logger;
  readonly #informers: ManagedInformer[] = [];
  /** Informers that run on every replica from `start()` on (they feed what standbys serve too). */
  readonly #everyReplica = new Set<ManagedInformer>();
  readonly #controllers: ManagedController[] = [];
  #elector: LeaderElector | undefined;
  #http: HttpServer | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #leading = false;
  #controllersStarted = false;
  #lost = false;
  #stopping: Promise<void> | undefined;

  constructor(opts: ManagerOptions) {
    this.#o = opts;
    this.#log = opts.log.child({ component: "manager" });
  }

  /**
   * Registers an informer, started once this replica leads — or at `start()` on every replica with
   * `everyReplica` (for what standbys serve, e.g. the data API). Register everything before `start()`.
   */
  addInformer(informer: ManagedInformer, options: { everyReplica?: boolean } = {}): void {
    this.#informers.push(informer);
    if (options.everyReplica === true) this.#everyReplica.add(informer);
  }

  /**
   * Registers a controller, started once informers synced. Each resync enqueues into it every key
   * cached by the informers in `resyncFrom` (their keys must be the controller's keys).
   */
  addController(controller: Controller, resyncFrom: ManagedInformer[] = []): void {
    this.#controllers.push({ controller, resyncFrom });
  }

  /** The port the HTTP server listens on (after `start()`), useful with port 0. */
  httpPort(): number | undefined {
    return this.#http?.port;
  }

  /** True while this replica leads. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** Readiness as served on /readyz (see the class comment). */
  ready(): boolean {
    if (this.#lost || this.#stopping !== undefined) return false;
    if (!this.#leading) return true;
    return this.#controllersStarted && this.#informers.every((i) => i.hasSynced());
  }

  /** Starts the HTTP server and leader election; resolves once both are running (not once leading). */
  async start(): Promise<void> {
    this.#o.metrics.leader.set(0);
    this.#http = await startHttpServer({
      port: this.#o.http.port,
      host: this.#o.http.host,
      registry: this.#o.metrics.registry,
      healthz: () => !this.#lost,
      readyz: () => this.ready(),
    });
    this.#log.info("serving metrics and health probes", { port: this.#http.port });
    for (const i of this.#everyReplica) i.start();
    const le = this.#o.leaderElection;
    if (le === undefined) {
      void this.#startLeading();
      return;
    }
    const fence = this.#o.fence;
    this.#elector = new LeaderElector({
      ...le,
      ...(fence === undefined ? {} : { onRenewed: (sentAt: number) => fence.extend(sentAt, le.renewDeadlineMs ?? 10_000) }),
      log: this.#o.log,
      onStartedLeading: () => void this.#startLeading(),
      onStoppedLeading: () => void this.#lostLeadership(),
    });
    this.#elector.start();
  }

  /** Graceful stop (SIGTERM); idempotent, later calls return the same promise. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#log.info("stopping");
    await this.#stopWork();
    if (this.#elector !== undefined) {
      // Nothing may act once the lease is handed over.
      this.#o.fence?.close();
      await this.#elector.release();
    }
    this.#o.metrics.leader.set(0);
    await this.#http?.close();
    this.#log.info("stopped");
  }

  async #startLeading(): Promise<void> {
    if (this.#stopping !== undefined) return;
    this.#leading = true;
    this.#o.metrics.leader.set(1);
    this.#log.info("leading: starting informers", { informers: this.#informers.length });
    for (const i of this.#informers) if (!this.#everyReplica.has(i)) i.start();
    try {
      await Promise.all(this.#informers.map((i) => i.waitForSync()));
    } catch (err) {
      this.#log.error("informers did not sync", { err: errorMessage(err) });
      return;
    }
    if (this.#stopping !== undefined || this.#lost) return;
    this.#o.onSynced?.();
    this.#log.info("caches synced: starting controllers", { controllers: this.#controllers.length });
    for (const { controller } of this.#controllers) controller.start();
    this.#controllersStarted = true;
    this.#resync();
    if (this.#o.resyncPeriodMs > 0) {
      this.#resyncTimer = setInterval(() => this.#resync(), this.#o.resyncPeriodMs);
    }
  }

  /** Enqueues every cached key into the controllers that asked for it, in the low lane (events go first). */
  #resync(): void {
    let keys = 0;
    for (const { controller, resyncFrom } of this.#controllers) {
      for (const informer of resyncFrom) {
        for (const key of informer.keys()) {
          controller.enqueue(key, "low");
          keys++;
        }
      }
    }
    this.#log.debug("resync", { keys });
  }

  async #lostLeadership(): Promise<void> {
    this.#o.fence?.close();
    this.#lost = true;
    this.#o.metrics.leader.set(0);
    this.#log.error("lost leadership: stopping reconciles");
    await this.#stopWork();
    this.#o.onLostLeadership();
  }

  /** Stops resync, controllers (draining within shutdownTimeout) and informers. */
  async #stopWork(): Promise<void> {
    clearInterval(this.#resyncTimer);
    this.#resyncTimer = undefined;
    const drained = await Promise.all(this.#controllers.map(({ controller }) => controller.stop(this.#o.shutdownTimeoutMs)));
    if (drained.includes(false)) this.#log.warn("some reconciles did not finish within the shutdown timeout");
    await Promise.all(this.#informers.map((i) => i.stop()));
    this.#leading = false;
    this.#controllersStarted = false;
  }
}
