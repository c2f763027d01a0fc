// End to end, with the ground's kube-controller-manager: deleting a namespace full of workspace databases
// completes, and Secrets are garbage-collected through their ownerReferences.
import { expect } from "chai";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  GROUP,
  VERSION,
  canLogin,
  clients,
  createWorkspace,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  readSecret,
  setupServer,
  unique,
  waitReady,
} from "../support/fixtures.ts";
import { databaseExists, roleSnapshots } from "../support/targets.ts";

describe("namespace deletion (end to end)", function () {
  this.timeout(240_000);
  let operator: OperatorProcess | undefined;

  before(async function () {
    if (!getGround().local) this.skip();
    await setupServer("main");
    operator = startOperator({}, "namespace-deletion");
  });

  after(async () => {
    await operator?.stop();
  });

  it("completes for a namespace with workspace databases (Retain and Delete): Retain keeps the database with its logins disabled, Delete drops everything", async () => {
    const ns = unique("ws-nsdel");
    await ensureNamespace(ns);
    await createWorkspace(ns, "keep", { deletionPolicy: "Retain" });
    await createWorkspace(ns, "drop", { deletionPolicy: "Delete" });
    const keep = await waitReady(ns, "keep");
    const drop = await waitReady(ns, "drop");
    const keepRw = (await readSecret(ns, "keep-rw"))!;

    const started = Date.now();
    await clients().core.deleteNamespace({ name: ns });
    await eventually("the namespace is gone", async () => {
      try {
        await clients().core.readNamespace({ name: ns });
        return undefined;
      } catch (err) {
        return (err as { code?: number }).code === 404 ? true : undefined;
      }
    }, 120_000, 500);
    process.stderr.write(`      namespace with 2 workspace databases deleted in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    const postgres = getGround().postgres;
    expect(await databaseExists(postgres, keep.status!.database!)).to.equal(true);
    const kept = await roleSnapshots(postgres, [keep.status!.database!, `${keep.status!.database!}_ro`]);
    expect(Object.values(kept).map((r) => r.rolcanlogin)).to.deep.equal([false, false]);
    expect(await canLogin(keepRw.uri!)).to.equal(false);
    expect(await databaseExists(postgres, drop.status!.database!)).to.equal(false);
    expect(await roleSnapshots(postgres, [drop.status!.database!, `${drop.status!.database!}_ro`])).to.deep.equal({});
  });

  it("lets the garbage collector delete the Secrets of a WorkspaceDatabase whose finalizer was removed while the operator was stopped", async () => {
    const ns = unique("ws-gc");
    await ensureNamespace(ns);
    await createWorkspace(ns, "orphan");
    await waitReady(ns, "orphan");
    expect(await readSecret(ns, "orphan-rw")).to.not.equal(undefined);
    await operator!.stop();
    operator = undefined;

    await deleteWorkspace(ns, "orphan");
    await clients().custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: "workspacedatabases", name: "orphan", body: { metadata: { finalizers: null } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("the object is gone", async () => ((await getWorkspace(ns, "orphan")) === undefined ? true : undefined), 30_000);
    await eventually("both Secrets garbage-collected", async () =>
      (await readSecret(ns, "orphan-rw")) === undefined && (await readSecret(ns, "orphan-ro")) === undefined ? true : undefined, 90_000, 500);
  });
});
