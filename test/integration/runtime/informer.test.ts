// Informer against a real kube-apiserver: events, paginated lists, re-watch after inactivity, 410 Gone re-list, API server restart.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { CoreV1Api } from "@kubernetes/client-node";
import { getGround } from "../../ground/index.ts";
import type { KubeRequester, Query } from "../../../src/kube/rest.ts";
import type { KubeList, KubeObject } from "../../../src/kube/types.ts";
import { Informer } from "../../../src/runtime/informer.ts";
import type { InformerOptions, ListPage, WatchPort } from "../../../src/runtime/informer.ts";
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

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

interface Recorder {
  events: string[];
  has(event: string): boolean;
}

function record(informer: Informer<ConfigMap>): Recorder {
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
  const informers: Informer<ConfigMap>[] = [];

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

  /** One page of the namespace's ConfigMaps, read with the operator's client. */
  const listPage = (page: ListPage): Promise<KubeList<ConfigMap>> =>
    getGround().client.request("GET", `/api/v1/namespaces/${namespace}/configmaps`, { query: { limit: page.limit, continue: page.continue } });
  const make = (opts: Partial<InformerOptions<ConfigMap>> = {}): Informer<ConfigMap> => {
    const informer = new Informer<ConfigMap>({
      client: getGround().client,
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      apiVersion: "v1",
      kind: "ConfigMap",
      log: testLogger(lines),
      backoff: { baseMs: 100, maxMs: 1000 },
      ...opts,
    });
    informers.push(informer);
    return informer;
  };
  const createCm = async (name: string, v = "1"): Promise<void> => {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { v } } });
  };

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
      list: (page) => { lists++; return listPage(page); },
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
    const real = getGround().client;
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
      list: async (page) => {
        lists++;
        const listed = await listPage(page);
        if (lists > 1) return listed;
        // First list: an object that is gone by the time of the re-list.
        const ghost: ConfigMap = { metadata: { name: "ghost", namespace, resourceVersion: "1" }, data: { v: "0" } };
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

  it("lists a collection larger than its page size in pages, with the selector, and watches from the list", async () => {
    const label = `page-${randomBytes(3).toString("hex")}`;
    const count = 12;
    for (let i = 0; i < count; i++) {
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `${label}-${i}`, labels: { set: label } }, data: { v: String(i) } } });
    }
    await createCm(`${label}-unlabelled`);
    const queries: Query[] = [];
    const real = getGround().client;
    const counting: KubeRequester & WatchPort = {
      request: (method, path, options) => {
        queries.push(options?.query ?? {});
        return real.request(method, path, options);
      },
      watch: (path, query, onEvent, onDone) => real.watch(path, query, onEvent, onDone),
    };
    const informer = make({ client: counting, pageSize: 5, labelSelector: `set=${label}` });
    const rec = record(informer);
    informer.start();
    await informer.waitForSync(10_000);
    expect(queries.map((q) => q.limit)).to.deep.equal([5, 5, 5]);
    expect(queries[0]!.continue).to.equal(undefined);
    expect(queries[1]!.continue).to.be.a("string").and.not.equal("");
    expect(queries.every((q) => q.labelSelector === `set=${label}`)).to.equal(true);
    expect(informer.keys().sort()).to.deep.equal(Array.from({ length: count }, (_, i) => `${namespace}/${label}-${i}`).sort());
    expect(rec.events.filter((e) => e.startsWith("add "))).to.have.length(count);
    expect(informer.get(`${namespace}/${label}-3`)?.kind).to.equal("ConfigMap");
    // The watch starts from the list's snapshot: a change made after it is seen, nothing is listed twice.
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `${label}-late`, labels: { set: label } }, data: { v: "late" } } });
    await until("add late", () => rec.has(`add ${label}-late`));
    expect(queries).to.have.length(3);
  });
});
