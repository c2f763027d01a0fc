// End to end: a regeneration never waits for work over every workspace — neither the passes a
// restart makes over settled workspaces, nor those a DatabaseServer whose readiness flapped once caused.
// (The benchmark at 1,000 workspaces saw every regeneration wait ~40 s behind such a flood.)
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  SYSTEM_NAMESPACE,
  annotateWorkspace,
  clients,
  createWorkspace,
  deleteDatabaseServer,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  loginFailure,
  patchDatabaseServer,
  readSecret,
  registerServer,
  unique,
  waitGone,
  waitServerReason,
} from "../support/fixtures.ts";

/** Settled workspaces whose passes would stand in a regeneration's way if they were queued ahead of it. */
const COUNT = 100;
/** Far below what ~100 passes ahead take with one worker (several seconds), far above one pass. */
const LIMIT_MS = 2_500;

describe("regenerations go first (end to end)", function () {
  this.timeout(600_000);
  const ns = unique("ws-prio");
  const server = unique("prio");
  const names = Array.from({ length: COUNT }, (_, i) => `p-${String(i).padStart(3, "0")}`);
  let operator: OperatorProcess | undefined;
  let round = 0;

  // One worker (and the one that takes only high-priority keys) and no resync while the test runs:
  // whatever is queued ahead of a regeneration shows.
  const start = () => startOperator({ WSDB_WORKERS: "1", WSDB_RESYNC_PERIOD: "30m" });

  before(async () => {
    await ensureNamespace(ns);
    await registerServer(server, getGround().postgres);
    operator = start();
    await Promise.all(names.map((name) => createWorkspace(ns, name, { serverRef: { name: server } })));
    await eventually(`${COUNT} workspaces Ready`, async () => {
      const list = (await clients().custom.listNamespacedCustomObject({ group: "workspacedb.io", version: "v1alpha1", namespace: ns, plural: "workspacedatabases" })) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
      return list.items.filter((o) => o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length === COUNT ? true : undefined;
    }, 300_000, 1_000);
  });
  after(async () => {
    for (const name of names) await deleteWorkspace(ns, name);
    for (const name of names) await waitGone(ns, name, 120_000).catch(() => undefined);
    await operator?.stop();
    await deleteDatabaseServer(server);
    await clients().core.deleteNamespacedSecret({ namespace: SYSTEM_NAMESPACE, name: `${server}-admin` }).catch(() => undefined);
  });

  /** Regenerates the read/write password of `name` and returns the ms until the old one is refused. */
  async function regenerate(name: string): Promise<number> {
    const old = await readSecret(ns, `${name}-rw`);
    expect(old?.uri, `${name}-rw`).to.be.a("string");
    round += 1;
    const started = Date.now();
    await annotateWorkspace(ns, name, { "workspacedb.io/regenerate-rw": `prio-${round}` });
    await eventually(`the old password of ${name} refused`, async () => ((await loginFailure(old!.uri!)) === "28P01" ? true : undefined), 60_000, 20);
    return Date.now() - started;
  }

  /**
   * The passes over this test's workspaces the operator started so far (distinct reconcile IDs in its
   * debug log): other tests' objects in the ground get passes from it too, and are not counted.
   */
  function passes(op: OperatorProcess): number {
    const ids = new Set<string>();
    for (const line of op.log().split("\n")) {
      if (!line.includes(`"namespace":"${ns}"`) || !line.includes('"controller":"workspacedatabase"')) continue;
      const id = /"reconcileID":"([^"]+)"/.exec(line)?.[1];
      if (id !== undefined) ids.add(id);
    }
    return ids.size;
  }

  it("regenerates at once while a restarted operator re-verifies every settled workspace", async () => {
    await operator!.stop();
    operator = start();
    const op = operator;
    // Its informers have listed every workspace and its passes over them have begun.
    await eventually("the restarted operator's first passes", async () => (passes(op) > 0 ? true : undefined), 60_000, 50);
    // The last one listed: before, every workspace listed ahead of it was queued ahead of it.
    const ms = await regenerate(names[COUNT - 1]!);
    const during = passes(op);
    process.stderr.write(`      regeneration during a restart: ${ms} ms (${during} passes so far, of ${COUNT})\n`);
    // Before, it came after (nearly) every other workspace's pass; now they wait for it.
    expect(during, "passes made by the time the old password was refused").to.be.below(COUNT / 2);
    expect(ms, "ms from the annotation to the old password refused").to.be.below(LIMIT_MS);
  });

  it("at a start, first regenerates what was asked for while the operator was stopped", async () => {
    await operator!.stop();
    const name = names[COUNT - 3]!;
    const old = await readSecret(ns, `${name}-rw`);
    round += 1;
    await annotateWorkspace(ns, name, { "workspacedb.io/regenerate-rw": `prio-${round}` });
    const started = Date.now();
    operator = start();
    const op = operator;
    await eventually(`the old password of ${name} refused`, async () => ((await loginFailure(old!.uri!)) === "28P01" ? true : undefined), 60_000, 20);
    const ms = Date.now() - started;
    const during = passes(op);
    process.stderr.write(`      regeneration asked for while stopped: ${ms} ms after the start (${during} passes so far, of ${COUNT})\n`);
    // Seen settled before the Secrets were listed, it was queued low, then moved ahead once they were.
    expect(during, "passes made by the time the old password was refused").to.be.below(COUNT / 2);
  });

  it("regenerates at once after its DatabaseServer was not Ready for a moment", async () => {
    const op = operator!;
    // Wait for the restart's passes to be over, so only what the flap causes is ahead.
    await eventually("the restart's passes over", async () => (passes(op) >= COUNT ? true : undefined), 120_000, 250);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = passes(op);
    await patchDatabaseServer(server, { adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${server}-missing` } });
    await waitServerReason(server, "AdminSecretNotFound");
    await patchDatabaseServer(server, { adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${server}-admin` } });
    await waitServerReason(server, "Connected");
    const ms = await regenerate(names[COUNT - 2]!);
    const meanwhile = passes(op) - before;
    process.stderr.write(`      regeneration after the server flapped: ${ms} ms (${meanwhile} workspace passes since the flap began)\n`);
    expect(ms, "ms from the annotation to the old password refused").to.be.below(LIMIT_MS);
    // Ready workspaces got no pass from the flap (before: every workspace, twice): only the
    // regeneration's own pass ran, and they are all still Ready.
    expect(meanwhile, "workspace passes since the flap began").to.be.at.most(3);
    expect((await getWorkspace(ns, names[0]!))?.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
  });
});
