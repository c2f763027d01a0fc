// End to end: workspaces provisioned on PostgreSQL 15, the cluster upgraded with a real pg_upgrade to
// 18. Logins keep working throughout; because 16+ grants ADMIN OPTION only at CREATE ROLE, the
// DatabaseServer reports PermissionDenied with the one statement a superuser runs, and everything
// converges (a password regenerated, drift repaired) once it is run (DESIGN.md, DatabaseServer).
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import type { LocalPostgresGround } from "../../ground/postgres.ts";
import { ANNOTATION_REGENERATE_BOTH } from "../../../src/api/types.ts";
import {
  annotateWorkspace,
  canLogin,
  createWorkspace,
  deleteDatabaseServer,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getDatabaseServer,
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

describe("a server upgraded from PostgreSQL 15 to 18 with pg_upgrade (end to end)", function () {
  this.timeout(300_000);
  const id = unique("upg");
  const ns = unique("ws-upg");
  let server: LocalPostgresGround;
  let operator: OperatorProcess;

  before(async function () {
    const ground = getGround();
    if (!ground.local) this.skip();
    server = await ground.startExtraPostgres(15);
    await ensureNamespace(ns);
    await registerServer(id, server);
    operator = startOperator({}, "upgrade");
  });

  after(async () => {
    for (const name of ["one", "two"]) await deleteWorkspace(ns, name).catch(() => undefined);
    for (const name of ["one", "two"]) await waitGone(ns, name, 60_000).catch(() => undefined);
    await operator?.stop();
    await deleteDatabaseServer(id);
    await server?.stop();
  });

  it("keeps logins working, reports PermissionDenied with the GRANT … WITH ADMIN OPTION statement, and converges once it is run", async () => {
    for (const name of ["one", "two"]) await createWorkspace(ns, name, { serverRef: { name: id } });
    const databases: string[] = [];
    for (const name of ["one", "two"]) databases.push((await waitReady(ns, name, 60_000)).status!.database!);
    const before = { rw: (await readSecret(ns, "one-rw"))!, ro: (await readSecret(ns, "one-ro"))! };
    await withLogin(before.rw.uri!, (c) => c.query("CREATE TABLE kept (x int); INSERT INTO kept VALUES (15)"));
    expect((await waitServerReason(id, "Connected")).status?.serverVersion).to.match(/^15\./);

    await server.upgradeTo18();
    expect(server.major).to.equal(18);
    const num = await superQueryOn<{ n: string }>(server, "SELECT current_setting('server_version_num') AS n");
    expect(Number(num[0]!.n)).to.be.at.least(180_000);

    // Every login still works with its old password, and its data is there.
    for (const name of ["one", "two"]) {
      for (const part of ["rw", "ro"]) expect(await canLogin((await readSecret(ns, `${name}-${part}`))!.uri!), `${name}-${part}`).to.equal(true);
    }
    await withLogin(before.ro.uri!, async (c) => expect((await c.query("SELECT x FROM kept")).rows).to.deep.equal([{ x: 15 }]));

    const denied = await waitServerReason(id, "PermissionDenied", 90_000);
    const message = denied.status!.conditions!.find((c) => c.type === "Ready")!.message;
    const roles = databases.flatMap((d) => [d, `${d}_ro`]).sort().map((r) => `"${r}"`).join(", ");
    const fix = `GRANT ${roles} TO "${server.adminUser}" WITH ADMIN OPTION;`;
    expect(message).to.contain(`a superuser runs once: ${fix}`);
    expect(message.endsWith(fix)).to.equal(true);
    expect(denied.status?.serverVersion).to.match(/^18\./);
    // Still nothing broken for the workspaces' users.
    for (const name of ["one", "two"]) {
      for (const part of ["rw", "ro"]) expect(await canLogin((await readSecret(ns, `${name}-${part}`))!.uri!), `${name}-${part}`).to.equal(true);
    }

    await superQueryOn(server, fix);
    await waitServerReason(id, "Connected", 60_000);

    // The admin manages the logins again: a regeneration goes through, and a privilege revoked by hand is repaired.
    const token = `t-${Date.now()}`;
    await annotateWorkspace(ns, "one", { [ANNOTATION_REGENERATE_BOTH]: token });
    await eventually("both passwords of one regenerated", async () => {
      const obj = await getWorkspace(ns, "one");
      const ok = obj?.status?.credentials?.readWrite?.regenerateToken === token && obj.status.credentials.readOnly?.regenerateToken === token;
      return ok && obj.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? obj : undefined;
    }, 60_000);
    const after = { rw: (await readSecret(ns, "one-rw"))!, ro: (await readSecret(ns, "one-ro"))! };
    expect(after.rw.password).to.not.equal(before.rw.password);
    expect(await canLogin(after.rw.uri!)).to.equal(true);
    expect(await canLogin(before.rw.uri!)).to.equal(false);
    await withLogin(after.ro.uri!, async (c) => expect((await c.query("SELECT x FROM kept")).rows).to.deep.equal([{ x: 15 }]));
    expect((await getDatabaseServer(id))?.status?.serverVersion).to.match(/^18\./);
    await waitReady(ns, "two", 60_000);
  });
});
