// What the benchmark reads: API requests by verb, PostgreSQL sessions and statements, RSS, operator metrics.
import { readFileSync, statSync } from "node:fs";
import pg from "pg";
import type { Ground } from "../../test/ground/index.ts";
import { sumMetric } from "../../test/integration/support/fixtures.ts";

/** Resources whose API requests count as the operator's. */
const RESOURCES = new Set(["workspacedatabases", "databaseservers", "secrets", "events", "namespaces", "leases", "customresourcedefinitions"]);
const READ_VERBS = new Set(["GET", "LIST"]);
const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A point-in-time reading of every counter the benchmark compares. */
export interface Counters {
  at: number;
  apiReads: number;
  apiWrites: number;
  /** PostgreSQL sessions ever opened (pg_stat_database.sessions, PostgreSQL 14+). */
  sessions: number;
  /** Data blocks PostgreSQL read from outside its shared buffers, and found in them (pg_stat_database). */
  blocksRead: number;
  blocksHit: number;
  /** Bytes of the statement log (statements are counted between two readings). */
  logOffset: number;
  /** API requests by "VERB resource[/subresource]" (reads and writes of our resources). */
  byKind: Map<string, number>;
}

/** Differences between two readings. */
export interface Delta {
  seconds: number;
  apiReads: number;
  apiWrites: number;
  sessions: number;
  blocksRead: number;
  blocksHit: number;
  statements: number;
  /** Non-zero API request counts by "VERB resource[/subresource]". */
  byKind: string[];
}

function requestsByKind(body: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "";
    const resource = /resource="([a-z]+)"/.exec(line)?.[1] ?? "";
    const sub = /subresource="([a-z]*)"/.exec(line)?.[1] ?? "";
    if (!(READ_VERBS.has(verb) || WRITE_VERBS.has(verb)) || !RESOURCES.has(resource)) continue;
    const key = `${verb} ${resource}${sub ? `/${sub}` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.split(" ").pop()));
  }
  return counts;
}

/** Reads the API server's request counters, PostgreSQL's session count and the statement log's size. */
export async function readCounters(ground: Ground): Promise<Counters> {
  const body = ground.apiServerGet ? (await ground.apiServerGet("/metrics")).body : "";
  const ours = (verbs: Set<string>) => sumMetric(body, "apiserver_request_total", (l) => verbs.has(l.verb ?? "") && RESOURCES.has(l.resource ?? ""));
  const client = new pg.Client({ connectionString: ground.postgres.superUrl });
  await client.connect();
  let sessions: number;
  let blocksRead: number;
  let blocksHit: number;
  try {
    const row = (await client.query<{ n: string; r: string; h: string }>("SELECT coalesce(sum(sessions), 0) AS n, coalesce(sum(blks_read), 0) AS r, coalesce(sum(blks_hit), 0) AS h FROM pg_stat_database")).rows[0];
    sessions = Number(row?.n ?? 0);
    blocksRead = Number(row?.r ?? 0);
    blocksHit = Number(row?.h ?? 0);
  } finally {
    await client.end();
  }
  const logFile = ground.postgres.logFile;
  return { at: Date.now(), apiReads: ours(READ_VERBS), apiWrites: ours(WRITE_VERBS), sessions, blocksRead, blocksHit, logOffset: logFile ? statSync(logFile).size : 0, byKind: requestsByKind(body) };
}

/** What happened between `a` and `b` (statements counted in the log, the benchmark's own excluded by application name). */
export function delta(ground: Ground, a: Counters, b: Counters, ignoreApplication = "wsdb-bench"): Delta {
  let statements = 0;
  const logFile = ground.postgres.logFile;
  if (logFile) {
    const text = readFileSync(logFile).subarray(a.logOffset, b.logOffset).toString("utf8");
    for (const line of text.split("\n")) {
      if (/ LOG: {2}(?:statement|execute [^:]*): /.test(line) && !line.includes(`[${ignoreApplication}]`)) statements++;
    }
  }
  return {
    seconds: (b.at - a.at) / 1000,
    apiReads: b.apiReads - a.apiReads,
    apiWrites: b.apiWrites - a.apiWrites,
    sessions: b.sessions - a.sessions,
    blocksRead: b.blocksRead - a.blocksRead,
    blocksHit: b.blocksHit - a.blocksHit,
    statements,
    byKind: [...b.byKind].map(([k, v]) => [k, v - (a.byKind.get(k) ?? 0)] as const).filter(([, v]) => v > 0).map(([k, v]) => `${k}: ${v}`),
  };
}

/** Resident set size and its peak (VmHWM) of a process, in MB. */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

const PROGRESS_METRICS = ["workspacedb_reconcile_total", "workqueue_depth", "nodejs_heap_size_used_bytes", "nodejs_heap_size_total_bytes", "nodejs_external_memory_bytes", "workspacedb_password_checks_total"];

/** The operator's reconcile passes of WorkspaceDatabases and its work queue depth. */
export async function operatorProgress(port: number): Promise<{ passes: number; depth: number; heapMb: number; heapTotalMb: number; externalMb: number; passwordChecks: number }> {
  // Only the metrics read here: a full scrape formats two series per object (10-17 ms at 2,000
  // objects), which polling a few times a second would add to the operator's own work.
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics?${PROGRESS_METRICS.map((m) => `name=${m}`).join("&")}`)).text();
  return {
    passes: sumMetric(text, "workspacedb_reconcile_total", (l) => l.controller === "workspacedatabase"),
    depth: sumMetric(text, "workqueue_depth", (l) => l.name === "workspacedatabase"),
    heapMb: sumMetric(text, "nodejs_heap_size_used_bytes") / 1e6,
    heapTotalMb: sumMetric(text, "nodejs_heap_size_total_bytes") / 1e6,
    externalMb: sumMetric(text, "nodejs_external_memory_bytes") / 1e6,
    passwordChecks: sumMetric(text, "workspacedb_password_checks_total"),
  };
}

