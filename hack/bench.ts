// The benchmark (npm run bench, hack/bench.sh): P1 provisioning vs a floor script, P2 regeneration during a resync,
// P3 resync cost, P4 memory, P5 restart, P6 regeneration while viewers page wide tables in the data API — each N
// on the test ground, as ratios and per-object figures.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import type { WorkspaceDatabase } from "../src/api/types.ts";
import { deriveDatabaseName } from "../src/postgres/naming.ts";
import { ServerConnection } from "../src/postgres/server.ts";
import { REPO_ROOT, startGround, stopGround } from "../test/ground/index.ts";
import { annotateWorkspace, clients, createWorkspace, ensureNamespace, loginFailure, readSecret, setupServer, withLogin } from "../test/integration/support/fixtures.ts";
import { prepareDataApi, registerDataApi, unregisterDataApi } from "../test/integration/support/data-api.ts";
import { createPki } from "../test/support/pki.ts";
import { startOperator, type OperatorProcess } from "../test/integration/support/operator.ts";
import { freePort, waitFor } from "../test/ground/procs.ts";
import { floorProvision, type FloorKube } from "./bench/floor.ts";
import { delta, operatorProgress, quantile, readCounters, rssOf, watchReady, type Delta } from "./bench/measure.ts";
import { cores, loadSample, readRuns, summarize, type RunRecord } from "./bench/summary.ts";
import { createWideTable, startViewers, viewerRbac } from "./bench/viewers.ts";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "100" },
    workers: { type: "string", default: "4" },
    regenerations: { type: "string", default: "20" },
    viewers: { type: "string", default: "64" },
    "wide-rows": { type: "string", default: "5000" },
    resync: { type: "string" },
    "heap-snapshot": { type: "string" },
    "node-options": { type: "string" },
    "malloc-arena-max": { type: "string" },
    "operator-env": { type: "string", multiple: true },
    "skip-floor": { type: "boolean", default: false },
    repeat: { type: "string", default: "1" },
    json: { type: "string" },
    logs: { type: "string" },
  },
});
const sizes = args.n.split(",").map(Number).filter((n) => n > 0);
/** P6: viewers paging at once (0: no P6), and the rows of the wide table they page through. */
const viewerCount = Number(args.viewers);
const wideRows = Number(args["wide-rows"]);
/** The chart's memory limit of the operator's container (values.yaml resources.limits.memory), MB. */
const CHART_MEMORY_LIMIT_MB = 384 * 1.048576;
const workers = Number(args.workers);
const out = (line = "") => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A P2 sample above this fails the run (after every figure is printed): a regeneration stalled. */
const P2_FAIL_MS = 5_000;

// --repeat N: N whole runs, one after the other, each its own process and ground; then the median and
// the worst run of every figure, every P2 sample and the machine's load.
const repeat = Number(args.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat ${args.repeat}: expected a positive integer`);
if (repeat > 1) {
  const dir = mkdtempSync(join(tmpdir(), "wsdb-bench-"));
  const rest: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--repeat") i++;
    else if (!argv[i]!.startsWith("--repeat=")) rest.push(argv[i]!);
  }
  const files: string[] = [];
  let failed = 0;
  for (let i = 1; i <= repeat; i++) {
    out(`##### run ${i} of ${repeat}`);
    const file = join(dir, `run-${i}.json`);
    const code = await new Promise<number>((resolve) => {
      spawn(process.execPath, [process.argv[1]!, ...rest, "--json", file], { stdio: "inherit", env: { ...process.env, WSDB_BENCH_RUN: String(i) } }).on("exit", (c, signal) => resolve(c ?? (signal === null ? 1 : 128)));
    });
    if (code !== 0) {
      failed++;
      out(`##### run ${i} ended with exit code ${code}`);
    }
    if (existsSync(file)) files.push(file);
    else out(`##### run ${i} recorded no figures`);
    out();
  }
  for (const line of summarize(readRuns(files))) out(line);
  if (failed > 0) out(`\n${failed} of ${repeat} runs failed (see above)`);
  out(`(records of each run: ${dir})`);
  process.exit(failed > 0 ? 1 : 0);
}

