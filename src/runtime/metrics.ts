// Prometheus metrics of the operator: a private registry and the stable metric names it serves.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Metric } from "prom-client";
import type { Access } from "../api/types.ts";
import type { QueueObserver } from "./queue.ts";

/** Creates a registry (never prom-client's global one) holding Node's default process metrics. */
export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Every metric the operator exports, registered on one registry. Names are part of the contract:
 * - `workspacedb_reconcile_total{controller,result}`: result is success|error|requeue|terminal;
 * - `workspacedb_reconcile_duration_seconds{controller}` (histogram);
 * - `workspacedb_reconcile_errors_total{controller}`: reconciles that threw (error and terminal);
 * - `workqueue_depth{name}`, `workqueue_adds_total{name}`, `workqueue_retries_total{name}`,
 *   `workqueue_queue_duration_seconds{name}`, `workqueue_work_duration_seconds{name}`;
 * - `workspacedb_databases{ready}`: WorkspaceDatabases by readiness, and
 * - `workspacedb_credential_age_seconds{namespace,name,access}`: time since a password last changed,
 *   both computed at scrape time from the {@link WorkspaceSample}s (the informer's cache: nothing
 *   per object is kept for them between scrapes);
 * - `workspacedb_leader`: 1 while this replica holds the lease, else 0;
 * - `workspacedb_password_checks_total{reason}`: logins that proved a password (`change`: after a
 *   change or in a pass that changed something; `periodic`: the drift budget);
 * - `workspacedb_data_api_requests_total{resource,verb,code}`: data API answers (`resource` is
 *   `workspacetables` or `discovery`; `verb` get, list or preview);
 * - `workspacedb_data_api_preview_duration_seconds` (histogram): time to answer a preview;
 * - `workspacedb_databases_by_reason{reason}`, `workspacedb_databases_not_ready_oldest_seconds{reason}`,
 *   `workspacedb_regenerations_pending`, `workspacedb_regeneration_oldest_pending_seconds` and
 *   `workspacedb_database_server_ready{server,reason}`: the state alerts read, computed at scrape time
 *   (label values bounded: reasons are the contract's, servers are cluster-scoped objects only
 *   platform admins create);
 * - `workspacedb_drift_repairs_total{kind}`: repairs of changes made behind the operator's back
 *   (`kind` password, secret or sql, see {@link DRIFT_KINDS}).
 */
export interface Metrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileDuration: Histogram<"controller">;
  readonly reconcileErrors: Counter<"controller">;
  readonly queueDepth: Gauge<"name">;
  readonly queueAdds: Counter<"name">;
  readonly queueRetries: Counter<"name">;
  readonly queueDuration: Histogram<"name">;
  readonly workDuration: Histogram<"name">;
  readonly leader: Gauge;
  readonly passwordChecks: Counter<"reason">;
  readonly dataApiRequests: Counter<"resource" | "verb" | "code">;
  readonly dataApiPreviewDuration: Histogram;
  readonly driftRepairs: Counter<"kind">;
}

/**
 * What a drift repair put back: `password` a role's password set again from its Secret (a login
 * check failed), `secret` a credentials Secret (or its password) deleted after provisioning and made
 * again with a new password, `sql` statements applied to a workspace that was Ready for its spec
 * (privileges, role attributes, settings, a dropped database or role).
 */
export const DRIFT_KINDS = ["password", "secret", "sql"] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** One WorkspaceDatabase as the scrape-time gauges see it. */
export interface WorkspaceSample {
  namespace: string;
  name: string;
  ready: boolean;
  /** When each login's password last changed (RFC 3339), when known. */
  changedAt: Partial<Record<Access, string>>;
  /** The Ready condition's reason, one of the contract's (`Unknown` before the first pass; default). */
  reason?: string;
  /** Not Ready: since when (ms since the epoch; Ready's last transition, or the object's creation). */
  notReadySince?: number;
  /** A regeneration is asked for and not yet applied: since when this replica has seen it (ms). */
  regenerationSince?: number;
}

/** Where the scrape-time gauges read the WorkspaceDatabases from (called once per scrape). */
export type WorkspaceSamples = () => Iterable<WorkspaceSample>;

