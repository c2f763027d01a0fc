// Manager against a real kube-apiserver: only the leader reconciles, SIGTERM-style stop hands over, loss stops reconciling.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { getGround } from "../../ground/index.ts";
import { Controller } from "../../../src/runtime/controller.ts";
import { Informer } from "../../../src/runtime/informer.ts";
import type { KubeObject, Lease } from "../../../src/kube/types.ts";
import { restLeaseApi, type LeaseApi } from "../../../src/runtime/leader.ts";
import { createLogger } from "../../../src/runtime/logger.ts";
import { Manager } from "../../../src/runtime/manager.ts";
import { createMetrics, createRegistry } from "../../../src/runtime/metrics.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Replica {
  name: string;
  manager: Manager;
  reconciled: string[];
  lost: number;
  partitioned: boolean;
}

describe("Manager (real API server)", function () {
  this.timeout(60_000);
  let namespace: string;
  let core: CoreV1Api;
  let coordination: CoordinationV1Api;
  let replicas: Replica[] = [];
  let lines: string[] = [];

  before(async () => {
    const kc = getGround().kubeConfig;
    core = kc.makeApiClient(CoreV1Api);
    coordination = kc.makeApiClient(CoordinationV1Api);
    namespace = `rt-manager-${randomBytes(4).toString("hex")}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "c1" } } });
  });
  after(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });
  afterEach(async function () {
    await Promise.all(replicas.map((r) => r.manager.stop()));
    replicas = [];
    if (this.currentTest?.state === "failed") process.stderr.write(lines.join(""));
    lines = [];
  });

  const replica = (name: string, leaseName: string): Replica => {
    const log = createLogger({ level: "debug", defaultMeta: { replica: name }, stream: new Writable({ write: (b: Buffer, _e, cb) => { lines.push(b.toString()); cb(); } }) });
    const r = { name, reconciled: [], lost: 0, partitioned: false } as unknown as Replica;
    const guard = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      if (r.partitioned) throw new Error("partitioned (test)");
      return fn(...a);
    };
    const leases = restLeaseApi(getGround().client);
    const api: LeaseApi = {
      get: guard((namespace: string, name: string) => leases.get(namespace, name)),
      create: guard((lease: Lease) => leases.create(lease)),
      replace: guard((lease: Lease) => leases.replace(lease)),
    };
    r.manager = new Manager({
      log,
      metrics: createMetrics(createRegistry({ defaultMetrics: false })),
      http: { port: 0, host: "127.0.0.1" },
      leaderElection: { api, namespace, name: leaseName, identity: name, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 400 },
      resyncPeriodMs: 300,
      shutdownTimeoutMs: 2000,
      onLostLeadership: () => r.lost++,
    });
    const informer = new Informer<KubeObject>({
      client: getGround().client,
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      log,
    });
    const controller = new Controller({
      name: "configmaps",
      log,
      reconciler: { reconcile: async (key) => { r.reconciled.push(key); return {}; } },
    });
    informer.on({ onAdd: (o) => controller.enqueue(`${o.metadata?.namespace}/${o.metadata?.name}`) });
    r.manager.addInformer(informer);
    r.manager.addController(controller, [informer]);
    replicas.push(r);
    return r;
  };
  const readyz = async (r: Replica): Promise<number> => (await fetch(`http://127.0.0.1:${r.manager.httpPort()}/readyz`)).status;

  it("only the leader reconciles; stopping it hands over to the standby at once", async () => {
    const a = replica("a", "mgr-handover");
    await a.manager.start();
    await until("a reconciles", () => a.reconciled.includes(`${namespace}/c1`), 10_000);
    const b = replica("b", "mgr-handover");
    await b.manager.start();
    expect(await readyz(b)).to.equal(200); // a standby is ready (rolling updates proceed)
    await sleep(1000);
    expect(b.reconciled).to.deep.equal([]);
    expect(b.manager.isLeader()).to.equal(false);
    const started = Date.now();
    await a.manager.stop();
    expect((await coordination.readNamespacedLease({ name: "mgr-handover", namespace })).spec?.holderIdentity).to.not.equal("a");
    await until("b reconciles", () => b.reconciled.includes(`${namespace}/c1`), 10_000);
    expect(Date.now() - started).to.be.below(3000);
    expect(a.lost).to.equal(0);
  });

  it("stops reconciling and reports when leadership is lost", async () => {
    const a = replica("a", "mgr-loss");
    await a.manager.start();
    await until("a reconciles", () => a.reconciled.length > 0, 10_000);
    const b = replica("b", "mgr-loss");
    await b.manager.start();
    a.partitioned = true;
    await until("a lost", () => a.lost === 1, 10_000);
    const count = a.reconciled.length;
    expect(a.manager.isLeader()).to.equal(false);
    expect(await readyz(a)).to.equal(503);
    expect((await fetch(`http://127.0.0.1:${a.manager.httpPort()}/healthz`)).status).to.equal(500);
    await until("b reconciles", () => b.reconciled.length > 0, 10_000);
    await sleep(700); // more than two resync periods
    expect(a.reconciled.length).to.equal(count);
  });
});