// What this run records for --json.
const record: RunRecord = { figures: [], p2Samples: {}, load: [loadSample("start")], cores: cores() };
const figure = (objects: number, name: string, value: number, unit: string) => record.figures.push({ objects, name, value, unit });

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Costs per object; `logins` (password checks, from the operator's metrics) are part of the sessions and also shown apart. */
function perObject(d: Delta, n: number, logins?: number): string {
  const f = (v: number) => (v / n).toFixed(2);
  const sessions = Math.max(0, d.sessions - 1);
  const apart = logins === undefined ? "" : ` (${f(sessions - logins)} admin, ${f(logins)} password-check logins)`;
  return `per object: ${f(d.apiReads)} API reads, ${f(d.apiWrites)} API writes, ${f(sessions)} PostgreSQL sessions${apart}, ${f(d.statements)} statements, ${f(d.blocksRead)} blocks read from outside PostgreSQL's buffers (${f(d.blocksHit)} found in them)` +
    (d.byKind.length > 0 ? `\n      API requests: ${d.byKind.join(", ")}` : "");
}

const ground = await startGround();
await setupServer("main");
const { core, custom } = clients();
const endpoint = { host: ground.postgres.host, port: ground.postgres.port, sslMode: "disable" };
out(`ground: kube-apiserver ${ground.apiServerUrl}, PostgreSQL ${ground.postgres.version}; ${workers} workers; N = ${sizes.join(", ")}`);

// Long enough for a full pass over every object between two resyncs.
const resyncMs = args.resync !== undefined ? Number(args.resync) * 1000 : Math.max(60_000, ...sizes.reduce((acc, n) => [...acc, (acc.at(-1) ?? 0) + n], [] as number[]).map((n) => n * 60));
const env = {
  NODE_ENV: "production",
  WSDB_LOG_LEVEL: "warn",
  WSDB_WORKERS: String(workers),
  WSDB_RESYNC_PERIOD: `${Math.round(resyncMs / 1000)}s`,
  // The default drift-check budget (the test operators' settings check every login at every resync).
  WSDB_POSTGRES_PASSWORD_CHECKS_PER_MINUTE: "60",
  WSDB_LEADER_ELECTION: "false",
};
const script = join(REPO_ROOT, "dist", "main.js");
// --node-options: NODE_OPTIONS of the operator only (V8 heap flags, say); --heap-snapshot DIR: the operator
// writes a heap snapshot there (after a full GC) at each steady state.
const nodeOptions = [args["node-options"] ?? "", args["heap-snapshot"] === undefined ? "" : `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${args["heap-snapshot"]}`];
if (nodeOptions.some((o) => o !== "")) Object.assign(env, { NODE_OPTIONS: nodeOptions.join(" ").trim() });
// --malloc-arena-max N: glibc's MALLOC_ARENA_MAX for the operator (fewer arenas, less fragmentation).
if (args["malloc-arena-max"] !== undefined) Object.assign(env, { MALLOC_ARENA_MAX: args["malloc-arena-max"] });
// --operator-env KEY=VALUE (repeatable): more environment of the operator (e.g. glibc's MALLOC_* tunables).
for (const pair of args["operator-env"] ?? []) {
  const at = pair.indexOf("=");
  if (at <= 0) throw new Error(`--operator-env ${pair}: expected KEY=VALUE`);
  Object.assign(env, { [pair.slice(0, at)]: pair.slice(at + 1) });
}
const port = await freePort();
Object.assign(env, { WSDB_METRICS_PORT: String(port) });
// P6: the data API served as the chart serves it (registered with the aggregation layer), with its defaults.
const pki = viewerCount > 0 ? createPki() : undefined;
const dataApiCa = await pki?.ca("bench-data-api-ca");
const dataApi = dataApiCa === undefined ? undefined : await prepareDataApi(dataApiCa);
if (dataApi !== undefined) Object.assign(env, dataApi.env);
/** Log files of every operator started (--logs DIR: copied there at the end). */
const operatorLogs: string[] = [];
/** Starts the operator and waits until it serves its metrics. */
async function launch(): Promise<OperatorProcess> {
  const op = startOperator(env, "bench-operator", script);
  operatorLogs.push(op.logFile);
  await waitFor("the operator's /metrics", async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).ok, 60_000);
  return op;
}
let operator = await launch();
if (dataApi !== undefined && dataApiCa !== undefined) await registerDataApi(dataApi.port, dataApiCa);
await sleep(5_000);
const idle = rssOf(operator.proc.child.pid!);
out(`P4 idle: operator RSS ${idle.rss.toFixed(0)} MB with no WorkspaceDatabase`);
figure(0, "P4 idle RSS", idle.rss, "MB");

