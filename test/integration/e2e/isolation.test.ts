// End to end, on the ground's PostgreSQL (18) and on 15: a hostile tenant's WorkspaceDatabase never touches a
// role, database or session that is not its own (issue "tenant isolation", attacks 1-3), nor does deleting it.
import { expect } from "chai";
import type pg from "pg";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";
import type { WorkspaceDatabase } from "../../../src/api/types.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  canLogin,
  createWorkspace,
  deleteWorkspace,
  ensureNamespace,
  getWorkspace,
  listEvents,
  openSession,
  readSecret,
  unique,
  waitGone,
  waitReady,
  waitReason,
} from "../support/fixtures.ts";
import { databaseExists, roleSnapshots, superOn, targetOf, urlOf, type RoleSnapshot, type Target } from "../support/targets.ts";

/** True while the session still answers a query. */
async function alive(session: pg.Client): Promise<boolean> {
  return session.query("SELECT 1").then(() => true, () => false);
}

function readyOf(obj: WorkspaceDatabase | undefined): { status: string; reason: string; message: string } | undefined {
  return obj?.status?.conditions?.find((c) => c.type === "Ready");
}

for (const which of ["ground", 15] as const) {
  describe(`tenant isolation on ${which === "ground" ? "the ground's PostgreSQL" : "PostgreSQL 15"} (end to end)`, function () {
    this.timeout(300_000);
    let operator: OperatorProcess;
    let target: Target;
    const id = unique("iso").slice(4);
    const victimNs = `iso-victim-${id}`;
    const attackerNs = `iso-attacker-${id}`;
    const byHand = `superset_${id.replace(/-/g, "_")}`;
    let victimDb = "";
    let protectedRoles: string[] = [];
    let baseline: Record<string, RoleSnapshot> = {};
    const sessions: pg.Client[] = [];

    before(async function () {
      if (which !== "ground" && !(await import("../../ground/index.ts")).getGround().local) this.skip();
      target = await targetOf(which, `iso-${which}-${id}`);
      await ensureNamespace(victimNs);
      await ensureNamespace(attackerNs);
      operator = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: `lease-${id}` }, `isolation-${which}`);
      // A role made by hand (a BI tool's service account), with no database of its name.
      await superOn(target.postgres, `CREATE ROLE "${byHand}" LOGIN PASSWORD '${scramSha256Verifier("Hand-Made-Password-1")}'`);
      await createWorkspace(victimNs, "victim", { serverRef: { name: target.server } });
      const victim = await waitReady(victimNs, "victim", 90_000);
      victimDb = victim.status!.database!;
      protectedRoles = [target.postgres.adminUser, byHand, victimDb, `${victimDb}_ro`];
      const rw = (await readSecret(victimNs, "victim-rw"))!;
      const ro = (await readSecret(victimNs, "victim-ro"))!;
      sessions.push(await openSession(rw.uri!), await openSession(ro.uri!));
      baseline = await roleSnapshots(target.postgres, protectedRoles);
      expect(Object.keys(baseline)).to.have.length(4);
    });

    after(async () => {
      for (const s of sessions) await s.end().catch(() => undefined);
      await operator?.stop();
      if (target !== undefined) await superOn(target.postgres, `DROP ROLE IF EXISTS "${byHand}"`).catch(() => undefined);
    });

    /** Nothing the attacker could have reached changed: roles, the victim's database, sessions and readiness. */
    async function expectVictimsUntouched(when: string): Promise<void> {
      // The admin role becomes a member of every new workspace's logins: that list may only grow by those.
      const now = await roleSnapshots(target.postgres, protectedRoles);
      const admin = target.postgres.adminUser;
      const adminMemberships = now[admin]?.member_of ?? [];
      expect(adminMemberships, `${when}: the admin is a member of no role it did not create`).to.not.include(byHand);
      expect({ ...now, [admin]: { ...now[admin], member_of: [] } }, when).to.deep.equal({ ...baseline, [admin]: { ...baseline[admin], member_of: [] } });
      expect(await canLogin(urlOf(target.postgres, admin, target.postgres.adminPassword)), `${when}: the admin role still logs in with its own password`).to.equal(true);
      expect(await canLogin(urlOf(target.postgres, byHand, "Hand-Made-Password-1")), `${when}: the hand-made role still logs in`).to.equal(true);
      expect(await databaseExists(target.postgres, victimDb), when).to.equal(true);
      for (const s of sessions) expect(await alive(s), `${when}: the victim's sessions are still open`).to.equal(true);
      const rw = (await readSecret(victimNs, "victim-rw"))!;
      const ro = (await readSecret(victimNs, "victim-ro"))!;
      expect(await canLogin(rw.uri!), when).to.equal(true);
      expect(await canLogin(ro.uri!), when).to.equal(true);
      expect(readyOf(await getWorkspace(victimNs, "victim"))?.status, `${when}: the victim stays Ready`).to.equal("True");
    }

    it("refuses, with Conflict and a Warning Event, the admin role, a hand-made role and another workspace's database as databaseName, and changes nothing, before and after deletion (Retain and Delete)", async () => {
      const attacks = [
        { name: "admin", databaseName: target.postgres.adminUser, says: /never taken over|admin role/ },
        { name: "byhand", databaseName: byHand, says: new RegExp(`"${byHand}".*never taken over`) },
        { name: "thief", databaseName: victimDb, says: new RegExp(`belongs to WorkspaceDatabase ${victimNs}/victim`) },
      ];
      const objects: string[] = [];
      for (const attack of attacks) {
        for (const policy of ["Retain", "Delete"] as const) {
          const name = `${attack.name}-${policy.toLowerCase()}`;
          objects.push(name);
          await createWorkspace(attackerNs, name, { serverRef: { name: target.server }, databaseName: attack.databaseName, deletionPolicy: policy });
        }
      }
      for (const attack of attacks) {
        for (const policy of ["retain", "delete"]) {
          const name = `${attack.name}-${policy}`;
          const obj = await waitReason(attackerNs, name, "Conflict", 60_000);
          expect(readyOf(obj)?.status).to.equal("False");
          expect(readyOf(obj)?.message, name).to.match(attack.says);
          expect(readyOf(obj)?.message, name).to.contain("nothing was changed");
          expect(obj.status?.database, `${name} records no database it could later clean up`).to.equal(undefined);
          expect((await listEvents(attackerNs, name)).some((e) => e.type === "Warning" && e.reason === "Conflict"), name).to.equal(true);
          expect(await readSecret(attackerNs, `${name}-rw`), `${name} got no Secret`).to.equal(undefined);
        }
      }
      expect(await databaseExists(target.postgres, byHand), "no database was created for the hand-made role").to.equal(false);
      expect(await databaseExists(target.postgres, target.postgres.adminUser)).to.equal(false);
      await expectVictimsUntouched("while the attacks are in place");

      for (const name of objects) await deleteWorkspace(attackerNs, name);
      for (const name of objects) await waitGone(attackerNs, name, 60_000);
      await expectVictimsUntouched("after the attackers were deleted");
    });

    it("rejects at admission a databaseName that ends in _ro or starts with pg_", async () => {
      for (const databaseName of [`${victimDb}_ro`, "pg_signal_backend", "pg_x"]) {
        const code = await createWorkspace(attackerNs, unique("ro"), { serverRef: { name: target.server }, databaseName }).then(
          () => 0,
          (err: unknown) => (err as { code?: number }).code,
        );
        expect(code, databaseName).to.equal(422);
      }
    });

    it("gives objects foo and ro in namespace foo distinct logins (the derived name never ends in _ro)", async () => {
      const ns = `foo${id.replace(/-/g, "")}`.slice(0, 40);
      await ensureNamespace(ns);
      await createWorkspace(ns, ns, { serverRef: { name: target.server } });
      const foo = await waitReady(ns, ns, 90_000);
      const fooRo = (await readSecret(ns, `${ns}-ro`))!;
      const session = await openSession(fooRo.uri!);
      sessions.push(session);
      const fooRoBefore = await roleSnapshots(target.postgres, [fooRo.username!]);

      await createWorkspace(ns, "ro", { serverRef: { name: target.server } });
      const ro = await waitReady(ns, "ro", 90_000);
      expect(foo.status?.credentials?.readOnly?.username).to.equal(`${ns}_ro`);
      expect(ro.status?.database).to.match(new RegExp(`^${ns}_ro_[0-9a-f]{8}$`));
      expect(ro.status?.credentials?.readWrite?.username).to.not.equal(foo.status?.credentials?.readOnly?.username);
      expect(await roleSnapshots(target.postgres, [fooRo.username!])).to.deep.equal(fooRoBefore);
      expect(await alive(session)).to.equal(true);
      for (const secret of [`${ns}-rw`, `${ns}-ro`, "ro-rw", "ro-ro"]) expect(await canLogin((await readSecret(ns, secret))!.uri!), secret).to.equal(true);
      await expectVictimsUntouched("after foo and ro");
    });

    it("lets no tenant block another workspace's deletion by granting its logins privileges, nor its own by leaving objects elsewhere", async () => {
      await createWorkspace(victimNs, "leaving", { serverRef: { name: target.server }, deletionPolicy: "Delete" });
      const leaving = await waitReady(victimNs, "leaving", 90_000);
      const leavingDb = leaving.status!.database!;
      await createWorkspace(attackerNs, "granter", { serverRef: { name: target.server }, deletionPolicy: "Delete" });
      await waitReady(attackerNs, "granter", 90_000);
      const granter = (await readSecret(attackerNs, "granter-rw"))!;
      const attacker = await openSession(granter.uri!);
      try {
        await attacker.query("CREATE TABLE bait (x int)");
        await attacker.query(`GRANT SELECT ON bait TO "${leavingDb}", "${leavingDb}_ro"`);
        await attacker.query(`ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO "${leavingDb}"`);
      } finally {
        await attacker.end();
      }
      // The attacker's own login leaves a large object in the maintenance database (PUBLIC may connect there by default).
      const inMaintenance = await openSession(urlOf(target.postgres, granter.username!, granter.password!));
      await inMaintenance.query("SELECT lo_create(0)").finally(() => inMaintenance.end());

      await deleteWorkspace(victimNs, "leaving");
      await waitGone(victimNs, "leaving", 60_000);
      expect(await databaseExists(target.postgres, leavingDb)).to.equal(false);
      expect(await roleSnapshots(target.postgres, [leavingDb, `${leavingDb}_ro`])).to.deep.equal({});
      await deleteWorkspace(attackerNs, "granter");
      await waitGone(attackerNs, "granter", 60_000);
      expect(await roleSnapshots(target.postgres, [granter.username!])).to.deep.equal({});
      await expectVictimsUntouched("after both deletions");
    });

    it("never lets a workspace login forge an ownership marker", async () => {
      const rw = (await readSecret(victimNs, "victim-rw"))!;
      const forge = async (statement: string) => {
        const session = await openSession(rw.uri!);
        try {
          return await session.query(statement).then(() => "done", (err: { code?: string }) => err.code);
        } finally {
          await session.end().catch(() => undefined);
        }
      };
      expect(await forge(`COMMENT ON ROLE "${victimDb}" IS 'workspacedb.io/v2 owner=${attackerNs}/x part=read-write'`)).to.equal("42501");
      expect(await forge(`COMMENT ON ROLE "${byHand}" IS 'workspacedb.io/v2 owner=${victimNs}/victim part=read-write'`)).to.equal("42501");
      expect(await forge(`COMMENT ON DATABASE "${victimDb}" IS 'workspacedb.io/v2 owner=${attackerNs}/x part=database'`)).to.equal("42501");
      await expectVictimsUntouched("after the forging attempts");
    });
  });
}
