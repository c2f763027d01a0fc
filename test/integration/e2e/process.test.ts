// The operator process: bad settings stop it with a message, probes and metrics, SIGTERM exits 0 and frees the lease.
import { expect } from "chai";
import { CRD_SCHEMA_REVISION } from "../../../src/api/types.ts";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { getGround } from "../../ground/index.ts";
import { startOperator } from "../support/operator.ts";
import { createWorkspace, ensureNamespace, eventually, operatorMetrics, setupServer, sumMetric, unique, waitReady } from "../support/fixtures.ts";

describe("operator process (end to end)", function () {
  this.timeout(120_000);

  before(async () => {
    await setupServer("main");
  });

  it("refuses a bad setting with a message naming it, and exits non-zero", async () => {
    const op = startOperator({ WSDB_WORKERS: "0" }, "bad-settings");
    const code = await op.proc.exited;
    expect(code).to.equal(2);
    expect(op.log()).to.contain('setting "workers" (from WSDB_WORKERS)');
  });

  it("refuses to start against CRDs older than it, naming the command that installs the new ones", async () => {
    const { ApiextensionsV1Api } = await import("@kubernetes/client-node");
    const api = getGround().kubeConfig.makeApiClient(ApiextensionsV1Api);
    const name = "databaseservers.workspacedb.io";
    const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
    const patch = (value: string | null) =>
      api.patchCustomResourceDefinition({ name, body: { metadata: { annotations: { "workspacedb.io/schema-revision": value } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    await patch(null);
    try {
      const op = startOperator({}, "old-crds");
      expect(await op.proc.exited).to.equal(2);
      expect(op.log()).to.contain(`the installed CustomResourceDefinition ${name} is older than this operator`);
      expect(op.log()).to.contain("kubectl apply --server-side --force-conflicts -f crds/");
    } finally {
      await patch(String(CRD_SCHEMA_REVISION));
    }
  });

  it("serves probes and metrics, and on SIGTERM exits 0 and releases its lease", async () => {
    const ns = unique("ws-proc");
    await ensureNamespace(ns);
    const lease = `lease-${ns}`;
    const op = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: lease }, "probes");
    await createWorkspace(ns, "metrics");
    await waitReady(ns, "metrics");
    const port = await op.httpPort();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).to.equal(200);
    await eventually("readyz 200", async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined));

    const text = await eventually("metrics with the object", async () => {
      const t = await operatorMetrics(port);
      return sumMetric(t, "workspacedb_databases", (l) => l.ready === "true") >= 1 ? t : undefined;
    });
    for (const name of [
      "workspacedb_reconcile_total",
      "workspacedb_reconcile_duration_seconds",
      "workspacedb_reconcile_errors_total",
      "workqueue_depth",
      "workqueue_adds_total",
      "workqueue_retries_total",
      "workqueue_queue_duration_seconds",
      "workqueue_work_duration_seconds",
      "workspacedb_leader",
      "process_cpu_user_seconds_total",
    ]) {
      expect(text, name).to.match(new RegExp(`^# TYPE ${name} `, "m"));
    }
    expect(sumMetric(text, "workspacedb_reconcile_total", (l) => l.controller === "workspacedatabase" && l.result === "success")).to.be.at.least(1);
    expect(sumMetric(text, "workspacedb_credential_age_seconds", (l) => l.namespace === ns && l.name === "metrics")).to.be.at.least(0);
    expect(text).to.match(new RegExp(`workspacedb_credential_age_seconds\\{[^}]*namespace="${ns}"[^}]*access="read-only"`));

    expect(await op.stop(), "exit code after SIGTERM").to.equal(0);
    const coordination = getGround().kubeConfig.makeApiClient(CoordinationV1Api);
    const held = await coordination.readNamespacedLease({ namespace: "workspacedb-system", name: lease });
    expect(held.spec?.holderIdentity ?? "", "lease released").to.equal("");
  });
});