/** Waits until the operator has passed over `objects` objects since it started and its queue stayed empty for 3 s. */
async function settle(objects: number): Promise<void> {
  for (let quiet = 0; quiet < 3;) {
    const p = await operatorProgress(port);
    quiet = p.depth === 0 && p.passes >= objects ? quiet + 1 : 0;
    await sleep(1_000);
  }
}

/**
 * Regenerates the read/write password of each of `names` (one started every 100 ms) and measures, for
 * each, the time from the annotation until the old password is refused.
 */
async function regenerateAll(ns: string, names: string[], token: string): Promise<number[]> {
  const latencies: number[] = [];
  await Promise.all(names.map(async (name, i) => {
    await sleep(i * 100);
    const old = (await readSecret(ns, `${name}-rw`))!;
    const t = Date.now();
    await annotateWorkspace(ns, name, { "workspacedb.io/regenerate-rw": token });
    for (;;) {
      if ((await loginFailure(old.uri!)) === "28P01") break;
      if (Date.now() - t > 120_000) throw new Error(`${name}: old password still works after 120 s`);
      await sleep(20);
    }
    latencies.push(Date.now() - t);
  }));
  return latencies;
}

let total = 0;
const p2Failures: string[] = [];
const steady: { objects: number; rss: number }[] = [];
for (const n of sizes) {
  const id = `${Date.now().toString(36)}`;
  out();
  out(`== N = ${n} (${total + n} objects in all afterwards) ==`);
  record.load.push(loadSample(`${total + n}`));

  // P1, floor: the same statements, logins, Secrets and status writes, by a plain script (the operator
  // is stopped meanwhile: it would reconcile the floor's objects too).
  let floorSeconds = Number.NaN;
  if (!args["skip-floor"]) {
    await operator.stop();
    const ns = `bench-floor-${id}`;
    await ensureNamespace(ns);
    const names = Array.from({ length: n }, (_, i) => `w${i}`);
    // Timed from before the objects are created, as the operator's run is: both include applying them.
    const watch = await watchReady(ground, ns);
    const before = await readCounters(ground);
    await pool(names, 20, (name) => createWorkspace(ns, name, { serverRef: { name: "main" } }));
    const objects = ((await custom.listNamespacedCustomObject({ group: "workspacedb.io", version: "v1alpha1", namespace: ns, plural: "workspacedatabases" })) as { items: WorkspaceDatabase[] }).items;
    const sql = await ServerConnection.open({ ...endpoint, maintenanceDatabase: "postgres", user: ground.postgres.adminUser, password: ground.postgres.adminPassword }, { maxConnections: workers, applicationName: "wsdb-floor" });
    // The same REST client as the operator's.
    const kube: FloorKube = {
      createSecret: async (secret) => {
        await ground.client.request("POST", `/api/v1/namespaces/${ns}/secrets`, { body: secret });
      },
      patchStatus: async (obj, status) => {
        await ground.client.request("PATCH", `/apis/workspacedb.io/v1alpha1/namespaces/${ns}/workspacedatabases/${obj.metadata.name}/status`, {
          body: { status },
          contentType: "application/merge-patch+json",
        });
      },
    };
    await pool(objects, workers, (obj) => floorProvision(sql, kube, obj, deriveDatabaseName(ns, obj.metadata.name), endpoint));
    const doneAt = await watch.allReady(n, 60 * 60_000);
    watch.stop();
    const after = await readCounters(ground);
    floorSeconds = (doneAt - before.at) / 1000;
    out(`P1 floor: ${n} workspaces in ${floorSeconds.toFixed(1)} s (${((floorSeconds * 1000) / n).toFixed(0)} ms each); ${perObject(delta(ground, before, after), n)}`);
    // Out of the operator's way: the objects go (no finalizer), their Secrets, databases and roles too.
    await custom.deleteCollectionNamespacedCustomObject({ group: "workspacedb.io", version: "v1alpha1", namespace: ns, plural: "workspacedatabases" });
    await core.deleteCollectionNamespacedSecret({ namespace: ns });
    await pool(objects, workers, async (obj) => {
      const database = deriveDatabaseName(ns, obj.metadata.name);
      // A backend of the floor's logins may still be on its way out (42501/55006 for a moment): retry.
      for (let attempt = 1; ; attempt++) {
        try {
          await sql.dropDatabase(database);
          break;
        } catch (err) {
          if (attempt >= 20) throw err;
          await sleep(250);
        }
      }
      await sql.dropRole(database);
      await sql.dropRole(`${database}_ro`);
    });
    await sql.close();
    operator = await launch();
    await settle(total);
  }

  // P1, operator: N objects applied at once until all are Ready; P4 peak meanwhile.
  const ns = `bench-op-${id}`;
  await ensureNamespace(ns);
  const names = Array.from({ length: n }, (_, i) => `w${i}`);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(operator.proc.child.pid!).rss);
  }, 200);
  const watch = await watchReady(ground, ns);
  const before = await readCounters(ground);
  await pool(names, 20, (name) => createWorkspace(ns, name));
  const readyAt = await watch.allReady(n, 60 * 60_000);
  watch.stop();
  const operatorSeconds = (readyAt - before.at) / 1000;
  const after = await readCounters(ground);
  total += n;
  out(`P1 operator: ${n} workspaces Ready in ${operatorSeconds.toFixed(1)} s (${((operatorSeconds * 1000) / n).toFixed(0)} ms each)` +
    (Number.isNaN(floorSeconds) ? "" : `; ratio to the floor ${(operatorSeconds / floorSeconds).toFixed(2)} (target <= 1.25)`));
  if (!Number.isNaN(floorSeconds)) figure(total, "P1 ratio to the floor", operatorSeconds / floorSeconds, "ratio");
  figure(total, "P1 operator, per object", (operatorSeconds * 1000) / n, "ms");
  if (!Number.isNaN(floorSeconds)) figure(total, "P1 floor, per object", (floorSeconds * 1000) / n, "ms");
  out(`   ${perObject(delta(ground, before, after), n)}`);

  // Settle: the queue empties and the passes caused by our own writes are over.
  await settle(0);
  clearInterval(sampler);

  // P3: one full resync (the next periodic one).
  const p0 = await operatorProgress(port);
  const c0 = await readCounters(ground);
  let p1 = p0;
  while (p1.passes - p0.passes < total || p1.depth > 0) {
    await sleep(500);
    p1 = await operatorProgress(port);
  }
  const c1 = await readCounters(ground);
  const resync = delta(ground, c0, c1);
  out(`P3 resync of ${total} objects: ${p1.passes - p0.passes} passes over ${resync.seconds.toFixed(1)} s (period ${resyncMs / 1000} s); ${perObject(resync, total, p1.passwordChecks - p0.passwordChecks)}`);
  figure(total, "P3 passes per object", (p1.passes - p0.passes) / total, "");
  figure(total, "P3 seconds per resync", resync.seconds, "s");
  const rss = rssOf(operator.proc.child.pid!);
  steady.push({ objects: total, rss: rss.rss });
  if (args["heap-snapshot"] !== undefined) {
    operator.proc.child.kill("SIGUSR2");
    await sleep(15_000);
    out(`   heap snapshot written to ${args["heap-snapshot"]} (node hack/bench/heap-summary.ts FILE summarises it)`);
  }
  out(`P4 memory: peak ${Math.max(peak, rss.peak).toFixed(0)} MB during the burst; steady ${rss.rss.toFixed(0)} MB at ${total} objects (V8 heap used ${p1.heapMb.toFixed(0)} MB of ${p1.heapTotalMb.toFixed(0)} MB, external ${p1.externalMb.toFixed(0)} MB)`);
  figure(total, "P4 peak RSS", Math.max(peak, rss.peak), "MB");
  figure(total, "P4 steady RSS", rss.rss, "MB");
  figure(total, "P4 V8 heap used", p1.heapMb, "MB");

  // P2: regenerations while the next full resync runs.
  const k = Math.min(Number(args.regenerations), n);
  const start = (await operatorProgress(port)).passes;
  while ((await operatorProgress(port)).passes === start) await sleep(50);
  const latencies = await regenerateAll(ns, names.slice(0, k), `bench-${id}`);
  const during = (await operatorProgress(port)).passes - start;
  const worstSample = Math.max(...latencies);
  out(`P2 regenerate -> old password refused, ${k} times during a resync (${during} passes meanwhile): p50 ${quantile(latencies, 0.5)} ms, p99 ${quantile(latencies, 0.99)} ms, worst ${worstSample} ms (targets 150 / 500)`);
  out(`   every sample (ms, in the order made): ${latencies.join(" ")}`);
  record.p2Samples[String(total)] = [...latencies];
  figure(total, "P2 p50", quantile(latencies, 0.5), "ms");
  figure(total, "P2 p99", quantile(latencies, 0.99), "ms");
  figure(total, "P2 worst sample", worstSample, "ms");
  if (worstSample > P2_FAIL_MS) {
    p2Failures.push(`${total} objects: worst sample ${worstSample} ms`);
    process.stderr.write(`\n!!!!! P2 FAILED at ${total} objects: a regeneration waited ${worstSample} ms (> ${P2_FAIL_MS} ms): regenerations stalled\n\n`);
  }

  // P6: the same regenerations without viewers, then with viewers paging a wide table through the
  // aggregation layer (each a user of its own; the data API's concurrency limits answer 429 beyond
  // theirs), as ratios of the same run; the operator's peak RSS against the chart's memory limit.
  if (viewerCount > 0) {
    await ground.client.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, { body: viewerRbac(ns)[0] });
    await ground.client.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, { body: viewerRbac(ns)[1] });
    await withLogin((await readSecret(ns, `${names[0]!}-rw`))!.uri!, (db) => createWideTable(db, "wide", wideRows));
    const quiet = await regenerateAll(ns, names.slice(0, k), `quiet-${id}`);
    const viewers = startViewers(ground.client, `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables/${names[0]!}.public.wide/preview`, viewerCount);
    let viewerPeak = rssOf(operator.proc.child.pid!).rss;
    const sampling = setInterval(() => {
      viewerPeak = Math.max(viewerPeak, rssOf(operator.proc.child.pid!).rss);
    }, 200);
    const warmup = Date.now();
    while (viewers.stats.pages < viewerCount && Date.now() - warmup < 30_000) await sleep(100);
    const viewed = Date.now();
    const busy = await regenerateAll(ns, names.slice(0, k), `busy-${id}`);
    const seconds = (Date.now() - viewed) / 1000;
    const pagesBefore = viewers.stats.pages;
    await viewers.stop();
    clearInterval(sampling);
    const { stats } = viewers;
    const ratio = quantile(busy, 0.99) / quantile(quiet, 0.99);
    out(`P6 regenerate -> old password refused, ${k} times: without viewers p50 ${quantile(quiet, 0.5)} ms, p99 ${quantile(quiet, 0.99)} ms; ` +
      `with ${viewerCount} viewers paging p50 ${quantile(busy, 0.5)} ms, p99 ${quantile(busy, 0.99)} ms; p99 ratio ${ratio.toFixed(2)} (target <= 1.5)`);
    out(`   viewers: ${stats.pages} pages of up to 500 rows (~2 KB each) answered (${(pagesBefore / seconds).toFixed(1)} a second while regenerating), ` +
      `p50 ${quantile(stats.pageMs, 0.5)} ms, p99 ${quantile(stats.pageMs, 0.99)} ms; ${stats.tooMany} told 429, ${stats.errors} errors; ` +
      `operator peak RSS ${viewerPeak.toFixed(0)} MB (the chart's limit ${CHART_MEMORY_LIMIT_MB.toFixed(0)} MB)`);
    out(`   samples without viewers (ms): ${quiet.join(" ")}; with viewers: ${busy.join(" ")}`);
    figure(total, "P6 p99 ratio with viewers", ratio, "ratio");
    figure(total, "P6 p99 with viewers", quantile(busy, 0.99), "ms");
    figure(total, "P6 p99 without viewers", quantile(quiet, 0.99), "ms");
    figure(total, "P6 viewer page p99", quantile(stats.pageMs, 0.99), "ms");
    figure(total, "P6 peak RSS with viewers", viewerPeak, "MB");
    if (stats.errors > 0) process.stderr.write(`\n!!!!! P6: ${stats.errors} viewer requests failed (not 429): see the operator's log (--logs)\n\n`);
  }

  // P5: restart with everything Ready; every object re-verified, and nothing written.
  await operator.stop();
  const r0 = await readCounters(ground);
  const restarted = Date.now();
  operator = await launch();
  // Where the time goes: the process until it serves /metrics, its informers' lists until the first
  // pass, then the passes.
  const servingMs = Date.now() - restarted;
  let firstPassMs: number | undefined;
  const starting = { passes: 0, depth: 1, heapMb: 0, heapTotalMb: 0, externalMb: 0, passwordChecks: 0 };
  let p = await operatorProgress(port).catch(() => starting);
  while (p.passes < total || p.depth > 0) {
    if (firstPassMs === undefined && p.passes > 0) firstPassMs = Date.now() - restarted;
    await sleep(250);
    p = await operatorProgress(port).catch(() => starting);
  }
  const restart = delta(ground, r0, await readCounters(ground));
  const restartMs = Date.now() - restarted;
  firstPassMs ??= restartMs;
  out(`P5 restart: ${total} objects re-verified ${(restartMs / 1000).toFixed(1)} s after start (${(restartMs / total).toFixed(1)} ms each, target <= 12 ms for 60 s at 5,000); ${perObject(restart, total, p.passwordChecks)}`);
  out(`   serving after ${(servingMs / 1000).toFixed(1)} s, first pass after ${(firstPassMs / 1000).toFixed(1)} s (lists), then ${((restartMs - firstPassMs) / total).toFixed(1)} ms per object of passes`);
  figure(total, "P5 restart, per object", restartMs / total, "ms");
  figure(total, "P5 start until the first pass", firstPassMs / 1000, "s");
  figure(total, "P5 passes, per object", (restartMs - firstPassMs) / total, "ms");
}

