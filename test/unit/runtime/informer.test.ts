// Unit tests of the informer with a scripted watch: resourceVersion tracking, bookmarks, errors, 410 re-list.
import { expect } from "chai";
import { Writable } from "node:stream";
import { KubeApiError } from "../../../src/kube/errors.ts";
import type { KubeList, KubeObject } from "../../../src/kube/types.ts";
import { Informer, objectKey } from "../../../src/runtime/informer.ts";
import type { ListPage, WatchPort } from "../../../src/runtime/informer.ts";
import { createLogger } from "../../../src/runtime/logger.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

type Callback = (type: string, obj: unknown) => void;
interface OpenWatch {
  query: Record<string, string | number | boolean | undefined>;
  send: Callback;
  done: (err: unknown) => void;
  aborted: boolean;
}

/** A watch whose connections the test drives; `fail` makes the next connects fail. */
class ScriptedWatch implements WatchPort {
  opened: OpenWatch[] = [];
  fail = 0;
  async watch(_path: string, query: Record<string, string | number | boolean | undefined>, callback: Callback, done: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController();
    if (this.fail > 0) {
      this.fail--;
      done(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }));
      return controller;
    }
    const w: OpenWatch = { query, send: callback, done, aborted: false };
    controller.signal.addEventListener("abort", () => (w.aborted = true));
    this.opened.push(w);
    return controller;
  }
  last(): OpenWatch {
    const w = this.opened.at(-1);
    if (!w) throw new Error("no watch opened");
    return w;
  }
}

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

const cm = (name: string, rv: string, v = rv): ConfigMap => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns", resourceVersion: rv }, data: { v } });
const listOf = (rv: string, ...items: ConfigMap[]): KubeList<ConfigMap> => ({ metadata: { resourceVersion: rv }, items });

