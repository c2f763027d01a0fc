// End to end: a WorkspaceDatabase becomes a database, two logins and two Secrets that work.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  asSuperuser,
  canLogin,
  clients,
  createWorkspace,
  deleteWorkspace,
  ensureNamespace,
  readSecret,
  setupServer,
  unique,
  waitReady,
  withLogin,
} from "../support/fixtures.ts";

describe("provisioning (end to end)", function () {
  this.timeout(120_000);
  let operator: OperatorProcess;
  const ns = unique("ws-prov");

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator();
  });
  after(async () => {
    await operator?.stop();
  });

  it("creates the database, both logins and both Secrets, and reports Ready", async () => {
    await createWorkspace(ns, "malaria");
    const obj = await waitReady(ns, "malaria");
    expect(obj.metadata.finalizers).to.include("workspacedb.io/finalizer");
    expect(obj.status?.server).to.equal("main");
    const database = obj.status?.database ?? "";
    expect(database).to.match(/^[a-z][a-z0-9_]*$/);
    expect(obj.status?.credentials?.readWrite?.username).to.equal(database);
    expect(obj.status?.credentials?.readOnly?.username).to.equal(`${database}_ro`);
    expect(obj.status?.observedGeneration).to.equal(obj.metadata.generation);

    const rw = await readSecret(ns, "malaria-rw");
    const ro = await readSecret(ns, "malaria-ro");
    expect(rw).to.not.equal(undefined);
    expect(ro).to.not.equal(undefined);
    for (const secret of [rw!, ro!]) {
      for (const key of ["host", "port", "database", "username", "password", "sslmode", "uri", "jdbc-uri", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE", "DATABASE_URL", "WORKSPACE_DATABASE_HOST", "WORKSPACE_DATABASE_PORT", "WORKSPACE_DATABASE_DB_NAME", "WORKSPACE_DATABASE_USERNAME", "WORKSPACE_DATABASE_PASSWORD", "WORKSPACE_DATABASE_URL"]) {
        expect(secret, key).to.have.property(key);
      }
      expect(secret.password).to.have.length(32);
      expect(secret).to.not.have.property("external-host");
    }
    expect(ro!.username).to.equal(`${database}_ro`);
    expect(await canLogin(rw!.uri!)).to.equal(true);
    expect(await canLogin(ro!.uri!)).to.equal(true);

    await withLogin(rw!.uri!, async (c) => {
      await c.query("CREATE TABLE cases (id serial primary key, n int)");
      await c.query("INSERT INTO cases (n) VALUES (1), (2)");
    });
    const count = await withLogin(ro!.uri!, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM cases")).rows[0]?.n);
    expect(count).to.equal("2");
  });

  it("labels the Secrets and makes the WorkspaceDatabase their controller", async () => {
    const { core } = clients();
    const secret = await core.readNamespacedSecret({ namespace: ns, name: "malaria-ro" });
    expect(secret.metadata?.labels).to.include({
      "app.kubernetes.io/managed-by": "workspacedb-operator",
      "workspacedb.io/database": "malaria",
      "workspacedb.io/access": "read-only",
    });
    const owner = secret.metadata?.ownerReferences?.[0];
    expect(owner?.kind).to.equal("WorkspaceDatabase");
    expect(owner?.name).to.equal("malaria");
    expect(owner?.controller).to.equal(true);
  });

  it("sets the connection limit and timeouts on the database and marks its owner", async () => {
    const obj = await waitReady(ns, "malaria");
    const database = obj.status!.database!;
    const row = await asSuperuser("postgres", async (c) =>
      (await c.query<{ datconnlimit: number; owner: string; comment: string | null; settings: string[] | null }>(
        `SELECT d.datconnlimit, pg_get_userbyid(d.datdba) AS owner, shobj_description(d.oid, 'pg_database') AS comment,
                (SELECT setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings
           FROM pg_database d WHERE d.datname = $1`, [database])).rows[0]);
    expect(row?.datconnlimit).to.equal(50);
    expect(row?.owner).to.equal(getGround().postgres.adminUser);
    expect(row?.comment).to.contain(`${ns}/malaria`);
    expect(row?.settings).to.include.members(["statement_timeout=90min", "idle_in_transaction_session_timeout=5min"]);
  });

  it("deletes with Retain by default: data and roles stay, logins are disabled, Secrets removed", async () => {
    const obj = await waitReady(ns, "malaria");
    const database = obj.status!.database!;
    await deleteWorkspace(ns, "malaria");
    const { eventually, getWorkspace } = await import("../support/fixtures.ts");
    await eventually("object gone", async () => ((await getWorkspace(ns, "malaria")) === undefined ? true : undefined));
    expect(await readSecret(ns, "malaria-rw")).to.equal(undefined);
    const roles = await asSuperuser("postgres", async (c) =>
      (await c.query<{ rolname: string; rolcanlogin: boolean }>("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY 1", [database, `${database}_ro`])).rows);
    expect(roles).to.deep.equal([
      { rolname: database, rolcanlogin: false },
      { rolname: `${database}_ro`, rolcanlogin: false },
    ]);
    const n = await asSuperuser(database, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM cases")).rows[0]?.n);
    expect(n).to.equal("2");

    // Applied again: the same database with its data, and logins that work with new passwords.
    await createWorkspace(ns, "malaria");
    const again = await waitReady(ns, "malaria");
    expect(again.status?.database).to.equal(database);
    const rw = await readSecret(ns, "malaria-rw");
    const rows = await withLogin(rw!.uri!, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM cases")).rows[0]?.n);
    expect(rows).to.equal("2");
  });
});
