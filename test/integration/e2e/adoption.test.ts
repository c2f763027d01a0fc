// End to end, on the ground's PostgreSQL (18) and on 15: an existing unmarked database and its logins are adopted
// only with spec.databaseName and the Namespace annotation, and only when the roles hold nothing privileged.
import { expect } from "chai";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  annotateNamespace,
  createWorkspace,
  ensureNamespace,
  getWorkspace,
  readSecret,
  unique,
  waitEvent,
  waitReady,
  waitReason,
  withLogin,
} from "../support/fixtures.ts";
import { roleSnapshots, superOn, targetOf, urlOf, type Target } from "../support/targets.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";

function messageOf(obj: { status?: { conditions?: { type: string; message: string }[] } } | undefined): string {
  return obj?.status?.conditions?.find((c) => c.type === "Ready")?.message ?? "";
}

for (const which of ["ground", 15] as const) {
  describe(`adoption on ${which === "ground" ? "the ground's PostgreSQL" : "PostgreSQL 15"} (end to end)`, function () {
    this.timeout(300_000);
    let operator: OperatorProcess;
    let target: Target;
    const id = unique("adopt").slice(6).replace(/-/g, "_");
    const ns = `adopt-${id.replace(/_/g, "-")}`;
    const ohx = `ohx_${id}`;
    const privileged = `ohxcr_${id}`;
    const member = `ohxmem_${id}`;

    /** An OpenHEXA-style workspace: database owned by its read/write role, a read-only role, a table with rows. */
    async function openhexaWorkspace(database: string, roleOptions = "", readOnlyOptions = ""): Promise<void> {
      const p = target.postgres;
      // The platform being replaced used the same admin role (so PostgreSQL 16+ gave it ADMIN OPTION on them).
      const admin = urlOf(p, p.adminUser, p.adminPassword);
      await withLogin(admin, async (c) => {
        await c.query(`CREATE ROLE "${database}" LOGIN PASSWORD '${scramSha256Verifier("Openhexa-Rw-Password-1")}'`);
        await c.query(`CREATE ROLE "${database}_ro" LOGIN PASSWORD '${scramSha256Verifier("Openhexa-Ro-Password-1")}'`);
      });
      if (roleOptions !== "") await superOn(p, `ALTER ROLE "${database}" ${roleOptions}`);
      if (readOnlyOptions !== "") await superOn(p, readOnlyOptions);
      await superOn(p, `CREATE DATABASE "${database}" OWNER "${database}" TEMPLATE template0`);
      await superOn(p, `REVOKE ALL ON DATABASE "${database}" FROM PUBLIC`);
      await withLogin(urlOf(p, database, "Openhexa-Rw-Password-1", database), async (c) => {
        await c.query("CREATE TABLE cases (id int PRIMARY KEY, district text)");
        await c.query("INSERT INTO cases SELECT g, 'district ' || g FROM generate_series(1, 250) g");
      });
    }

    before(async function () {
      if (which !== "ground" && !(await import("../../ground/index.ts")).getGround().local) this.skip();
      target = await targetOf(which, `adopt-${which}-${id.replace(/_/g, "-")}`);
      await ensureNamespace(ns);
      operator = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: `lease-${ns}` }, `adoption-${which}`);
    });

    afterEach(function () {
      if (this.currentTest?.state === "failed" && process.env.WSDB_TEST_DEBUG) process.stderr.write(operator.log().split("\n").filter((l) => l.includes("ohx")).slice(-30).join("\n"));
    });

    after(async () => {
      await operator?.stop();
    });

    it("refuses without the Namespace annotation and changes nothing; adopts once annotated, keeping the data", async () => {
      await openhexaWorkspace(ohx);
      const roles = [ohx, `${ohx}_ro`];
      const before = await roleSnapshots(target.postgres, roles);
      await createWorkspace(ns, "ohx", { serverRef: { name: target.server }, databaseName: ohx });
      const refused = await waitReason(ns, "ohx", "Conflict", 60_000);
      expect(messageOf(refused)).to.contain(`workspacedb.io/adopt: ${ohx} on namespace ${ns}`);
      expect(await roleSnapshots(target.postgres, roles)).to.deep.equal(before);
      expect((await superOn<{ c: string | null }>(target.postgres, "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1", [ohx]))[0]?.c).to.equal(null);

      await annotateNamespace(ns, { "workspacedb.io/adopt": `${ohx},${privileged} ${member}, postgres, template1` });
      const obj = await waitReady(ns, "ohx", 150_000);
      expect(obj.status?.database).to.equal(ohx);
      expect((await waitEvent(ns, "ohx", "Adopted")).message).to.contain(ohx);
      const after = await roleSnapshots(target.postgres, roles);
      expect(after[ohx]?.comment).to.equal(`workspacedb.io/v2 owner=${ns}/ohx part=read-write`);
      expect(after[`${ohx}_ro`]?.comment).to.equal(`workspacedb.io/v2 owner=${ns}/ohx part=read-only`);
      const rows = await superOn<{ n: string }>(target.postgres, "SELECT count(*) AS n FROM cases", [], ohx);
      expect(rows[0]?.n).to.equal("250");
      const ro = (await readSecret(ns, "ohx-ro"))!;
      expect(await withLogin(ro.uri!, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM cases")).rows[0]?.n)).to.equal("250");
      const rw = (await readSecret(ns, "ohx-rw"))!;
      await withLogin(rw.uri!, async (c) => c.query("INSERT INTO cases VALUES (251, 'new')"));
    });

    it("refuses a role with CREATEROLE, and a role that is a member of another role, even when annotated", async () => {
      await openhexaWorkspace(privileged, "CREATEROLE");
      await openhexaWorkspace(member, "", `GRANT pg_read_all_data TO "${member}_ro"`);
      const before = await roleSnapshots(target.postgres, [privileged, `${privileged}_ro`, member, `${member}_ro`]);
      await createWorkspace(ns, "privileged", { serverRef: { name: target.server }, databaseName: privileged });
      await createWorkspace(ns, "member", { serverRef: { name: target.server }, databaseName: member });
      expect(messageOf(await waitReason(ns, "privileged", "Conflict", 60_000))).to.contain(`role "${privileged}" has CREATEROLE`);
      expect(messageOf(await waitReason(ns, "member", "Conflict", 60_000))).to.contain(`role "${member}_ro" is a member of "pg_read_all_data"`);
      expect(await roleSnapshots(target.postgres, [privileged, `${privileged}_ro`, member, `${member}_ro`])).to.deep.equal(before);
      const rows = await superOn<{ n: string }>(target.postgres, "SELECT count(*) AS n FROM cases", [], privileged);
      expect(rows[0]?.n).to.equal("250");
    });

    it("never adopts the maintenance database or a template, even when annotated", async () => {
      await createWorkspace(ns, "maintenance", { serverRef: { name: target.server }, databaseName: "postgres" });
      await createWorkspace(ns, "template", { serverRef: { name: target.server }, databaseName: "template1" });
      expect(messageOf(await waitReason(ns, "maintenance", "Conflict", 60_000))).to.contain("maintenance database");
      expect(messageOf(await waitReason(ns, "template", "Conflict", 60_000))).to.contain("template");
      expect((await getWorkspace(ns, "maintenance"))?.status?.database).to.equal(undefined);
      const comments = await superOn<{ c: string | null }>(target.postgres, "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname IN ('postgres', 'template1')");
      for (const row of comments) expect(row.c ?? "").to.not.contain("workspacedb.io");
    });
  });
}
