// End to end: DatabaseServer status (connected, unreachable, missing Secret, weak admin role), a
// WorkspaceDatabase waiting for its server, and what kubectl shows (DESIGN.md, Status).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { freePort } from "../../ground/procs.ts";
import { deriveDatabaseName } from "../../../src/postgres/naming.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  SYSTEM_NAMESPACE,
  asSuperuser,
  canLogin,
  clients,
  createAdminSecret,
  createDatabaseServer,
  createWorkspace,
  deleteDatabaseServer,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getDatabaseServer,
  getWorkspace,
  patchDatabaseServer,
  readSecret,
  setupServer,
  unique,
  annotateWorkspace,
  labelNamespace,
  waitGone,
  waitReady,
  waitReason,
  waitServerReason,
  withLogin,
} from "../support/fixtures.ts";

const execFileP = promisify(execFile);
const KUBECTL = "/usr/bin/kubectl";

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await execFileP(KUBECTL, ["--kubeconfig", getGround().kubeconfigPath, ...args], { timeout: 90_000 });
  return stdout;
}

async function deleteAdminSecret(name: string): Promise<void> {
  const { core } = clients();
  await core.deleteNamespacedSecret({ namespace: SYSTEM_NAMESPACE, name }).catch(() => undefined);
}

function readyOf(server: { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }) {
  return server.status?.conditions?.find((c) => c.type === "Ready");
}