/** The `q`-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Counts the objects of one namespace that show Ready=True, from a watch (no polling). */
export interface ReadyWatch {
  /** Resolves with the time (ms since the epoch) the `n`th object was seen Ready. */
  allReady(n: number, timeoutMs: number): Promise<number>;
  stop(): void;
}

/**
 * Watches the WorkspaceDatabases of `namespace` from now on. The floor and the operator are timed by
 * the same watch: a LIST of every object a few times a second would cost the API server (and the
 * machine's two cores) while the operator works, and not while the floor does.
 */
export async function watchReady(ground: Ground, namespace: string): Promise<ReadyWatch> {
  const path = `/apis/workspacedb.io/v1alpha1/namespaces/${namespace}/workspacedatabases`;
  const list = await ground.client.request<{ metadata: { resourceVersion: string }; items: ReadyObject[] }>("GET", path);
  const ready = new Set<string>();
  let lastReadyAt = Date.now();
  let waiter: { n: number; resolve: (at: number) => void } | undefined;
  const note = (obj: ReadyObject): void => {
    const isReady = obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
    if (isReady && !ready.has(obj.metadata.name)) {
      ready.add(obj.metadata.name);
      lastReadyAt = Date.now();
    } else if (!isReady) ready.delete(obj.metadata.name);
    if (waiter !== undefined && ready.size >= waiter.n) waiter.resolve(lastReadyAt);
  };
  for (const obj of list.items) note(obj);
  let failure: Error | undefined;
  let fail: (err: Error) => void = () => undefined;
  let stopped = false;
  const controller = await ground.client.watch(path, { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: false }, (type, object) => {
    if (type === "ADDED" || type === "MODIFIED") note(object as ReadyObject);
  }, (err) => {
    // A watch that ends before the last object is Ready ends the wait: the figure would be wrong.
    if (stopped) return;
    failure = new Error(`the watch of ${namespace} ended with ${ready.size} objects Ready${err instanceof Error ? `: ${err.message}` : ""}`);
    fail(failure);
  });
  return {
    allReady: (n, timeoutMs) => new Promise((resolve, reject) => {
      if (ready.size >= n) return resolve(lastReadyAt);
      if (failure !== undefined) return reject(failure);
      const timer = setTimeout(() => reject(new Error(`only ${ready.size} of ${n} Ready after ${timeoutMs / 1000} s`)), timeoutMs);
      fail = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      waiter = { n, resolve: (at) => { clearTimeout(timer); resolve(at); } };
    }),
    stop: () => {
      stopped = true;
      controller.abort();
    },
  };
}

interface ReadyObject {
  metadata: { name: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}