describe("Informer (scripted watch)", () => {
  let informer: Informer<ConfigMap>;
  let watch: ScriptedWatch;
  let lists: Array<KubeList<ConfigMap> | Error>;
  let listCalls: number;
  let pages: ListPage[];
  let events: string[];
  const lines: string[] = [];

  beforeEach(() => {
    watch = new ScriptedWatch();
    lists = [];
    listCalls = 0;
    pages = [];
    events = [];
    informer = new Informer<ConfigMap>({
      path: "/api/v1/namespaces/ns/configmaps",
      watch,
      list: async (page) => {
        listCalls++;
        pages.push(page);
        const next = lists.length > 1 ? lists.shift()! : lists[0]!;
        if (next instanceof Error) throw next;
        return next;
      },
      log: createLogger({ level: "debug", stream: new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }) }),
      backoff: { baseMs: 10, maxMs: 40 },
      watchTimeoutSeconds: [300, 600],
    });
    informer.on({
      onAdd: (o) => events.push(`add ${o.metadata?.name ?? ""}`),
      onUpdate: (_o, n) => events.push(`update ${n.metadata?.name ?? ""} ${n.data?.v ?? ""}`),
      onDelete: (o) => events.push(`delete ${o.metadata?.name ?? ""}`),
    });
  });
  afterEach(() => informer.stop());

  it("watches from the list's resourceVersion with bookmarks and a random timeout", async () => {
    lists = [listOf("10", cm("a", "9"))];
    informer.start();
    await informer.waitForSync(1000);
    await until("watch", () => watch.opened.length === 1);
    const q = watch.last().query;
    expect(q).to.include({ resourceVersion: "10", allowWatchBookmarks: true });
    expect(q.timeoutSeconds).to.be.within(300, 600);
    expect(events).to.deep.equal(["add a"]);
    expect(objectKey(informer.get("ns/a")!)).to.equal("ns/a");
  });

  it("keeps no managedFields in its cache, from lists and from watch events", async () => {
    const managed = (o: ConfigMap): ConfigMap => ({ ...o, metadata: { ...o.metadata, managedFields: [{ manager: "kubectl", operation: "Apply" }] } as ConfigMap["metadata"] });
    lists = [listOf("10", managed(cm("a", "9")))];
    informer.start();
    await informer.waitForSync(1000);
    await until("watch", () => watch.opened.length === 1);
    watch.last().send("ADDED", managed(cm("b", "11")));
    await until("b", () => informer.get("ns/b") !== undefined);
    for (const key of ["ns/a", "ns/b"]) expect(informer.get(key)!.metadata).to.not.have.property("managedFields");
  });

  it("caches and hands out what its transform makes of listed and watched objects", async () => {
    const seen: string[] = [];
    const shrinking = new Informer<ConfigMap>({
      path: "/api/v1/namespaces/ns/configmaps",
      watch,
      list: async () => listOf("10", cm("a", "9", "long value")),
      log: createLogger({ level: "error", stream: new Writable({ write: (_c: Buffer, _e, cb) => cb() }) }),
      transform: (o) => ({ ...o, data: { v: String(o.data?.v?.length ?? 0) } }),
    });
    shrinking.on({ onAdd: (o) => seen.push(`${o.metadata?.name ?? ""}=${o.data?.v ?? ""}`), onUpdate: (_o, n) => seen.push(`${n.metadata?.name ?? ""}=${n.data?.v ?? ""}`) });
    shrinking.start();
    try {
      await shrinking.waitForSync(1000);
      await until("watch", () => watch.opened.length === 1);
      watch.last().send("MODIFIED", cm("a", "11", "longer value"));
      watch.last().send("ADDED", cm("b", "12", "x"));
      await until("b", () => shrinking.get("ns/b") !== undefined);
      expect(seen).to.deep.equal(["a=10", "a=12", "b=1"]);
      expect(shrinking.get("ns/a")!.data).to.deep.equal({ v: "12" });
      expect(Object.isFrozen(shrinking.get("ns/a")!.data)).to.equal(true);
    } finally {
      await shrinking.stop();
    }
  });

  it("tracks resourceVersion through events and bookmarks, and re-watches from it when closed", async () => {
    lists = [listOf("10")];
    informer.start();
    await until("watch", () => watch.opened.length === 1);
    watch.last().send("ADDED", cm("a", "11"));
    watch.last().send("MODIFIED", cm("a", "12", "x"));
    watch.last().send("BOOKMARK", { kind: "ConfigMap", metadata: { resourceVersion: "15" } });
    expect(informer.resourceVersion()).to.equal("15");
    watch.last().done(null); // server closed the watch (timeoutSeconds)
    await until("re-watch", () => watch.opened.length === 2);
    expect(watch.last().query.resourceVersion).to.equal("15");
    watch.last().send("DELETED", cm("a", "16"));
    expect(events).to.deep.equal(["add a", "update a x", "delete a"]);
    expect(listCalls).to.equal(1);
  });

  it("re-lists on an ERROR 410 event and synthesises adds, updates and deletes", async () => {
    lists = [listOf("10", cm("a", "1"), cm("b", "2")), listOf("20", cm("b", "3"), cm("c", "4"))];
    informer.start();
    await until("watch", () => watch.opened.length === 1);
    watch.last().send("ERROR", { kind: "Status", code: 410, reason: "Expired" });
    await until("re-watch", () => watch.opened.length === 2);
    expect(watch.opened[0]!.aborted).to.equal(true);
    expect(listCalls).to.equal(2);
    expect(watch.last().query.resourceVersion).to.equal("20");
    expect(events).to.deep.equal(["add a", "add b", "update b 3", "add c", "delete a"]);
    expect(informer.keys().sort()).to.deep.equal(["ns/b", "ns/c"]);
  });

  it("re-lists when the watch request itself answers 410", async () => {
    lists = [listOf("10"), listOf("30")];
    informer.start();
    await until("watch", () => watch.opened.length === 1);
    watch.last().done(Object.assign(new Error("Gone"), { statusCode: 410 }));
    await until("re-watch", () => watch.opened.length === 2);
    expect(listCalls).to.equal(2);
  });

  it("backs off and re-watches from the same resourceVersion after errors", async () => {
    lists = [listOf("10")];
    watch.fail = 3;
    const t0 = Date.now();
    informer.start();
    await until("watch", () => watch.opened.length === 1);
    expect(Date.now() - t0).to.be.at.least(10 + 20 + 40 - 5);
    expect(watch.last().query.resourceVersion).to.equal("10");
    watch.last().send("ERROR", { kind: "Status", code: 500, message: "internal" });
    await until("re-watch", () => watch.opened.length === 2);
    expect(listCalls).to.equal(1);
    expect(lines.join("")).to.include("watch error event: 500 internal");
  });

  it("retries a failing list until it succeeds, and only then reports synced", async () => {
    lists = [new Error("connection refused"), new Error("connection refused"), listOf("5", cm("a", "4"))];
    informer.start();
    expect(informer.hasSynced()).to.equal(false);
    await informer.waitForSync(2000);
    expect(listCalls).to.equal(3);
    expect(events).to.deep.equal(["add a"]);
  });

  it("rejects waitForSync after its timeout", async () => {
    lists = [new Error("down")];
    informer.start();
    let error: unknown;
    await informer.waitForSync(30).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("not synced");
  });

  it("keeps going when a handler throws", async () => {
    informer.on({ onAdd: () => { throw new Error("handler bug"); } });
    lists = [listOf("10")];
    informer.start();
    await until("watch", () => watch.opened.length === 1);
    watch.last().send("ADDED", cm("a", "11"));
    watch.last().send("ADDED", cm("b", "12"));
    expect(events).to.deep.equal(["add a", "add b"]);
  });

  it("stop() ends the watch and the loop", async () => {
    lists = [listOf("10")];
    informer.start();
    await until("watch", () => watch.opened.length === 1);
    await informer.stop();
    expect(watch.last().aborted).to.equal(true);
    await sleep(30);
    expect(watch.opened).to.have.length(1);
  });

  it("lists in pages of pageSize, following continue tokens, and watches from the last page's resourceVersion", async () => {
    const page = (rv: string, next: string | undefined, ...items: ConfigMap[]): KubeList<ConfigMap> =>
      ({ metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) }, items });
    lists = [page("10", "t1", cm("a", "1"), cm("b", "2")), page("10", "t2", cm("c", "3"), cm("d", "4")), page("10", undefined, cm("e", "5"))];
    informer.start();
    await informer.waitForSync(1000);
    expect(pages).to.deep.equal([{ limit: 500 }, { limit: 500, continue: "t1" }, { limit: 500, continue: "t2" }]);
    expect(informer.keys().sort()).to.deep.equal(["ns/a", "ns/b", "ns/c", "ns/d", "ns/e"]);
    expect(events).to.deep.equal(["add a", "add b", "add c", "add d", "add e"]);
    await until("watch", () => watch.opened.length === 1);
    expect(watch.last().query.resourceVersion).to.equal("10");
  });

  it("starts the list again from the first page when a continue token expired (410)", async () => {
    const expired = new KubeApiError("listing x: The provided continue parameter is too old", 410, "Expired");
    const scripted: Array<KubeList<ConfigMap> | Error> = [
      { metadata: { resourceVersion: "10", continue: "old" }, items: [cm("a", "1")] },
      expired,
      { metadata: { resourceVersion: "20", continue: "new" }, items: [cm("a", "1")] },
      listOf("20", cm("b", "2")),
    ];
    let i = 0;
    const paged = new Informer<ConfigMap>({
      path: "/api/v1/namespaces/ns/configmaps",
      watch,
      list: async (p) => {
        pages.push(p);
        const next = scripted[i++]!;
        if (next instanceof Error) throw next;
        return next;
      },
      log: createLogger({ level: "debug", stream: new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }) }),
      pageSize: 1,
    });
    const added: string[] = [];
    paged.on({ onAdd: (o) => added.push(o.metadata?.name ?? "") });
    paged.start();
    try {
      await paged.waitForSync(1000);
      expect(pages).to.deep.equal([{ limit: 1 }, { limit: 1, continue: "old" }, { limit: 1 }, { limit: 1, continue: "new" }]);
      expect(added).to.deep.equal(["a", "b"]); // nothing applied from the abandoned pages
      expect(paged.resourceVersion()).to.equal("20");
      expect(lines.join("")).to.include("listing again from the start");
    } finally {
      await paged.stop();
    }
  });
});