/** One DatabaseServer as the scrape-time gauges see it. */
export interface ServerSample {
  name: string;
  ready: boolean;
  /** The Ready condition's reason (`Unknown` before the first pass). */
  reason: string;
}

/** Where the scrape-time gauges read the DatabaseServers from (called once per scrape). */
export type ServerSamples = () => Iterable<ServerSample>;

/** The workspace gauges' figures, from one walk over the samples. */
interface WorkspaceSummary {
  ready: number;
  notReady: number;
  byReason: Map<string, number>;
  oldestNotReady: Map<string, number>;
  regenerationsPending: number;
  oldestRegeneration: number | undefined;
}

function summarize(samples: Iterable<WorkspaceSample>): WorkspaceSummary {
  const out: WorkspaceSummary = { ready: 0, notReady: 0, byReason: new Map(), oldestNotReady: new Map(), regenerationsPending: 0, oldestRegeneration: undefined };
  for (const ws of samples) {
    const reason = ws.reason ?? "Unknown";
    out.byReason.set(reason, (out.byReason.get(reason) ?? 0) + 1);
    if (ws.ready) out.ready++;
    else {
      out.notReady++;
      const since = ws.notReadySince;
      if (since !== undefined) out.oldestNotReady.set(reason, Math.min(out.oldestNotReady.get(reason) ?? since, since));
    }
    if (ws.regenerationSince !== undefined) {
      out.regenerationsPending++;
      out.oldestRegeneration = Math.min(out.oldestRegeneration ?? ws.regenerationSince, ws.regenerationSince);
    }
  }
  return out;
}

