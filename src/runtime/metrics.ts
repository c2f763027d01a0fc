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
 * - `workspacedb_data_api_preview_duration_seconds` (histogram): time to answer a preview.
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
}

/** One WorkspaceDatabase as the scrape-time gauges see it. */
export interface WorkspaceSample {
  namespace: string;
  name: string;
  ready: boolean;
  /** When each login's password last changed (RFC 3339), when known. */
  changedAt: Partial<Record<Access, string>>;
}

/** Where the scrape-time gauges read the WorkspaceDatabases from (called once per scrape). */
export type WorkspaceSamples = () => Iterable<WorkspaceSample>;

const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Defines every operator metric on `registry` (once per registry). */
export function createMetrics(registry: Registry, workspaces: WorkspaceSamples = () => []): Metrics {
  const registers = [registry];
  new Gauge({
    name: "workspacedb_databases",
    help: "WorkspaceDatabases by readiness (ready=true|false).",
    labelNames: ["ready"] as const,
    registers,
    collect() {
      let ready = 0;
      let notReady = 0;
      for (const ws of workspaces()) {
        if (ws.ready) ready++;
        else notReady++;
      }
      this.set({ ready: "true" }, ready);
      this.set({ ready: "false" }, notReady);
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
  };
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
