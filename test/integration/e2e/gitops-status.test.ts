// End to end: what GitOps tools read. On every watch event of each object's life, kstatus
// (sigs.k8s.io/cli-utils status.Compute, as Flux, Helm 4 and kubectl-based tools compute it) and our
// Argo CD health checks (Lua, run by gopher-lua) agree with the contract (DESIGN, "Status, events,
// conditions"): never Current before Ready=True; Failed exactly while Stalled=True (Conflict, a
// namespace not allowed, a PermissionDenied that needs a superuser, a missing admin Secret); back to
// Current after the fix; InProgress while a server is held down on purpose, during a regeneration
// and until a new spec is acted on; Terminating while deleted. The Lua checks' test objects are
// recorded here (support/gitops.ts, recordState).
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { ANNOTATION_REGENERATE_RO } from "../../../src/api/types.ts";
import { getGround } from "../../ground/index.ts";
import {
  ARGO_FOR_KSTATUS,
  History,
  argoHealth,
  describeLife,
  kstatus,
  recordState,
  trueCondition,
  type ObservedObject,
} from "../support/gitops.ts";
import { RecordingProxy } from "../support/proxy.ts";
import {
  SYSTEM_NAMESPACE,
  annotateWorkspace,
  asSuperuser,
  clients,
  createAdminSecret,
  createDatabaseServer,
  createWorkspace,
  deleteDatabaseServer,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  labelNamespace,
  pokeServer,
  setupServer,
  unique,
  waitGone,
  waitReady,
  waitReason,
  waitServerReason,
} from "../support/fixtures.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";

type Kind = "WorkspaceDatabase" | "DatabaseServer";

/** kstatus, Argo CD and the contract on every event of one object's life; returns kstatus's sequence with repeats folded. */
async function checkLife(kind: Kind, life: readonly ObservedObject[]): Promise<string[]> {
  expect(life.length, "the object was seen").to.be.greaterThan(0);
  const objects = life.map((o) => ({ ...o, kind }));
  const [results, health] = await Promise.all([kstatus(objects), argoHealth(objects)]);
  const story = `\n${describeLife(objects, results, health)}`;
  let readySeen = false;
  objects.forEach((obj, i) => {
    const result = results[i]!;
    expect(result.error, `event #${i}: kstatus failed${story}`).to.equal(undefined);
    expect(health[i]!.error, `event #${i}: the Lua check failed${story}`).to.equal(undefined);
    const deleting = obj.metadata.deletionTimestamp !== undefined;
    const observed = obj.status?.observedGeneration === obj.metadata.generation;
    const ready = trueCondition(obj, "Ready");
    const stalled = trueCondition(obj, "Stalled");
    const reconciling = trueCondition(obj, "Reconciling");
    if (ready !== undefined && observed) readySeen = true;
    if (result.status === "Current") {
      expect(ready, `event #${i}: Current without Ready=True${story}`).to.not.equal(undefined);
      expect(readySeen, `event #${i}: Current before Ready=True${story}`).to.equal(true);
    }
    if (!deleting && observed) {
      expect(result.status === "Failed", `event #${i}: Failed exactly while Stalled=True${story}`).to.equal(stalled !== undefined);
      // The contract behind it: a state that is not Ready is either being worked on or stalled, never neither.
      if (ready === undefined) expect((stalled === undefined) !== (reconciling === undefined), `event #${i}: exactly one of Reconciling, Stalled${story}`).to.equal(true);
      if (stalled !== undefined) {
        const readyCondition = obj.status?.conditions?.find((c) => c.type === "Ready");
        expect([stalled.reason, stalled.message], `event #${i}: Stalled repeats Ready's reason and message${story}`).to.deep.equal([readyCondition?.reason, readyCondition?.message]);
      }
    }
    if (deleting) expect(result.status, `event #${i}${story}`).to.equal("Terminating");
    expect(health[i]!.status, `event #${i}: Argo CD's health follows kstatus${story}`).to.equal(ARGO_FOR_KSTATUS[result.status ?? ""]);
  });
  const folded: string[] = [];
  for (const r of results) if (folded[folded.length - 1] !== r.status) folded.push(r.status ?? "?");
  return folded;
}

/** The last object of a life that satisfies `when`. */
function lastWhere(life: readonly ObservedObject[], when: (o: ObservedObject) => boolean): ObservedObject {
  const found = [...life].reverse().find(when);
  if (found === undefined) throw new Error("no event of that state");
  return found;
}

/** The object has condition `type` with `reason`, for the generation it carries. */
const reasonIs = (reason: string, type = "Ready") => (o: ObservedObject): boolean =>
  o.status?.conditions?.some((c) => c.type === type && c.reason === reason) === true && o.status?.observedGeneration === o.metadata.generation;

