// Unit tests of the controller: results, retries with back-off, terminal errors, requeueAfter, metrics, drain.
import { expect } from "chai";
import { Controller, TerminalError, isTerminal } from "../../../src/runtime/controller.ts";
import type { ReconcileResult } from "../../../src/runtime/controller.ts";
import { currentPriority } from "../../../src/runtime/lane.ts";
import { createLogger } from "../../../src/runtime/logger.ts";
import type { Logger } from "../../../src/runtime/logger.ts";
import { createMetrics, createRegistry } from "../../../src/runtime/metrics.ts";
import type { Metrics } from "../../../src/runtime/metrics.ts";
import { Writable } from "node:stream";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function quietLogger(lines: string[] = []): Logger {
  const stream = new Writable({ write: (chunk: Buffer, _enc, cb) => { lines.push(chunk.toString()); cb(); } });
  return createLogger({ level: "debug", stream });
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(5);
  }
}

async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe("Controller", () => {
  let controllers: Controller[] = [];
  afterEach(async () => {
    await Promise.all(controllers.map((c) => c.stop(100)));
    controllers = [];
  });
  const make = (reconcile: (key: string, log: Logger) => Promise<ReconcileResult>, extra: { workers?: number; metrics?: Metrics; lines?: string[] } = {}): Controller => {
    const c = new Controller({
      name: "test",
      reconciler: { reconcile },
      log: quietLogger(extra.lines),
      workers: extra.workers,
      metrics: extra.metrics,
      backoff: { baseMs: 10, maxMs: 40 },
    });
    controllers.push(c);
    return c;
  };

  it("reconciles enqueued keys and forgets them on success", async () => {
    const seen: string[] = [];
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }));
    const c = make(async (key) => { seen.push(key); return {}; }, { metrics });
    c.enqueue("ns/a");
    c.start();
    await until(() => seen.length === 1);
    expect(seen).to.deep.equal(["ns/a"]);
    expect(c.queue.numRequeues("ns/a")).to.equal(0);
    await until(() => c.queue.len() === 0);
    expect(await counter(metrics, "workspacedb_reconcile_total", { controller: "test", result: "success" })).to.equal(1);
  });

  it("tells each pass the lane its key came from, also to everything the pass awaits", async () => {
    const seen: string[] = [];
    const c = new Controller({
      name: "lanes",
      log: quietLogger(),
      reconciler: {
        reconcile: async (key, _log, priority) => {
          await sleep(1);
          seen.push(`${key}:${priority}:${currentPriority()}`);
          return {};
        },
      },
    });
    controllers.push(c);
    c.enqueue("ns/resync", "low");
    c.enqueue("ns/event");
    c.start();
    await until(() => seen.length === 2);
    expect(seen.sort()).to.deep.equal(["ns/event:high:high", "ns/resync:low:low"]);
    expect(currentPriority()).to.equal("high");
  });

  it("passes a child logger with namespace, name and reconcileID", async () => {
    const lines: string[] = [];
    const c = make(async (_key, log) => { log.info("hello"); return {}; }, { lines });
    c.enqueue("ns1/obj1");
    c.enqueue("cluster-obj");
    c.start();
    await until(() => lines.filter((l) => l.includes("hello")).length === 2);
    const hellos = lines.filter((l) => l.includes("hello")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(hellos[0]).to.include({ namespace: "ns1", name: "obj1", controller: "test" });
    expect(hellos[0]!.reconcileID).to.be.a("string");
    expect(hellos[1]).to.include({ name: "cluster-obj" });
    expect(hellos[1]).not.to.have.property("namespace");
    expect(hellos[0]!.reconcileID).not.to.equal(hellos[1]!.reconcileID);
    expect(hellos[0]).to.have.property("timestamp");
  });

  it("retries errors with growing back-off, then forgets after success", async () => {
    const times: number[] = [];
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }));
    const c = make(async () => {
      times.push(Date.now());
      if (times.length <= 3) throw new Error("boom");
      return {};
    }, { metrics });
    c.enqueue("a");
    c.start();
    await until(() => times.length === 4);
    await sleep(10);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).to.be.within(8, 150);
    expect(gaps[1]).to.be.within(18, 200);
    expect(gaps[2]).to.be.within(38, 250);
    expect(c.queue.numRequeues("a")).to.equal(0);
    expect(await counter(metrics, "workspacedb_reconcile_total", { result: "error" })).to.equal(3);
    expect(await counter(metrics, "workspacedb_reconcile_errors_total", { controller: "test" })).to.equal(3);
    expect(await counter(metrics, "workqueue_retries_total", { name: "test" })).to.equal(3);
  });

  it("does not retry a TerminalError (also when wrapped as a cause)", async () => {
    let calls = 0;
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }));
    const c = make(async () => {
      calls++;
      throw new Error("outer", { cause: new TerminalError("bad spec") });
    }, { metrics });
    c.enqueue("a");
    c.start();
    await sleep(100);
    expect(calls).to.equal(1);
    expect(c.queue.numRequeues("a")).to.equal(0);
    expect(await counter(metrics, "workspacedb_reconcile_total", { result: "terminal" })).to.equal(1);
    c.enqueue("a");
    await until(() => calls === 2);
  });

  it("requeues after requeueAfter", async () => {
    const times: number[] = [];
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }));
    const c = make(async () => { times.push(Date.now()); return times.length === 1 ? { requeueAfter: 50 } : {}; }, { metrics });
    c.enqueue("a");
    c.start();
    await until(() => times.length === 2);
    expect(times[1]! - times[0]!).to.be.at.least(45);
    expect(await counter(metrics, "workspacedb_reconcile_total", { result: "requeue" })).to.equal(1);
  });

  it("runs different keys in parallel but never the same key twice at once", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const active = new Set<string>();
    let sameKeyOverlap = false;
    const c = make(async (key) => {
      if (active.has(key)) sameKeyOverlap = true;
      active.add(key);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await sleep(20);
      inFlight--;
      active.delete(key);
      return {};
    }, { workers: 4 });
    c.start();
    for (let i = 0; i < 3; i++) for (const k of ["a", "b", "c", "d"]) c.enqueue(k);
    await sleep(5);
    for (const k of ["a", "b"]) c.enqueue(k);
    await sleep(100);
    expect(maxInFlight).to.equal(4);
    expect(sameKeyOverlap).to.equal(false);
  });

  it("stop() drains in-flight reconciles and takes no new work", async () => {
    let finished = 0;
    let started = 0;
    const c = make(async () => { started++; await sleep(50); finished++; return {}; });
    c.enqueue("a");
    c.enqueue("b");
    c.start();
    await until(() => started === 1);
    expect(await c.stop(1000)).to.equal(true);
    expect(finished).to.equal(1);
    expect(started).to.equal(1);
  });

  it("stop() gives up on a reconcile that outlasts the timeout", async () => {
    const c = make(async () => { await sleep(300); return {}; });
    c.enqueue("a");
    c.start();
    await sleep(10);
    expect(await c.stop(20)).to.equal(false);
  });

  it("isTerminal recognises TerminalError only", () => {
    expect(isTerminal(new TerminalError("x"))).to.equal(true);
    expect(isTerminal(new Error("x"))).to.equal(false);
    expect(isTerminal("x")).to.equal(false);
  });
});
