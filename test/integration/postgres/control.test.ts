// What workspaces own that the admin cannot manage, read from a real server, and the generated
// statement run as superuser: listed and looped (DO block) forms, on every major of the matrix. On a
// server of its own: the looped form covers every marked login of the cluster.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { LISTED_MAX, controlGap, inspectControl } from "../../../src/postgres/control.ts";
import { formatMarker } from "../../../src/postgres/marker.ts";
import type { ServerConnection } from "../../../src/postgres/server.ts";
import type { PostgresGround } from "../../ground/postgres.ts";
import { openAdmin, superQuery as superQueryOn, uniqueName } from "./helpers.ts";

describe("control gap against PostgreSQL (integration)", function () {
  this.timeout(120_000);
  let server: ServerConnection;
  let extra: PostgresGround;
  const superQuery = <R extends object = Record<string, unknown>>(text: string, values: unknown[] = [], database = "postgres"): Promise<R[]> =>
    superQueryOn<R>(text, values, database, extra);
  const roles: string[] = [];
  const databases: string[] = [];
  const owner = uniqueName("former");

  before(async function () {
    const ground = getGround();
    if (!ground.local) this.skip();
    extra = await ground.startExtraPostgres(ground.postgres.major);
    server = await openAdmin(extra);
    await superQuery(`CREATE ROLE ${owner} LOGIN CREATEDB CREATEROLE`);
  });

  after(async () => {
    if (extra === undefined) return;
    for (const db of databases) await superQuery(`DROP DATABASE IF EXISTS "${db}"`);
    for (const role of roles) await superQuery(`DROP ROLE IF EXISTS "${role}"`);
    await superQuery(`DROP ROLE IF EXISTS ${owner}`);
    await server?.close();
    await extra?.stop();
  });

  /** `n` workspaces made by hand as superuser (as before an upgrade, or by another admin), each marked. */
  async function handMade(n: number, by: "superuser" | "former"): Promise<{ databases: string[]; roles: string[] }> {
    const scope = { databases: [] as string[], roles: [] as string[] };
    for (let i = 0; i < n; i++) {
      const db = uniqueName("gap");
      const ref = { namespace: "ns", name: db.replaceAll("_", "-") };
      const as = by === "former" ? `SET ROLE ${owner}; ` : "";
      await superQuery(`${as}CREATE ROLE "${db}" LOGIN; CREATE ROLE "${db}_ro" LOGIN`);
      roles.push(db, `${db}_ro`);
      await superQuery(`CREATE DATABASE "${db}"${by === "former" ? ` OWNER ${owner}` : ""}`);
      databases.push(db);
      await superQuery(`COMMENT ON ROLE "${db}" IS '${formatMarker(ref, "read-write")}'; COMMENT ON ROLE "${db}_ro" IS '${formatMarker(ref, "read-only")}'`);
      await superQuery(`COMMENT ON DATABASE "${db}" IS '${formatMarker(ref, "database")}'`);
      scope.databases.push(db);
      scope.roles.push(db, `${db}_ro`);
    }
    return scope;
  }

  for (const [n, form] of [[2, "listed"], [LISTED_MAX + 1, "looped"]] as const) {
    it(`finds logins and databases made by a superuser and closes the gap with the ${form} statement`, async () => {
      const scope = await handMade(n, "superuser");
      const gap = controlGap(await inspectControl(server, scope))!;
      const { major, adminUser } = extra;
      expect(gap.databases).to.have.length(n);
      expect(gap.roles).to.have.length(major >= 16 ? 2 * n : 0);
      expect(gap.statement.startsWith("DO $$")).to.equal(form === "looped");
      // Nothing outside the scope is looked at.
      expect(controlGap(await inspectControl(server, { databases: [], roles: [] }))).to.equal(null);
      await superQuery(gap.statement);
      expect(controlGap(await inspectControl(server, scope))).to.equal(null);
      const owners = await superQuery<{ owner: string }>("SELECT DISTINCT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY ($1)", [scope.databases]);
      expect(owners).to.deep.equal([{ owner: adminUser }]);
    });
  }

  it("names the former admin when one unprivileged role made them all, and that single grant closes the gap", async () => {
    const scope = await handMade(2, "former");
    const gap = controlGap(await inspectControl(server, scope))!;
    const { major, adminUser } = extra;
    expect(gap.statement).to.equal(`GRANT "${owner}" TO "${adminUser}"${major >= 16 ? " WITH INHERIT TRUE, SET FALSE" : ""};`);
    await superQuery(gap.statement);
    expect(controlGap(await inspectControl(server, scope))).to.equal(null);
    await superQuery(`REVOKE "${owner}" FROM "${adminUser}"`);
  });

  it("reads the facts of 2,000 logins the admin made (a member of each) in time linear in their number", async () => {
    // The admin creates them (on 16+ it then holds ADMIN OPTION on each through a membership). Asking
    // pg_has_role(…, 'MEMBER WITH ADMIN OPTION') per login walked all of the admin's memberships each
    // time: 3.3 s for this query at 2,000 logins, past the statement timeout under load.
    const prefix = uniqueName("many");
    const count = 2_000;
    const ref = { namespace: "ns", name: "many" };
    // As a workspace pass does: create, mark, and (16+) the admin's own inheriting membership.
    const grant = extra.major >= 16 ? `EXECUTE format('GRANT %I TO current_user WITH INHERIT TRUE, SET FALSE', '${prefix}_' || i);` : "";
    // In small batches: each statement stays far below the session's statement timeout on a loaded
    // machine. On 16+ each CREATE ROLE and GRANT by the admin walks the admin's memberships, which grow
    // with every login made: one statement for all 2,000, and later batches of 250, took longer than
    // that while the node's tests ran beside them. The last batch of 50 costs a fifth of one of 250.
    const batch = 50;
    for (let from = 1; from <= count; from += batch) {
      await server.query("creating many logins", `DO $do$ BEGIN FOR i IN ${from}..${Math.min(count, from + batch - 1)} LOOP
        EXECUTE format('CREATE ROLE %I NOLOGIN', '${prefix}_' || i);
        EXECUTE format('COMMENT ON ROLE %I IS %L', '${prefix}_' || i, '${formatMarker(ref, "read-write")}');
        ${grant}
      END LOOP; END $do$`);
    }
    const scope = { databases: [] as string[], roles: Array.from({ length: count }, (_, i) => `${prefix}_${i + 1}`) };
    try {
      const started = Date.now();
      const facts = await inspectControl(server, scope);
      const ms = Date.now() - started;
      process.stderr.write(`      control facts of ${count} logins: ${ms} ms\n`);
      expect(facts.roles, "logins the admin cannot manage").to.deep.equal([]);
      expect(controlGap(facts)).to.equal(null);
      expect(ms, "ms to read the control facts of 2,000 logins").to.be.below(1_500);
    } finally {
      for (let from = 1; from <= count; from += batch) {
        await server.query("dropping many logins", `DO $do$ BEGIN FOR i IN ${from}..${Math.min(count, from + batch - 1)} LOOP EXECUTE format('DROP ROLE IF EXISTS %I', '${prefix}_' || i); END LOOP; END $do$`);
      }
    }
  });
});