async function record(kind: Kind, state: string, obj: ObservedObject): Promise<void> {
  const problem = await recordState(kind, state, { ...obj, apiVersion: "workspacedb.io/v1alpha1", kind });
  expect(problem).to.equal(undefined);
}

describe("status as GitOps tools read it: kstatus and Argo CD health on every event (end to end)", function () {
  this.timeout(240_000);
  let operator: OperatorProcess;
  let workspaces: History;
  let otherWorkspaces: History;
  let servers: History;
  const ns = unique("ws-gitops");
  const outside = unique("ws-gitops-out");
  const weak = unique("weak");
  const weakRole = `weak_${weak.slice("weak-".length).replace(/-/g, "_")}`;
  const held = unique("held");
  const selective = unique("selective");
  const noSecret = unique("nosecret");
  const taken = `taken_${ns.slice(-6).replace(/-/g, "_")}`;
  let proxy: RecordingProxy | undefined;

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    await ensureNamespace(outside);
    workspaces = await History.start(`/apis/workspacedb.io/v1alpha1/namespaces/${ns}/workspacedatabases`);
    otherWorkspaces = await History.start(`/apis/workspacedb.io/v1alpha1/namespaces/${outside}/workspacedatabases`);
    servers = await History.start("/apis/workspacedb.io/v1alpha1/databaseservers");
    operator = startOperator();
  });
  after(async () => {
    workspaces?.stop();
    otherWorkspaces?.stop();
    servers?.stop();
    for (const [namespace, name] of [[ns, "fresh"], [ns, "taken"], [ns, "on-weak"], [ns, "on-held"], [outside, "picky"]] as const) await deleteWorkspace(namespace, name);
    for (const [namespace, name] of [[ns, "fresh"], [ns, "taken"], [ns, "on-weak"], [ns, "on-held"], [outside, "picky"]] as const) await waitGone(namespace, name, 60_000).catch(() => undefined);
    await operator?.stop();
    await proxy?.close();
    for (const name of [weak, held, selective, noSecret]) await deleteDatabaseServer(name);
    await clients().core.deleteNamespacedSecret({ namespace: SYSTEM_NAMESPACE, name: `${noSecret}-admin` }).catch(() => undefined);
    await clients().core.deleteNamespacedSecret({ namespace: SYSTEM_NAMESPACE, name: `${weak}-admin` }).catch(() => undefined);
  });

  it("a new workspace: InProgress from its first event (before the operator's first pass) until Ready, then Current; a new spec and a regeneration are InProgress until done; deleted, Terminating", async () => {
    await createWorkspace(ns, "fresh");
    await waitReady(ns, "fresh");
    // A new spec (generation 2): in progress until the operator acted on it.
    const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
    await clients().custom.patchNamespacedCustomObject(
      { group: "workspacedb.io", version: "v1alpha1", namespace: ns, plural: "workspacedatabases", name: "fresh", body: { spec: { connectionLimit: 7 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await eventually("generation 2 is Ready", async () => {
      const obj = await getWorkspace(ns, "fresh");
      return obj?.status?.observedGeneration === 2 && obj.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? obj : undefined;
    });
    // A regeneration: Reconciling=True (Regenerating) until the login has its new password.
    await annotateWorkspace(ns, "fresh", { [ANNOTATION_REGENERATE_RO]: "gitops-1" });
    await eventually("the regeneration is handled and the pass is over", async () => {
      const obj = await getWorkspace(ns, "fresh");
      return obj?.status?.credentials?.readOnly?.regenerateToken === "gitops-1" && !obj.status.conditions?.some((c) => c.type === "Reconciling") ? obj : undefined;
    });
    await deleteWorkspace(ns, "fresh");
    await waitGone(ns, "fresh");

    const life = workspaces.of("fresh");
    const sequence = await checkLife("WorkspaceDatabase", life);
    expect(sequence[0], "the first event, before any pass").to.equal("InProgress");
    expect(life[0]!.status, "the first event has the defaulted status").to.deep.equal({ observedGeneration: 0 });
    expect(sequence, "InProgress → Current → InProgress (new spec) → Current → InProgress (regeneration) → Current → Terminating").to.deep.equal([
      "InProgress", "Current", "InProgress", "Current", "InProgress", "Current", "Terminating",
    ]);
    expect(sequence).to.not.include("Failed");
    await record("WorkspaceDatabase", "new", life[0]!);
    await record("WorkspaceDatabase", "provisioning", lastWhere(life, reasonIs("Provisioning", "Reconciling")));
    await record("WorkspaceDatabase", "provisioned", lastWhere(life, (o) => trueCondition(o, "Ready") !== undefined && trueCondition(o, "Reconciling") === undefined && o.metadata.deletionTimestamp === undefined));
    await record("WorkspaceDatabase", "spec-changed", lastWhere(life, (o) => o.metadata.generation === 2 && o.status?.observedGeneration === 1));
    await record("WorkspaceDatabase", "regenerating", lastWhere(life, reasonIs("Regenerating", "Reconciling")));
    await record("WorkspaceDatabase", "deleting", lastWhere(life, (o) => o.metadata.deletionTimestamp !== undefined));
  });

  it("Conflict: Failed (Stalled=True) as long as the name is someone else's, Current once the platform team freed it", async () => {
    await asSuperuser("postgres", async (c) => c.query(`CREATE ROLE ${taken} NOLOGIN`));
    try {
      await createWorkspace(ns, "taken", { databaseName: taken, deletionPolicy: "Delete" });
      const refused = await waitReason(ns, "taken", "Conflict", 60_000);
      const stalled = refused.status!.conditions!.find((c) => c.type === "Stalled");
      expect(stalled?.status).to.equal("True");
      expect(stalled?.message).to.contain("choose another spec.databaseName");
      // spec.databaseName is immutable: the fix is on the server (the role goes) or a new object.
      await asSuperuser("postgres", async (c) => c.query(`DROP ROLE ${taken}`));
      await annotateWorkspace(ns, "taken", { "example.org/poke": "1" });
      await waitReady(ns, "taken", 60_000);
      const life = workspaces.of("taken");
      const sequence = await checkLife("WorkspaceDatabase", life);
      expect(sequence).to.deep.equal(["InProgress", "Failed", "Current"]);
      await record("WorkspaceDatabase", "conflict", lastWhere(life, reasonIs("Conflict")));
    } finally {
      await deleteWorkspace(ns, "taken");
      await waitGone(ns, "taken", 60_000).catch(() => undefined);
      await asSuperuser("postgres", async (c) => c.query(`DROP ROLE IF EXISTS ${taken}`));
    }
  });

  it("NotAllowed: Failed while the server's namespaceSelector refuses the namespace, Current once it is labelled", async () => {
    await createDatabaseServer(selective, { namespaceSelector: { matchLabels: { "platform/gitops": "true" } } });
    await createWorkspace(outside, "picky", { serverRef: { name: selective } });
    await waitReason(outside, "picky", "NotAllowed");
    await labelNamespace(outside, { "platform/gitops": "true" });
    await annotateWorkspace(outside, "picky", { "example.org/poke": "1" });
    await waitReady(outside, "picky", 90_000);
    const life = otherWorkspaces.of("picky");
    const sequence = await checkLife("WorkspaceDatabase", life);
    expect(sequence).to.deep.equal(["InProgress", "Failed", "Current"]);
    await record("WorkspaceDatabase", "not-allowed", lastWhere(life, reasonIs("NotAllowed")));
  });

  it("a PermissionDenied that needs a superuser: the server and its workspace Failed until the grant, then Current", async () => {
    const password = "W3ak-admin-pw";
    await asSuperuser("postgres", async (c) => c.query(`CREATE ROLE ${weakRole} LOGIN CREATEDB PASSWORD '${password}'`));
    await createAdminSecret(`${weak}-admin`, weakRole, password);
    await createDatabaseServer(weak, { adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${weak}-admin` } });
    await waitServerReason(weak, "PermissionDenied");
    await createWorkspace(ns, "on-weak", { serverRef: { name: weak } });
    await waitReason(ns, "on-weak", "PermissionDenied", 60_000);

    await asSuperuser("postgres", async (c) => c.query(`ALTER ROLE ${weakRole} CREATEROLE`));
    await pokeServer(weak);
    await waitServerReason(weak, "Connected", 60_000);
    await annotateWorkspace(ns, "on-weak", { "example.org/poke": "1" });
    await waitReady(ns, "on-weak", 90_000);

    const serverLife = servers.of(weak);
    expect(await checkLife("DatabaseServer", serverLife)).to.deep.equal(["InProgress", "Failed", "Current"]);
    const workspaceLife = workspaces.of("on-weak");
    // After the grant the pass that provisions it ends with Ready=True: Failed until then (one pass).
    expect(await checkLife("WorkspaceDatabase", workspaceLife)).to.deep.equal(["InProgress", "Failed", "Current"]);
    await record("DatabaseServer", "new", serverLife[0]!);
    await record("DatabaseServer", "permission-denied", lastWhere(serverLife, reasonIs("PermissionDenied")));
    await record("DatabaseServer", "connected", lastWhere(serverLife, reasonIs("Connected")));
    await record("WorkspaceDatabase", "permission-denied", lastWhere(workspaceLife, reasonIs("PermissionDenied")));
  });

  it("a missing admin Secret: the server is Failed (AdminSecretNotFound) until the Secret exists, then Current", async () => {
    await createDatabaseServer(noSecret, { adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${noSecret}-admin` } });
    await waitServerReason(noSecret, "AdminSecretNotFound");
    const { adminUser, adminPassword } = getGround().postgres;
    await createAdminSecret(`${noSecret}-admin`, adminUser, adminPassword);
    await pokeServer(noSecret);
    await waitServerReason(noSecret, "Connected", 60_000);
    const life = servers.of(noSecret);
    expect(await checkLife("DatabaseServer", life)).to.deep.equal(["InProgress", "Failed", "Current"]);
    await record("DatabaseServer", "admin-secret-not-found", lastWhere(life, reasonIs("AdminSecretNotFound")));
  });

  it("server-side applied by another field manager (as Flux or Argo CD apply), it stays diff-free once the operator has acted on it", async () => {
    const file = join(getGround().root, `${ns}-applied.yaml`);
    writeFileSync(file, [
      "apiVersion: workspacedb.io/v1alpha1",
      "kind: WorkspaceDatabase",
      "metadata:",
      "  name: applied",
      `  namespace: ${ns}`,
      "  labels:",
      "    team: a",
      "spec:",
      "  deletionPolicy: Delete",
      "  connectionLimit: 5",
      "",
    ].join("\n"));
    const kubectl = (...args: string[]) => promisify(execFile)("/usr/bin/kubectl", ["--kubeconfig", getGround().kubeconfigPath, ...args], { timeout: 60_000 });
    try {
      await kubectl("apply", "--server-side", "--field-manager=gitops-tool", "-f", file);
      await waitReady(ns, "applied");
      // A regeneration asked through the annotation (a person's change, not Git's) does not make a diff either.
      await annotateWorkspace(ns, "applied", { [ANNOTATION_REGENERATE_RO]: "by-hand" });
      await eventually("regenerated", async () => ((await getWorkspace(ns, "applied"))?.status?.credentials?.readOnly?.regenerateToken === "by-hand" ? true : undefined));
      const diff = await kubectl("diff", "--server-side", "--field-manager=gitops-tool", "-f", file).then(
        (out) => ({ code: 0, out: out.stdout }),
        (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, out: `${err.stdout ?? ""}${err.stderr ?? ""}` }),
      );
      expect(diff, "kubectl diff --server-side after the operator acted").to.deep.equal({ code: 0, out: "" });
    } finally {
      await deleteWorkspace(ns, "applied");
      await waitGone(ns, "applied", 60_000).catch(() => undefined);
    }
  });

  it("a server held down on purpose: it and its workspace are InProgress (never Failed) while it is down, Current when it is back", async () => {
    const { postgres } = getGround();
    proxy = new RecordingProxy("127.0.0.1", postgres.port);
    await proxy.listen();
    const port = proxy.port;
    await createDatabaseServer(held, { host: "127.0.0.1", port });
    await waitServerReason(held, "Connected");
    await createWorkspace(ns, "on-held", { serverRef: { name: held } });
    await waitReady(ns, "on-held");

    await proxy.close();
    await pokeServer(held);
    await waitServerReason(held, "ServerUnavailable");
    // The workspace notices at its next pass (a regeneration asks for one now).
    await annotateWorkspace(ns, "on-held", { [ANNOTATION_REGENERATE_RO]: "while-down" });
    await waitReason(ns, "on-held", "ServerUnavailable", 60_000);

    proxy = new RecordingProxy("127.0.0.1", postgres.port);
    await proxy.listen(port);
    await pokeServer(held);
    await waitServerReason(held, "Connected", 60_000);
    await eventually("the workspace is Ready again with its regeneration done", async () => {
      const obj = await getWorkspace(ns, "on-held");
      return obj?.status?.credentials?.readOnly?.regenerateToken === "while-down" && obj.status.conditions?.length === 1 && obj.status.conditions[0]?.status === "True" ? obj : undefined;
    }, 90_000);

    const serverLife = servers.of(held);
    expect(await checkLife("DatabaseServer", serverLife)).to.deep.equal(["InProgress", "Current", "InProgress", "Current"]);
    const workspaceLife = workspaces.of("on-held");
    const sequence = await checkLife("WorkspaceDatabase", workspaceLife);
    expect(sequence).to.not.include("Failed");
    expect(sequence[sequence.length - 1]).to.equal("Current");
    expect(workspaceLife.some(reasonIs("ServerUnavailable", "Reconciling")), "Reconciling=True ServerUnavailable while down").to.equal(true);
    await record("DatabaseServer", "server-unavailable", lastWhere(serverLife, reasonIs("ServerUnavailable", "Reconciling")));
    await record("WorkspaceDatabase", "server-unavailable", lastWhere(workspaceLife, reasonIs("ServerUnavailable", "Reconciling")));
  });
});