describe("database servers (end to end)", function () {
  this.timeout(180_000);
  let operator: OperatorProcess;
  const ns = unique("ws-srv");
  const closed = unique("closed");
  const noSecret = unique("nosecret");
  const weak = unique("weak");
  const late = unique("late");
  const weakRole = `weak_${weak.slice("weak-".length).replace(/-/g, "_")}`;
  const weakPassword = "W3ak-admin-pw";

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator();
  });
  after(async () => {
    for (const name of ["counted", "waiting", "on-closed", "on-weak"]) await deleteWorkspace(ns, name);
    for (const name of ["counted", "waiting", "on-closed", "on-weak"]) await waitGone(ns, name).catch(() => undefined);
    await operator?.stop();
    for (const name of [closed, noSecret, weak, late]) await deleteDatabaseServer(name);
    for (const name of [`${noSecret}-admin`, `${weak}-admin`]) await deleteAdminSecret(name);
  });

  it("reports a reachable server Ready with reason Connected, its version and its number of workspace databases", async () => {
    const server = await waitServerReason("main", "Connected");
    expect(readyOf(server)?.status).to.equal("True");
    expect(server.status?.serverVersion).to.match(/^1[4-9]\.\d+$/);
    expect(server.status?.databases).to.be.a("number");
    expect(server.status?.observedGeneration).to.equal(server.metadata.generation);

    // The count follows the workspace databases on the server (re-checked on resync).
    await createWorkspace(ns, "counted");
    await waitReady(ns, "counted");
    const marked = async () => asSuperuser("postgres", async (c) => Number((await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_database WHERE NOT datistemplate AND shobj_description(oid, 'pg_database') ~ '^workspacedb\\.io/(owner: |v2 owner=.* part=database$)'",
    )).rows[0]?.n));
    expect(await marked()).to.be.at.least(1);
    const counted = await eventually("status.databases counts the workspace databases", async () => {
      const s = await getDatabaseServer("main");
      return s?.status?.databases === (await marked()) ? s.status.databases : undefined;
    }, 30_000, 1_000);
    expect(counted).to.be.at.least(1);
  });

  it("reports a server on a closed port ServerUnavailable with a helpful message, and recovers once the port is fixed", async () => {
    const port = await freePort();
    await createDatabaseServer(closed, { port });
    const down = await waitServerReason(closed, "ServerUnavailable");
    const ready = readyOf(down)!;
    expect(ready.status).to.equal("False");
    expect(ready.message).to.contain(String(port));
    expect(ready.message).to.match(/unreachable|refused|cannot connect/i);

    // A WorkspaceDatabase on it says so, and is provisioned once the server is fixed.
    await createWorkspace(ns, "on-closed", { serverRef: { name: closed } });
    const waiting = await waitReason(ns, "on-closed", "ServerUnavailable");
    expect(waiting.status!.conditions!.find((c) => c.type === "Ready")?.status).to.equal("False");

    await patchDatabaseServer(closed, { port: getGround().postgres.port });
    const up = await waitServerReason(closed, "Connected");
    expect(readyOf(up)?.status).to.equal("True");
    expect(up.status?.serverVersion).to.match(/^1[4-9]\.\d+$/);
    const obj = await waitReady(ns, "on-closed", 60_000);
    expect(obj.status?.server).to.equal(closed);
    expect(await canLogin((await readSecret(ns, "on-closed-rw"))!.uri!)).to.equal(true);
  });

  it("reports a server whose admin Secret is missing AdminSecretNotFound, and recovers when the Secret is created", async () => {
    const secret = `${noSecret}-admin`;
    await createDatabaseServer(noSecret, { adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: secret } });
    const missing = await waitServerReason(noSecret, "AdminSecretNotFound");
    expect(readyOf(missing)?.status).to.equal("False");
    expect(readyOf(missing)?.message).to.contain(`${SYSTEM_NAMESPACE}/${secret}`);

    const { adminUser, adminPassword } = getGround().postgres;
    await createAdminSecret(secret, adminUser, adminPassword);
    const up = await waitServerReason(noSecret, "Connected", 60_000);
    expect(readyOf(up)?.status).to.equal("True");
  });

  it("reports an admin role without CREATEROLE as PermissionDenied, naming what is missing", async () => {
    await asSuperuser("postgres", async (c) => c.query(`CREATE ROLE ${weakRole} LOGIN CREATEDB PASSWORD '${weakPassword}'`));
    await createAdminSecret(`${weak}-admin`, weakRole, weakPassword);
    await createDatabaseServer(weak, { adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${weak}-admin` } });
    const denied = await waitServerReason(weak, "PermissionDenied");
    const ready = readyOf(denied)!;
    expect(ready.status).to.equal("False");
    expect(ready.message).to.contain("CREATEROLE");
    expect(ready.message).to.not.contain("CREATEDB");
    expect(ready.message).to.not.contain(weakPassword);

    // A WorkspaceDatabase on it is not Ready and says why.
    await createWorkspace(ns, "on-weak", { serverRef: { name: weak } });
    const obj = await eventually("on-weak reports a reason", async () => {
      const o = await getWorkspace(ns, "on-weak");
      const r = o?.status?.conditions?.find((c) => c.type === "Ready");
      return r && r.reason !== "Provisioning" ? r : undefined;
    });
    expect(obj.status).to.equal("False");
    expect(obj.reason).to.equal("PermissionDenied");
    expect(obj.message).to.contain("CREATEROLE");
    // Nothing half-made is left behind on that server.
    const database = deriveDatabaseName(ns, "on-weak");
    const leftovers = await asSuperuser("postgres", async (c) =>
      (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = $1 UNION ALL SELECT rolname FROM pg_roles WHERE rolname IN ($1, $2)", [database, `${database}_ro`])).rows);
    expect(leftovers).to.deep.equal([]);
  });

  it("reports a WorkspaceDatabase whose server does not exist ServerNotFound, and provisions it once that server is created", async () => {
    await createWorkspace(ns, "waiting", { serverRef: { name: late } });
    const waiting = await waitReason(ns, "waiting", "ServerNotFound");
    const ready = waiting.status!.conditions!.find((c) => c.type === "Ready")!;
    expect(ready.status).to.equal("False");
    expect(ready.message).to.contain(late);
    expect(await readSecret(ns, "waiting-rw")).to.equal(undefined);

    await createDatabaseServer(late);
    const obj = await waitReady(ns, "waiting", 60_000);
    expect(obj.status?.server).to.equal(late);
    const rw = (await readSecret(ns, "waiting-rw"))!;
    await withLogin(rw.uri!, async (c) => c.query("SELECT 1"));
  });

  it("lists on a Ready server what only a superuser can harden, with the statements", async () => {
    const server = await waitServerReason("main", "Connected");
    const items = server.status?.hardening ?? [];
    const names = items.map((i) => i.name);
    expect(names).to.include.members(["large-objects", "maintenance-database"]);
    if (getGround().postgres.major >= 16) expect(names).to.include("reserved-connections");
    const maintenance = items.find((i) => i.name === "maintenance-database")!;
    expect(maintenance.statements).to.include(`GRANT CONNECT ON DATABASE "postgres" TO "${getGround().postgres.adminUser}";`);
    expect(items.find((i) => i.name === "large-objects")!.statements.join(" ")).to.contain("lo_create(oid)");
  });

  it("is not deleted while a WorkspaceDatabase uses it (Deleting, naming it), and goes once that is deleted", async () => {
    const inUse = unique("inuse");
    await createDatabaseServer(inUse);
    await waitServerReason(inUse, "Connected");
    await createWorkspace(ns, "on-inuse", { serverRef: { name: inUse } });
    await waitReady(ns, "on-inuse");
    await deleteDatabaseServer(inUse);
    const deleting = await waitServerReason(inUse, "Deleting");
    expect(readyOf(deleting)?.message).to.contain(`1 WorkspaceDatabase(s) still use this server (${ns}/on-inuse)`);
    expect(deleting.status?.workspaceDatabases).to.equal(1);
    // Its workspace keeps working meanwhile.
    expect(await canLogin((await readSecret(ns, "on-inuse-rw"))!.uri!)).to.equal(true);
    await deleteWorkspace(ns, "on-inuse");
    await waitGone(ns, "on-inuse");
    await eventually("the server is gone", async () => ((await getDatabaseServer(inUse)) === undefined ? true : undefined), 60_000);
  });

  it("accepts WorkspaceDatabases only from namespaces its namespaceSelector matches (NotAllowed), keeps a provisioned one untouched when its namespace stops matching, and still cleans up on deletion", async () => {
    const selective = unique("selective");
    const other = unique("ws-sel");
    await ensureNamespace(other);
    await createDatabaseServer(selective, { namespaceSelector: { matchLabels: { "platform/workspace": "true" } } });
    await createWorkspace(other, "picky", { serverRef: { name: selective } });
    const refused = await waitReason(other, "picky", "NotAllowed");
    expect(refused.status?.conditions?.[0]?.message).to.contain("platform/workspace=true");
    expect(refused.status?.database).to.equal(undefined);
    const database = deriveDatabaseName(other, "picky");
    const exists = async () => (await asSuperuser("postgres", async (c) => (await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rows.length)) > 0;
    expect(await exists()).to.equal(false);

    await labelNamespace(other, { "platform/workspace": "true" });
    await annotateWorkspace(other, "picky", { "example.org/poke": "1" });
    await waitReady(other, "picky", 90_000);
    const rw = (await readSecret(other, "picky-rw"))!;

    await labelNamespace(other, { "platform/workspace": null });
    await annotateWorkspace(other, "picky", { "example.org/poke": "2" });
    const kept = await waitReason(other, "picky", "NotAllowed");
    expect(kept.status?.conditions?.[0]?.message).to.contain("kept untouched");
    expect(await exists()).to.equal(true);
    expect(await canLogin(rw.uri!)).to.equal(true);

    await deleteWorkspace(other, "picky");
    await waitGone(other, "picky");
    expect(await canLogin(rw.uri!), "Retain disabled the login on deletion").to.equal(false);
    expect(await exists(), "Retain kept the database").to.equal(true);
    await deleteDatabaseServer(selective);
  });

  it("refuses a connectionLimit above the server's maxConnectionLimit (InvalidSpec, nothing created), and provisions once it fits", async () => {
    const capped = unique("capped");
    await createDatabaseServer(capped, { maxConnectionLimit: 20 });
    await createWorkspace(ns, "greedy", { serverRef: { name: capped }, connectionLimit: 500 });
    const refused = await waitReason(ns, "greedy", "InvalidSpec");
    expect(refused.status?.conditions?.[0]?.message).to.contain(`spec.connectionLimit 500 is above the maximum 20 that DatabaseServer "${capped}" allows`);
    expect(refused.status?.database).to.equal(undefined);
    const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
    await clients().custom.patchNamespacedCustomObject(
      { group: "workspacedb.io", version: "v1alpha1", namespace: ns, plural: "workspacedatabases", name: "greedy", body: { spec: { connectionLimit: 20 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const ready = await waitReady(ns, "greedy");
    const limits = await asSuperuser("postgres", async (c) => (await c.query<{ n: number }>("SELECT rolconnlimit AS n FROM pg_roles WHERE rolname = $1", [ready.status!.database!])).rows);
    expect(limits).to.deep.equal([{ n: 20 }]);
    await deleteWorkspace(ns, "greedy");
    await waitGone(ns, "greedy");
    await deleteDatabaseServer(capped);
  });

  it("shows database, server, readiness and reason in `kubectl get wsdb`, and `kubectl wait --for=condition=Ready` succeeds", async () => {
    const obj = await waitReady(ns, "waiting");
    const out = await kubectl("get", "wsdb", "-n", ns);
    const [header = "", ...rows] = out.trim().split("\n");
    expect(header.split(/\s+/)).to.deep.equal(["NAME", "DATABASE", "SERVER", "READY", "REASON", "AGE"]);
    const row = rows.map((r) => r.split(/\s+/)).find((cells) => cells[0] === "waiting");
    expect(row?.slice(0, 5)).to.deep.equal(["waiting", obj.status!.database!, late, "True", "Provisioned"]);

    const waited = await kubectl("wait", "--for=condition=Ready", "wsdb/waiting", "-n", ns, "--timeout=60s");
    expect(waited).to.contain("condition met");
  });
});
