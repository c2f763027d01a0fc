// End to end: an admin role with NOINHERIT converges on every major. On 16 and later the operator
// grants itself each login WITH INHERIT TRUE, SET FALSE (exactly what it needs); before 16, where a
// membership inherits by the member's own attribute, it acts as the login with SET ROLE — to grant on
// what the login owns, to end its sessions and to drop what it owns (DESIGN.md, Privileges).
import { readFileSync } from "node:fs";
import { expect } from "chai";
import pg from "pg";
import { getGround } from "../../ground/index.ts";
import type { PostgresGround } from "../../ground/postgres.ts";
import { ANNOTATION_REGENERATE_RW } from "../../../src/api/types.ts";
import {
  annotateWorkspace,
  canLogin,
  createWorkspace,
  deleteDatabaseServer,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  readSecret,
  registerServer,
  superQueryOn,
  unique,
  waitGone,
  waitReady,
  waitServerReason,
  withLogin,
} from "../support/fixtures.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";

describe("a NOINHERIT admin role (end to end)", function () {
  this.timeout(240_000);
  const id = unique("noinh");
  const ns = unique("ws-noinh");
  const admin = `noinherit_${id.slice("noinh-".length).replace(/-/g, "_")}`;
  const password = "NoInherit-Admin-Pw-7";
  let server: PostgresGround;
  let operator: OperatorProcess;

  before(async function () {
    const ground = getGround();
    if (!ground.local) this.skip();
    server = await ground.startExtraPostgres(ground.postgres.major);
    await superQueryOn(server, `CREATE ROLE ${admin} LOGIN CREATEDB CREATEROLE NOINHERIT PASSWORD '${password}'`);
    await ensureNamespace(ns);
    await registerServer(id, server, { username: admin, password });
    operator = startOperator({}, "noinherit");
  });

  after(async () => {
    await deleteWorkspace(ns, "n").catch(() => undefined);
    await waitGone(ns, "n", 60_000).catch(() => undefined);
    await operator?.stop();
    await deleteDatabaseServer(id);
    await server?.stop();
  });

  it("provisions, repairs grants on the login's objects, rotates with its sessions ended, and deletes everything", async () => {
    await waitServerReason(id, "Connected", 60_000);
    await createWorkspace(ns, "n", { serverRef: { name: id }, deletionPolicy: "Delete" });
    const database = (await waitReady(ns, "n", 60_000)).status!.database!;
    const rw = (await readSecret(ns, "n-rw"))!;
    const ro = (await readSecret(ns, "n-ro"))!;

    // Membership as the operator grants it on this major.
    const [membership] = await superQueryOn<{ inherit: boolean; set: boolean }>(
      server,
      server.major >= 16
        ? "SELECT inherit_option AS inherit, set_option AS set FROM pg_auth_members WHERE roleid = $1::regrole AND member = $2::regrole AND grantor = $2::regrole"
        : "SELECT false AS inherit, true AS set FROM pg_auth_members WHERE roleid = $1::regrole AND member = $2::regrole",
      [`"${rw.username}"`, admin],
    );
    expect(membership, "the admin's membership in the read/write login").to.deep.equal(server.major >= 16 ? { inherit: true, set: false } : { inherit: false, set: true });

    // The read/write login's objects: readable by the read-only login, and repaired after a revoke by hand.
    await withLogin(rw.uri!, (c) => c.query("CREATE SCHEMA mine; CREATE TABLE mine.t (x int); INSERT INTO mine.t VALUES (1); CREATE TABLE public.p (x int)"));
    await withLogin(ro.uri!, (c) => c.query("SELECT x FROM mine.t; SELECT x FROM public.p"));
    await superQueryOn(server, `REVOKE SELECT ON mine.t, public.p FROM "${ro.username}"; REVOKE USAGE ON SCHEMA mine FROM "${ro.username}"`, [], database);
    await eventually("grants repaired on the login's objects", () =>
      withLogin(ro.uri!, (c) => c.query("SELECT x FROM mine.t; SELECT x FROM public.p")).then(() => true, () => undefined), 45_000, 1_000);

    // Rotation ends the login's open sessions.
    const session = new pg.Client({ connectionString: rw.uri! });
    session.on("error", () => undefined);
    await session.connect();
    const token = `t-${Date.now()}`;
    await annotateWorkspace(ns, "n", { [ANNOTATION_REGENERATE_RW]: token });
    await eventually("rw regenerated", async () => {
      const obj = await getWorkspace(ns, "n");
      return obj?.status?.credentials?.readWrite?.regenerateToken === token && obj.status.conditions?.find((c) => c.type === "Ready")?.status === "True" ? obj : undefined;
    }, 60_000);
    const alive = await session.query("SELECT 1").then(() => true, () => false);
    await session.end().catch(() => undefined);
    expect(alive, "the session opened with the old password").to.equal(false);
    const rw2 = (await readSecret(ns, "n-rw"))!;
    expect(await canLogin(rw2.uri!)).to.equal(true);

    // Something the login owns outside its database (a large object in the maintenance database, which
    // PUBLIC may connect to here): dropped with DROP OWNED BY, as the login before 16. Then deletion.
    const maintenance = new URL(rw2.uri!);
    maintenance.pathname = "/postgres";
    await withLogin(maintenance.toString(), (c) => c.query("SELECT lo_create(0)"));
    expect((await waitServerReason(id, "Connected")).status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
    await deleteWorkspace(ns, "n");
    await waitGone(ns, "n", 90_000);
    // What the server ran: SET ROLE before 16 only.
    const log = readFileSync(server.logFile!, "utf8");
    const actedAs = [
      `SET ROLE "${rw.username}"; GRANT SELECT ON TABLE`,
      `SET ROLE "${rw.username}"; DROP OWNED BY "${rw.username}"; RESET ROLE`,
      `SET ROLE "${rw.username}"\n`,
    ];
    for (const text of actedAs) expect(log.includes(text), text).to.equal(server.major < 16);
    expect(log.includes(`GRANT "${rw.username}" TO "${admin}"${server.major >= 16 ? " WITH INHERIT TRUE, SET FALSE" : ""}\n`)).to.equal(true);
    const left = await superQueryOn<{ name: string }>(
      server,
      "SELECT datname AS name FROM pg_database WHERE datname = $1 UNION ALL SELECT rolname FROM pg_roles WHERE rolname IN ($2, $3)",
      [database, rw.username, ro.username],
    );
    expect(left).to.deep.equal([]);
  });
});