if (steady.length >= 2) {
  const first = steady[0]!;
  const last = steady[steady.length - 1]!;
  const slope = (last.rss - first.rss) / (last.objects - first.objects);
  out();
  out(`P4 slope: ${(slope * 1024).toFixed(1)} KB per object; extrapolated steady RSS at 5,000 objects: ${(last.rss + slope * (5_000 - last.objects)).toFixed(0)} MB (target <= 150)`);
  figure(0, "P4 slope per object", slope * 1024, "KB");
  figure(0, "P4 steady RSS extrapolated to 5,000", last.rss + slope * (5_000 - last.objects), "MB");
}
await operator.stop();
if (dataApi !== undefined) await unregisterDataApi();
pki?.dispose();
if (args.logs !== undefined) {
  // One folder per run of --repeat.
  const dir = process.env.WSDB_BENCH_RUN === undefined ? args.logs : join(args.logs, `run-${process.env.WSDB_BENCH_RUN}`);
  mkdirSync(dir, { recursive: true });
  for (const file of operatorLogs) copyFileSync(file, join(dir, basename(file)));
  out(`operator logs copied to ${dir}`);
}
await stopGround();
record.load.push(loadSample("end"));
if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify(record)}\n`);
if (p2Failures.length > 0) {
  process.stderr.write(`P2 FAILED (a sample above ${P2_FAIL_MS} ms): ${p2Failures.join("; ")}\n`);
  process.exit(1);
}
process.exit(0);
