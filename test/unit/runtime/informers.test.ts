// Unit tests of scopedInformers / InformerGroup: one informer across the cluster or one per namespace, seen as one cache.
import { expect } from "chai";
import { Writable } from "node:stream";
import { KubeApiError } from "../../../src/kube/errors.ts";
import type { RequestOptions } from "../../../src/kube/rest.ts";
import type { KubeList, KubeObject } from "../../../src/kube/types.ts";
import type { WatchPort } from "../../../src/runtime/informer.ts";
import { scopedInformers } from "../../../src/runtime/informers.ts";
import { createLogger } from "../../../src/runtime/logger.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = createLogger({ level: "error", stream: new Writable({ write: (_c, _e, cb) => cb() }) });

type Query = Record<string, string | number | boolean | undefined>;

/** An API server of ConfigMaps by namespace: lists answer from `objects`, watches stay open and silent. */
class FakeApi implements WatchPort {
  readonly objects: KubeObject[] = [];
  readonly lists: Array<{ path: string; query: Query }> = [];
  readonly watches: Array<{ path: string; query: Query }> = [];
  refuse: KubeApiError | undefined;
  async request<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
    expect(method).to.equal("GET");
    this.lists.push({ path, query: options?.query ?? {} });
    if (this.refuse) throw this.refuse;
    const ns = /\/namespaces\/([^/]+)\//.exec(path)?.[1];
    const items = this.objects.filter((o) => ns === undefined || o.metadata?.namespace === ns);
    return { metadata: { resourceVersion: "10" }, items: items.map((o) => structuredClone(o)) } satisfies KubeList<KubeObject> as T;
  }
  async watch(path: string, query: Query): Promise<AbortController> {
    this.watches.push({ path, query });
    return new AbortController();
  }
}

const cm = (namespace: string, name: string): KubeObject => ({ metadata: { namespace, name, resourceVersion: "5" } });
const pathOf = (ns: string | undefined): string => (ns === undefined ? "/api/v1/configmaps" : `/api/v1/namespaces/${ns}/configmaps`);

describe("scopedInformers", () => {
  it("without namespaces: one informer across the cluster, with the selector", async () => {
    const api = new FakeApi();
    api.objects.push(cm("a", "x"), cm("b", "y"));
    const group = scopedInformers<KubeObject>({ client: api, namespaces: [], path: pathOf, labelSelector: "shard=1", log });
    expect(group.members()).to.have.length(1);
    group.start();
    await group.waitForSync(2000);
    expect(api.lists.map((l) => l.path)).to.deep.equal(["/api/v1/configmaps"]);
    expect(api.lists[0]!.query).to.include({ labelSelector: "shard=1" });
    expect(group.keys().sort()).to.deep.equal(["a/x", "b/y"]);
    expect(group.get("b/y")?.metadata?.name).to.equal("y");
    await group.stop();
  });

  it("with namespaces: one informer per namespace; get, list, keys and handlers span them all", async () => {
    const api = new FakeApi();
    api.objects.push(cm("a", "x"), cm("b", "y"), cm("c", "z"));
    const group = scopedInformers<KubeObject>({ client: api, namespaces: ["a", "b"], path: pathOf, labelSelector: "shard=1", log });
    const added: string[] = [];
    group.on({ onAdd: (o) => added.push(`${o.metadata?.namespace}/${o.metadata?.name}`) });
    expect(group.members()).to.have.length(2);
    expect(group.hasSynced()).to.equal(false);
    group.start();
    await group.waitForSync(2000);
    expect(group.hasSynced()).to.equal(true);
    expect(api.lists.map((l) => l.path).sort()).to.deep.equal(["/api/v1/namespaces/a/configmaps", "/api/v1/namespaces/b/configmaps"]);
    expect(api.lists.every((l) => l.query.labelSelector === "shard=1")).to.equal(true);
    await sleep(10);
    expect(api.watches.map((w) => w.path).sort()).to.deep.equal(["/api/v1/namespaces/a/configmaps", "/api/v1/namespaces/b/configmaps"]);
    expect(added.sort()).to.deep.equal(["a/x", "b/y"]);
    expect(group.keys().sort()).to.deep.equal(["a/x", "b/y"]);
    expect(group.list().map((o) => o.metadata?.name).sort()).to.deep.equal(["x", "y"]);
    expect(group.get("a/x")?.metadata?.name).to.equal("x");
    expect(group.get("c/z")).to.equal(undefined);
    expect(group.get("x")).to.equal(undefined);
    await group.stop();
  });

  it("reports a 400 on a list (a selector the API server refuses) to onBadRequest, and nothing else", async () => {
    const api = new FakeApi();
    api.refuse = new KubeApiError("listing /api/v1/namespaces/a/configmaps: unable to parse requirement", 400, "BadRequest");
    const refused: string[] = [];
    const group = scopedInformers<KubeObject>({
      client: api,
      namespaces: ["a"],
      path: pathOf,
      labelSelector: "a b",
      log,
      backoff: { baseMs: 1, maxMs: 5 },
      onBadRequest: (err, path) => refused.push(`${path}: ${err.reason}`),
    });
    group.start();
    const end = Date.now() + 2000;
    while (refused.length === 0 && Date.now() < end) await sleep(5);
    expect(refused[0]).to.equal("/api/v1/namespaces/a/configmaps: BadRequest");
    expect(group.hasSynced()).to.equal(false);
    await group.stop();

    const forbidden = new FakeApi();
    forbidden.refuse = new KubeApiError("forbidden", 403, "Forbidden");
    const other = scopedInformers<KubeObject>({ client: forbidden, namespaces: [], path: pathOf, log, backoff: { baseMs: 1, maxMs: 5 }, onBadRequest: () => refused.push("403") });
    other.start();
    await sleep(30);
    await other.stop();
    expect(forbidden.lists.length).to.be.greaterThan(1);
    expect(refused).to.not.include("403");
  });
});
