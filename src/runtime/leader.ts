// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { isNotFound } from "../kube/errors.ts";
import type { KubeRequester } from "../kube/rest.ts";
import { microTime, type Lease } from "../kube/types.ts";
import type { Logger } from "./logger.ts";
import { wakeableSleep } from "./sleep.ts";
import { errorMessage } from "./logger.ts";

/** The Lease calls the elector makes (tests wrap them to inject failures); errors are KubeApiErrors. */
export interface LeaseApi {
  /** The Lease, or undefined when it does not exist. */
  get(namespace: string, name: string): Promise<Lease | undefined>;
  create(lease: Lease): Promise<Lease>;
  /** Replaces the Lease named in `lease.metadata`, guarded by its resourceVersion (409 when it changed). */
  replace(lease: Lease): Promise<Lease>;
}

/** The {@link LeaseApi} of the coordination.k8s.io/v1 API through `client`. */
export function restLeaseApi(client: KubeRequester): LeaseApi {
  const leases = (namespace: string) => `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return {
    async get(namespace, name) {
      try {
        return await client.request<Lease>("GET", `${leases(namespace)}/${encodeURIComponent(name)}`, { context: `reading Lease ${namespace}/${name}` });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    create: (lease) => {
      const { namespace = "", name = "" } = lease.metadata ?? {};
      return client.request<Lease>("POST", leases(namespace), { body: lease, context: `creating Lease ${namespace}/${name}` });
    },
    replace: (lease) => {
      const { namespace = "", name = "" } = lease.metadata ?? {};
      return client.request<Lease>("PUT", `${leases(namespace)}/${encodeURIComponent(name)}`, { body: lease, context: `updating Lease ${namespace}/${name}` });
    },
  };
}

/** Options of {@link LeaderElector}; durations in milliseconds. */
export interface LeaderElectorOptions {
  api: LeaseApi;
  namespace: string;
  /** Lease name; default "workspacedb-operator". */
  name?: string;
  /** Holder identity; default `<hostname>_<random uuid>`. */
  identity?: string;
  /** How long a lease is valid after its last renewal, as observed by others; default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long; default 10 s (must be < leaseDuration). */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew; default 2 s. */
  retryPeriodMs?: number;
  log: Logger;
  /** Called once when this replica becomes the leader. */
  onStartedLeading: () => void;
  /** Called once when this replica lost the lease involuntarily (renewal failed past renewDeadline). Not called by `release()`. */
  onStoppedLeading: () => void;
  /** Called when the observed holder changes (including to this replica); informational. */
  onNewLeader?: (identity: string) => void;
  /**
   * Called after every successful acquire or renew with the time (ms) its first request was sent:
   * the lease cannot pass to another replica before that time plus leaseDuration (leader fencing).
   */
  onRenewed?: (sentAt: number) => void;
}

/**
 * Builds the default identity of a replica: host name (a pod's name) plus 8 random hex digits, new for
 * every process — a container restarted in the same pod (pid 1 again) is a new candidate, never the
 * holder it replaced, and the identity (every PostgreSQL session's application_name) stays short.
 */
export function defaultIdentity(): string {
  return `${hostname()}_${randomBytes(4).toString("hex")}`;
}

/**
 * Competes for a Lease. A free lease (no holder) or one whose record this replica has not seen change
 * for `leaseDuration` (local clock, as client-go, so clock skew does not matter) is taken; while
 * leading it is renewed every `retryPeriod`; if no renewal succeeded for `renewDeadline`, the replica
 * stops leading and calls `onStoppedLeading` (it never competes again: the process should restart).
 * Writes use the lease's resourceVersion (optimistic concurrency: a 409 just means "try again").
 */
export class LeaderElector {
  readonly identity: string;
  readonly #o: Required<Omit<LeaderElectorOptions, "onNewLeader" | "onRenewed" | "identity">> & Pick<LeaderElectorOptions, "onNewLeader" | "onRenewed">;
  readonly #log: Logger;
  #leading = false;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #observedKey = "";
  #observedAt = 0;
  #lastHolder = "";
  #lease: Lease | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.identity = opts.identity ?? defaultIdentity();
    this.#o = {
      name: "workspacedb-operator",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...opts,
    };
    if (!(this.#o.renewDeadlineMs < this.#o.leaseDurationMs) || !(this.#o.retryPeriodMs < this.#o.renewDeadlineMs)) {
      throw new RangeError("leader election: need retryPeriod < renewDeadline < leaseDuration");
    }
    this.#log = opts.log.child({ lease: `${opts.namespace}/${this.#o.name}`, identity: this.identity });
  }

  /** True while this replica holds the lease. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** Starts competing in the background; does nothing if already running. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /**
   * Stops competing; if leading, clears the holder so another replica takes over at once (without
   * calling `onStoppedLeading`). Safe to call when not started or already stopped.
   */
  async release(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    if (!this.#leading) return;
    this.#leading = false;
    const lease = this.#lease;
    if (lease?.spec?.holderIdentity !== this.identity) return;
    try {
      const now = microTime();
      const body: Lease = {
        ...lease,
        spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      };
      await this.#o.api.replace(body);
      this.#log.info("released the lease");
    } catch (err) {
      this.#log.warn("could not release the lease; others take over when it expires", { err: errorMessage(err) });
    }
  }

  async #run(): Promise<void> {
    this.#log.info("competing for the lease");
    while (this.#running && !this.#leading) {
      if (await this.#attempt()) {
        this.#leading = true;
        if (!this.#running) break; // release() is waiting to clear the holder
        this.#log.info("became the leader");
        this.#o.onStartedLeading();
        break;
      }
      await this.#sleep(this.#untilNextTry());
    }
    let lastRenew = Date.now();
    while (this.#running && this.#leading) {
      await this.#sleep(this.#o.retryPeriodMs);
      if (!this.#running) return;
      if (await this.#attempt()) {
        lastRenew = Date.now();
        continue;
      }
      if (Date.now() - lastRenew >= this.#o.renewDeadlineMs) {
        this.#leading = false;
        this.#running = false;
        this.#log.error("failed to renew the lease within renewDeadline, stopping leading", { renewDeadlineMs: this.#o.renewDeadlineMs });
        this.#o.onStoppedLeading();
        return;
      }
    }
  }

  /** One try to acquire or renew, bounded by renewDeadline; false on any failure. */
  async #attempt(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#o.renewDeadlineMs);
    });
    const sentAt = Date.now();
    try {
      const ok = await Promise.race([this.#tryAcquireOrRenew(), timeout]);
      if (ok) this.#o.onRenewed?.(sentAt);
      return ok;
    } catch (err) {
      const code = apiCode(err);
      if (code === 409) this.#log.debug("lease changed concurrently, retrying");
      else this.#log.warn("lease request failed", { err: errorMessage(err), code });
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { api, name, namespace } = this.#o;
    const now = microTime();
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    const current = await api.get(namespace, name);
    if (current === undefined) {
      const body: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec: { holderIdentity: this.identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      };
      this.#lease = await api.create(body);
      this.#observe(this.#lease);
      return true;
    }
    this.#observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const heldByOther = holder !== "" && holder !== this.identity;
    if (heldByOther && Date.now() < this.#observedAt + this.#o.leaseDurationMs) return false;
    const renewing = holder === this.identity && this.#leading;
    const body: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        acquireTime: renewing ? spec.acquireTime : now,
        leaseTransitions: renewing || holder === this.identity ? spec.leaseTransitions ?? 0 : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    this.#lease = await api.replace(body);
    this.#observe(this.#lease);
    return true;
  }

  /**
   * How long a candidate waits before its next try: a jittered retryPeriod, never longer (so a
   * renewal is seen at most retryPeriod after it happened), or exactly until another holder's lease
   * expires when that comes first. A holder that stopped renewing is thus replaced within
   * leaseDuration + retryPeriod of its last renewal (plus one API round trip).
   */
  #untilNextTry(): number {
    const poll = jitter(this.#o.retryPeriodMs);
    if (this.#lastHolder === "" || this.#lastHolder === this.identity) return poll;
    const expiresIn = this.#observedAt + this.#o.leaseDurationMs - Date.now();
    return expiresIn >= 0 && expiresIn < poll ? expiresIn + 1 : poll;
  }

  /** Remembers when the lease record was last seen to change (local clock). */
  #observe(lease: Lease): void {
    const holder = lease.spec?.holderIdentity ?? "";
    const key = `${holder}|${String(lease.spec?.renewTime)}|${lease.metadata?.resourceVersion ?? ""}`;
    if (key !== this.#observedKey) {
      this.#observedKey = key;
      this.#observedAt = Date.now();
    }
    if (holder !== this.#lastHolder) {
      this.#lastHolder = holder;
      if (holder !== "") {
        this.#log.info("observed new leader", { holder });
        this.#o.onNewLeader?.(holder);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    const sleep = wakeableSleep(ms);
    this.#wake = sleep.wake;
    return sleep.done;
  }

}

/** Between 80% and 100% of `ms`: candidates spread out, and none waits longer than `ms`. */
function jitter(ms: number): number {
  return ms * (0.8 + Math.random() * 0.2);
}

/** The HTTP status of a KubeApiError (or undefined). */
function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}