const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Defines every operator metric on `registry` (once per registry). */
export function createMetrics(registry: Registry, workspaces: WorkspaceSamples = () => [], servers: ServerSamples = () => []): Metrics {
  const registers = [registry];
  // One walk over the workspaces serves every workspace gauge of a scrape (each collects on its own).
  let memo: { at: number; summary: WorkspaceSummary } | undefined;
  const summary = (): WorkspaceSummary => {
    const now = Date.now();
    if (memo === undefined || now - memo.at > 500) memo = { at: now, summary: summarize(workspaces()) };
    return memo.summary;
  };
  const seconds = (since: number): number => Math.max(0, (Date.now() - since) / 1000);
  new Gauge({
    name: "workspacedb_databases",
    help: "WorkspaceDatabases by readiness (ready=true|false).",
    labelNames: ["ready"] as const,
    registers,
    collect() {
      const { ready, notReady } = summary();
      this.set({ ready: "true" }, ready);
      this.set({ ready: "false" }, notReady);
    },
  });
  new Gauge({
    name: "workspacedb_databases_by_reason",
    help: "WorkspaceDatabases by the reason of their Ready condition (Provisioned when Ready; Unknown before the first pass).",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of summary().byReason) this.set({ reason }, n);
    },
  });
  new Gauge({
    name: "workspacedb_databases_not_ready_oldest_seconds",
    help: "Seconds the longest not-Ready WorkspaceDatabase has been not Ready, by reason (no series for a reason no object has).",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      this.reset();
      for (const [reason, since] of summary().oldestNotReady) this.set({ reason }, seconds(since));
    },
  });
  new Gauge({
    name: "workspacedb_regenerations_pending",
    help: "WorkspaceDatabases with a password regeneration asked for and not yet applied.",
    registers,
    collect() {
      this.set(summary().regenerationsPending);
    },
  });
  new Gauge({
    name: "workspacedb_regeneration_oldest_pending_seconds",
    help: "Seconds since the oldest pending regeneration was first seen by this replica (0: none pending).",
    registers,
    collect() {
      const oldest = summary().oldestRegeneration;
      this.set(oldest === undefined ? 0 : seconds(oldest));
    },
  });
  new Gauge({
    name: "workspacedb_database_server_ready",
    help: "1 while a DatabaseServer is Ready, else 0; reason is its Ready condition's reason.",
    labelNames: ["server", "reason"] as const,
    registers,
    collect() {
      this.reset();
      for (const server of servers()) this.set({ server: server.name, reason: server.reason }, server.ready ? 1 : 0);
    },
  });
  // One series per credential: built at scrape time and dropped after it (prom-client's Gauge would
  // keep every series in memory until the next scrape).
  const credentialAge = {
    name: "workspacedb_credential_age_seconds",
    help: "Seconds since the password of a credential (read-write or read-only login) last changed.",
    type: "gauge",
    aggregator: "sum",
    get: async () => {
      const now = Date.now();
      const values: Array<{ labels: Record<string, string>; value: number }> = [];
      for (const ws of workspaces()) {
        for (const access of ["read-write", "read-only"] as const) {
          const at = Date.parse(ws.changedAt[access] ?? "");
          if (Number.isFinite(at)) values.push({ labels: { namespace: ws.namespace, name: ws.name, access }, value: Math.max(0, (now - at) / 1000) });
        }
      }
      return { name: credentialAge.name, help: credentialAge.help, type: credentialAge.type, aggregator: credentialAge.aggregator, values };
    },
    reset: () => undefined,
  };
  registry.registerMetric(credentialAge as unknown as Metric);
  return {
    registry,
    reconcileTotal: new Counter({
      name: "workspacedb_reconcile_total",
      help: "Reconciles by controller and result (success, error, requeue, terminal).",
      labelNames: ["controller", "result"] as const,
      registers,
    }),
    reconcileDuration: new Histogram({
      name: "workspacedb_reconcile_duration_seconds",
      help: "Duration of reconciles by controller.",
      labelNames: ["controller"] as const,
      buckets: durationBuckets,
      registers,
    }),
    reconcileErrors: new Counter({
      name: "workspacedb_reconcile_errors_total",
      help: "Reconciles that failed with an error (retried or terminal), by controller.",
      labelNames: ["controller"] as const,
      registers,
    }),
    queueDepth: new Gauge({ name: "workqueue_depth", help: "Keys waiting in the work queue.", labelNames: ["name"] as const, registers }),
    queueAdds: new Counter({ name: "workqueue_adds_total", help: "Keys added to the work queue.", labelNames: ["name"] as const, registers }),
    queueRetries: new Counter({ name: "workqueue_retries_total", help: "Keys re-added with back-off.", labelNames: ["name"] as const, registers }),
    queueDuration: new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "Seconds a key waits in the work queue before it is processed.",
      labelNames: ["name"] as const,
      buckets: durationBuckets,
      registers,
    }),
    workDuration: new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "Seconds spent processing a key taken from the work queue.",
      labelNames: ["name"] as const,
      buckets: durationBuckets,
      registers,
    }),
    leader: new Gauge({ name: "workspacedb_leader", help: "1 while this replica is the leader, else 0.", registers }),
    passwordChecks: new Counter({
      name: "workspacedb_password_checks_total",
      help: "Logins that proved a workspace password, by reason (change, periodic).",
      labelNames: ["reason"] as const,
      registers,
    }),
    dataApiRequests: new Counter({
      name: "workspacedb_data_api_requests_total",
      help: "Answers of the data API by resource (workspacetables, discovery), verb (get, list, preview) and HTTP code.",
      labelNames: ["resource", "verb", "code"] as const,
      registers,
    }),
    dataApiPreviewDuration: new Histogram({
      name: "workspacedb_data_api_preview_duration_seconds",
      help: "Time to answer a preview of the data API.",
      buckets: durationBuckets,
      registers,
    }),
    driftRepairs: driftRepairs(registers),
  };
}

/** The drift counter, every kind present from the start (so that `increase()` sees the first repair). */
function driftRepairs(registers: Registry[]): Counter<"kind"> {
  const counter = new Counter({
    name: "workspacedb_drift_repairs_total",
    help: "Changes made behind the operator's back that it repaired, by kind (password, secret, sql).",
    labelNames: ["kind"] as const,
    registers,
  });
  for (const kind of DRIFT_KINDS) counter.inc({ kind }, 0);
  return counter;
}

/** Adapts the workqueue metrics of `metrics` to a {@link QueueObserver} for the queue called `name`. */
export function queueObserver(metrics: Metrics, name: string): QueueObserver {
  const labels = { name };
  return {
    depth: (n) => metrics.queueDepth.set(labels, n),
    add: () => metrics.queueAdds.inc(labels),
    retry: () => metrics.queueRetries.inc(labels),
    queueLatency: (s) => metrics.queueDuration.observe(labels, s),
    workDuration: (s) => metrics.workDuration.observe(labels, s),
  };
}
