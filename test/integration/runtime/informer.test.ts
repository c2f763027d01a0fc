// Informer against a real kube-apiserver: events, re-watch after inactivity, 410 Gone re-list, API server restart.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { CoreV1Api, Watch } from "@kubernetes/client-node";
import type { V1ConfigMap, V1ConfigMapList } from "@kubernetes/client-node";
import { getGround } from "../../ground/index.ts";
import { Informer } from "../../../src/runtime/informer.ts";
import type { InformerOptions, WatchPort } from "../../../src/runtime/informer.ts";
import { createLogger } from "../../../src/runtime/logger.ts";
import type { Logger } from "../../../src/runtime/logger.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A logger that keeps its lines, printed only when a test fails. */
function testLogger(lines: string[]): Logger {
  return createLogger({ level: "debug", stream: new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }) });
}

interface Recorder {
  events: string[];
  has(event: string): boolean;
}

function record(informer: Informer<V1ConfigMap>): Recorder {
  const events: string[] = [];
  informer.on({
    onAdd: (o) => events.push(`add ${o.metadata?.name ?? ""}`),
    onUpdate: (_old, o) => events.push(`update ${o.metadata?.name ?? ""} ${o.data?.v ?? ""}`),
    onDelete: (o) => events.push(`delete ${o.metadata?.name ?? ""}`),
  });
  return { events, has: (e) => events.includes(e) };
}

describe("Informer (real API server)", function () {
  this.timeout(120_000);
  let core: CoreV1Api;
  let namespace: string;
  let lines: string[];
  const informers: Informer<V1ConfigMap>[] = [];

  before(async () => {
    core = getGround().kubeConfig.makeApiClient(CoreV1Api);
    namespace = `rt-informer-${randomBytes(4).toString("hex")}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  after(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });
  beforeEach(() => {
    lines = [];
  });
  afterEach(async function () {
    await Promise.all(informers.splice(0).map((i) => i.stop()));
    if (this.currentTest?.state === "failed") process.stderr.write(lines.join(""));
  });

  const make = (opts: Partial<InformerOptions<V1ConfigMap>> = {}): Informer<V1ConfigMap> => {
    const informer = new Informer<V1ConfigMap>({
      kubeConfig: getGround().kubeConfig,
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      list: () => core.listNamespacedConfigMap({ namespace }),
      apiVersion: "v1",
      kind: "ConfigMap",
      log: testLogger(lines),
      backoff: { baseMs: 100, maxMs: 1000 },
      ...opts,
    });
    informers.push(informer);
    return informer;
  };
  const createCm = (name: string, v = "1"): Promise<V1ConfigMap> =>
    core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { v } } });

  it("lists existing objects, then sees adds, updates and deletes", async () => {
    await createCm("pre");
    const informer = make();
    const rec = record(informer);
    informer.start();
    await informer.waitForSync(10_000);
    expect(informer.hasSynced()).to.equal(true);
    expect(rec.events).to.include("add pre");
    const pre = informer.get(`${namespace}/pre`);
    expect(pre?.kind).to.equal("ConfigMap");
    expect(pre?.metadata?.creationTimestamp).to.be.a("string"); // wire form, as watch events
    expect(Object.isFrozen(pre)).to.equal(true);
    expect(() => { (pre!.data as Record<string, string>).v = "x"; }).to.throw(TypeError);

    await createCm("a");
    await until("add a", () => rec.has("add a"));
    await core.replaceNamespacedConfigMap({ name: "a", namespace, body: { metadata: { name: "a" }, data: { v: "2" } } });
    await until("update a", () => rec.has("update a 2"));
    expect(informer.get(`${namespace}/a`)?.data?.v).to.equal("2");
    await core.deleteNamespacedConfigMap({ name: "a", namespace });
    await until("delete a", () => rec.has("delete a"));
    expect(informer.get(`${namespace}/a`)).to.equal(undefined);
    expect(informer.keys()).to.deep.equal([`${namespace}/pre`]);
    expect(informer.list().map((o) => o.metadata?.name)).to.deep.equal(["pre"]);
  });

  it("re-opens an inactive watch from its resourceVersion without re-listing", async () => {
    let lists = 0;
    const informer = make({
      list: () => { lists++; return core.listNamespacedConfigMap({ namespace }); },
      inactivityTimeoutMs: 300,
    });
    const rec = record(informer);
    informer.start();
    await informer.waitForSync(10_000);
    await sleep(1500);
    await createCm("after-idle");
    await until("add after-idle", () => rec.has("add after-idle"));
    expect(lists).to.equal(1);
    expect(lines.join("")).to.include("inactive for 300 ms");
  });

  it("re-lists on 410 Gone and synthesises deletes for objects that vanished", async () => {
    // A fresh etcd is not compacted, so the server would serve any old resourceVersion: the first
    // watch answers with the ERROR event the API server sends for an expired resourceVersion.
    const real = new Watch(getGround().kubeConfig);
    let watches = 0;
    const watch: WatchPort = {
      async watch(path, query, callback, done) {
        if (++watches > 1) return real.watch(path, query, callback, done);
        const controller = new AbortController();
        setTimeout(() => {
          callback("ERROR", { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410, message: "too old resource version" });
          done(null);
        }, 10);
        return controller;
      },
    };
    let lists = 0;
    const informer = make({
      watch,
      list: async (): Promise<V1ConfigMapList> => {
        lists++;
        const listed = await core.listNamespacedConfigMap({ namespace });
        if (lists > 1) return listed;
        // First list: an object that is gone by the time of the re-list.
        const ghost: V1ConfigMap = { metadata: { name: "ghost", namespace, resourceVersion: "1" }, data: { v: "0" } };
        return { ...listed, items: [...listed.items, ghost] };
      },
    });
    const rec = record(informer);
    informer.start();
    await informer.waitForSync(10_000);
    expect(rec.has("add ghost")).to.equal(true);
    await until("re-list", () => lists >= 2);
    await until("synthetic delete", () => rec.has("delete ghost"));
    expect(informer.get(`${namespace}/ghost`)).to.equal(undefined);
    expect(lines.join("")).to.include("410 Gone");
    await createCm("after-gone");
    await until("add after-gone", () => rec.has("add after-gone"));
    expect(lists).to.equal(2);
  });

  it("recovers after the API server restarts and sees changes made after it", async function () {
    const restart = getGround().restartApiServer;
    if (!restart) this.skip();
    await createCm("r1");
    const informer = make();
    const rec = record(informer);
    informer.start();
    await informer.waitForSync(10_000);
    expect(rec.has("add r1")).to.equal(true);
    const t0 = Date.now();
    await restart();
    lines.push(`restart took ${Date.now() - t0} ms\n`);
    await core.replaceNamespacedConfigMap({ name: "r1", namespace, body: { metadata: { name: "r1" }, data: { v: "after" } } });
    await createCm("r2");
    await until("update r1 after restart", () => rec.has("update r1 after"), 60_000);
    await until("add r2 after restart", () => rec.has("add r2"), 60_000);
    await core.deleteNamespacedConfigMap({ name: "r2", namespace });
    await until("delete r2 after restart", () => rec.has("delete r2"), 30_000);
    expect(lines.join("")).to.match(/watch failed, retrying|watch closed, re-watching/);
  });
});
