// Unit tests of the manager without leader election: start order, readiness, resync, graceful stop.
import { expect } from "chai";
import { Writable } from "node:stream";
import { Controller } from "../../../src/runtime/controller.ts";
import { createLogger } from "../../../src/runtime/logger.ts";
import { Manager } from "../../../src/runtime/manager.ts";
import type { ManagedInformer } from "../../../src/runtime/manager.ts";
import { createMetrics, createRegistry } from "../../../src/runtime/metrics.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = createLogger({ level: "debug", stream: new Writable({ write: (_c, _e, cb) => cb() }) });

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** An informer whose sync the test releases. */
class FakeInformer implements ManagedInformer {
  started = false;
  stopped = false;
  synced = false;
  #waiters: Array<() => void> = [];
  readonly cached: string[];
  constructor(cached: string[]) {
    this.cached = cached;
  }
  start(): void {
    this.started = true;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  hasSynced(): boolean {
    return this.synced;
  }
  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
  keys(): string[] {
    return this.cached;
  }
  sync(): void {
    this.synced = true;
    for (const w of this.#waiters.splice(0)) w();
  }
}

describe("Manager (no leader election)", () => {
  it("starts informers, then controllers after sync, resyncs, and stops gracefully", async () => {
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }));
    const reconciled: string[] = [];
    let inFlight = 0;
    const controller = new Controller({
      name: "things",
      log,
      reconciler: { reconcile: async (key) => { inFlight++; reconciled.push(key); await sleep(30); inFlight--; return {}; } },
    });
    const informer = new FakeInformer(["ns/a", "ns/b"]);
    let lost = 0;
    const manager = new Manager({
      log,
      metrics,
      http: { port: 0, host: "127.0.0.1" },
      resyncPeriodMs: 150,
      shutdownTimeoutMs: 1000,
      onLostLeadership: () => lost++,
    });
    manager.addInformer(informer);
    manager.addController(controller, [informer]);
    await manager.start();
    const base = `http://127.0.0.1:${manager.httpPort()}`;
    await until("informer started", () => informer.started);
    expect(manager.isLeader()).to.equal(true);
    expect((await fetch(`${base}/readyz`)).status).to.equal(503); // leading, caches not synced
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    await sleep(20);
    expect(reconciled).to.deep.equal([]); // controllers wait for the caches
    informer.sync();
    await until("initial resync", () => reconciled.length >= 2);
    expect(reconciled.slice(0, 2)).to.deep.equal(["ns/a", "ns/b"]);
    expect((await fetch(`${base}/readyz`)).status).to.equal(200);
    expect(await (await fetch(`${base}/metrics`)).text()).to.include("workspacedb_leader 1");
    await until("periodic resync", () => reconciled.length >= 4, 1000);

    await until("a reconcile in flight", () => inFlight > 0, 1000);
    await manager.stop();
    expect(inFlight).to.equal(0); // drained
    expect(informer.stopped).to.equal(true);
    const count = reconciled.length;
    await sleep(300);
    expect(reconciled.length).to.equal(count); // no more work, no more resync
    expect(lost).to.equal(0);
    let refused = false;
    await fetch(`${base}/healthz`).catch(() => (refused = true));
    expect(refused).to.equal(true);
  });
});
