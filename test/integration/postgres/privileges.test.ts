// Integration tests: what the read/write and read-only logins can and cannot do, and drift repair.
import { expect } from "chai";
import type pg from "pg";
import { getGround } from "../../ground/index.ts";
import { planWorkspace } from "../../../src/postgres/plan.ts";
import type { ServerConnection } from "../../../src/postgres/server.ts";
import { asUser, connectAs, dropWorkspace, expectNoPasswordInLog, failsWith, hardenPublicSchemaOn14, openAdmin, provision, superQuery, uniqueName } from "./helpers.ts";
import type { TestWorkspace } from "./helpers.ts";
import { applyPlan, convergeWorkspace, inspectWorkspace } from "../../../src/postgres/workspace.ts";

const RW_SETUP = [
  "CREATE TABLE public.t (id serial PRIMARY KEY, v text)",
  "INSERT INTO public.t (v) VALUES ('a'), ('b')",
  "CREATE VIEW public.v AS SELECT * FROM public.t",
  "CREATE MATERIALIZED VIEW public.mv AS SELECT count(*) AS n FROM public.t",
  "CREATE SEQUENCE public.q",
  "CREATE SCHEMA mine",
  "CREATE TABLE mine.t2 (x int)",
  "INSERT INTO mine.t2 VALUES (42)",
  "CREATE VIEW mine.v2 AS SELECT * FROM mine.t2",
  "CREATE MATERIALIZED VIEW mine.mv2 AS SELECT * FROM mine.t2",
  "CREATE SEQUENCE mine.q2",
];

const READS = [
  "SELECT count(*) FROM public.t",
  "SELECT count(*) FROM public.v",
  "SELECT n FROM public.mv",
  "SELECT last_value FROM public.q",
  "SELECT x FROM mine.t2",
  "SELECT x FROM mine.v2",
  "SELECT x FROM mine.mv2",
  "SELECT last_value FROM mine.q2",
];

describe("postgres privileges (integration)", function () {
  let server: ServerConnection;
  let a: TestWorkspace;
  let b: TestWorkspace;

  before(async () => {
    server = await openAdmin();
    a = await provision(server, "priv_a");
    b = await provision(server, "priv_b");
    // On 14 the superuser's one-time statements of status.hardening; the operator keeps them from then on.
    for (const ws of [a, b]) {
      await hardenPublicSchemaOn14(ws.names.database);
      await convergeWorkspace(server, ws.desired);
    }
    await asUser(a.names.database, a.names.readWrite, a.passwords.readWrite, async (c) => {
      for (const statement of RW_SETUP) await c.query(statement);
    });
  });

  after(async () => {
    await dropWorkspace(server, a.names);
    await dropWorkspace(server, b.names);
    await server.close();
  });

  const ro = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => asUser(a.names.database, a.names.readOnly, a.passwords.readOnly, fn);

  it("lets the read/write login create tables, views, materialized views, sequences and schemas it owns", async () => {
    const rows = await superQuery<{ nspowner: string }>(
      "SELECT pg_get_userbyid(nspowner) AS nspowner FROM pg_namespace WHERE nspname = 'mine'", [], a.names.database,
    );
    expect(rows[0]!.nspowner).to.equal(a.names.readWrite);
  });

  it("lets the read-only login read everything the read/write login created, in public and in its schemas", async () => {
    await ro(async (c) => {
      for (const query of READS) await c.query(query);
      expect((await c.query<{ x: number }>("SELECT x FROM mine.mv2")).rows).to.deep.equal([{ x: 42 }]);
    });
    expect(planWorkspace(await inspectWorkspace(server, a.names), a.desired)).to.deep.equal([]);
  });

  it("stops the read-only login from writing or creating anything, even with read-only mode off", async () => {
    await ro(async (c) => {
      expect((await c.query<{ r: string }>("SELECT current_setting('default_transaction_read_only') AS r")).rows[0]!.r).to.equal("on");
      expect(await failsWith(() => c.query("INSERT INTO public.t (v) VALUES ('x')"))).to.equal("25006");
      await c.query("SET default_transaction_read_only = off");
      for (const statement of [
        "INSERT INTO public.t (v) VALUES ('x')",
        "UPDATE public.t SET v = 'x'",
        "DELETE FROM public.t",
        "TRUNCATE public.t",
        "INSERT INTO mine.t2 VALUES (1)",
        "SELECT nextval('public.q')",
        "REFRESH MATERIALIZED VIEW public.mv",
        "CREATE TABLE public.nope (x int)",
        "CREATE TABLE mine.nope (x int)",
        "CREATE SCHEMA nope",
        "CREATE TEMP TABLE nope (x int)",
        "DROP TABLE public.t",
      ]) {
        expect(await failsWith(() => c.query(statement)), statement).to.equal("42501");
      }
    });
  });

  it("lets the read-only login read tables the admin creates, and repairs that after a re-plan", async () => {
    await server.withDatabase(a.names.database, async (db) => {
      await db.query("CREATE TABLE public.by_admin (x int)");
    });
    await ro((c) => c.query("SELECT * FROM public.by_admin"));

    // Without the default privilege (removed by hand), the next table needs the resync's grant.
    const admin = getGround().postgres.adminUser;
    await superQuery(`ALTER DEFAULT PRIVILEGES FOR ROLE "${admin}" REVOKE SELECT ON TABLES FROM "${a.names.readOnly}"`, [], a.names.database);
    await server.withDatabase(a.names.database, async (db) => {
      await db.query("CREATE SCHEMA admin_made");
      await db.query("CREATE TABLE admin_made.later (x int)");
      await db.query("CREATE MATERIALIZED VIEW admin_made.later_mv AS SELECT 1 AS x");
    });
    expect(await ro((c) => failsWith(() => c.query("SELECT * FROM admin_made.later")))).to.equal("42501");
    const plan = planWorkspace(await inspectWorkspace(server, a.names), a.desired).map((s) => s.sql);
    expect(plan).to.deep.equal([
      `ALTER DEFAULT PRIVILEGES FOR ROLE "${admin}" GRANT SELECT ON TABLES TO "${a.names.readOnly}"`,
      `GRANT SELECT ON TABLE "admin_made"."later", "admin_made"."later_mv" TO "${a.names.readOnly}"`,
    ]);
    await convergeWorkspace(server, a.desired);
    await ro(async (c) => {
      await c.query("SELECT * FROM admin_made.later");
      await c.query("SELECT * FROM admin_made.later_mv");
    });
  });

  it("restores privileges revoked by hand", async () => {
    const db = a.names.database;
    const rw = `"${a.names.readWrite}"`;
    const roRole = `"${a.names.readOnly}"`;
    await superQuery(`REVOKE SELECT ON public.t, mine.mv2 FROM ${roRole}`, [], db);
    await superQuery(`REVOKE SELECT ON SEQUENCE mine.q2 FROM ${roRole}`, [], db);
    await superQuery(`REVOKE USAGE ON SCHEMA mine FROM ${roRole}`, [], db);
    await superQuery(`GRANT CREATE ON SCHEMA public TO PUBLIC`, [], db);
    await superQuery(`ALTER DEFAULT PRIVILEGES FOR ROLE ${rw} REVOKE USAGE ON SCHEMAS FROM ${roRole}`, [], db);
    await superQuery(`GRANT CONNECT, TEMPORARY ON DATABASE "${db}" TO PUBLIC`);
    await superQuery(`REVOKE TEMPORARY ON DATABASE "${db}" FROM ${rw}`);
    await superQuery(`GRANT TEMPORARY ON DATABASE "${db}" TO ${roRole}`);
    await superQuery(`ALTER ROLE ${roRole} RESET default_transaction_read_only`);
    await superQuery(`ALTER DATABASE "${db}" SET statement_timeout = 0`);

    const plan = planWorkspace(await inspectWorkspace(server, a.names), a.desired).map((s) => s.sql);
    expect(plan).to.deep.equal([
      `ALTER ROLE ${roRole} SET default_transaction_read_only = on`,
      `REVOKE ALL ON DATABASE "${db}" FROM PUBLIC`,
      `ALTER DATABASE "${db}" SET statement_timeout = '90min'`,
      `GRANT TEMPORARY ON DATABASE "${db}" TO ${rw}`,
      `REVOKE TEMPORARY ON DATABASE "${db}" FROM ${roRole}`,
      `REVOKE CREATE ON SCHEMA "public" FROM PUBLIC`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${rw} GRANT USAGE ON SCHEMAS TO ${roRole}`,
      `GRANT USAGE ON SCHEMA "mine" TO ${roRole}`,
      `GRANT SELECT ON TABLE "mine"."mv2", "public"."t" TO ${roRole}`,
      `GRANT SELECT ON SEQUENCE "mine"."q2" TO ${roRole}`,
    ]);
    await applyPlan(server, planWorkspace(await inspectWorkspace(server, a.names), a.desired));
    expect(planWorkspace(await inspectWorkspace(server, a.names), a.desired)).to.deep.equal([]);
    await ro(async (c) => {
      for (const query of READS) await c.query(query);
    });
  });

  it("judges schema public by its ACL: revoked on 15 and later, reported in status.hardening and left to a superuser on 14", async () => {
    const c = await provision(server, "priv_c");
    try {
      const { major } = getGround().postgres;
      const version = await superQuery<{ n: string }>("SELECT current_setting('server_version_num') AS n");
      expect(Math.floor(Number(version[0]!.n) / 10_000)).to.equal(major);
      const state = await inspectWorkspace(server, c.names);
      expect(planWorkspace(state, c.desired)).to.deep.equal([]);
      const hardening = (await server.serverInfo()).hardening.map((h) => h.name);
      const createInPublic = (): Promise<unknown> => asUser(c.names.database, c.names.readOnly, c.passwords.readOnly, async (cl) => {
        await cl.query("SET default_transaction_read_only = off");
        await cl.query("CREATE TABLE public.by_ro (x int)");
      });
      if (major <= 14) {
        expect(state.inside!.publicSchema).to.deep.include({ publicCanCreate: true, adminControls: false });
        expect(hardening).to.include("public-schema");
        await createInPublic(); // the documented gap
        await hardenPublicSchemaOn14(c.names.database);
        // Now that the admin controls public, the read/write login gets CREATE there in its own right.
        expect(planWorkspace(await inspectWorkspace(server, c.names), c.desired).map((s) => s.sql)).to.deep.equal([`GRANT ALL ON SCHEMA "public" TO "${c.names.readWrite}"`]);
        await convergeWorkspace(server, c.desired);
        await superQuery("GRANT CREATE ON SCHEMA public TO PUBLIC", [], c.names.database);
        expect(planWorkspace(await inspectWorkspace(server, c.names), c.desired).map((s) => s.sql)).to.deep.equal(['REVOKE CREATE ON SCHEMA "public" FROM PUBLIC']);
        await convergeWorkspace(server, c.desired);
      } else {
        expect(state.inside!.publicSchema).to.deep.include({ publicCanCreate: false, adminControls: true });
        expect(hardening).not.to.include("public-schema");
      }
      expect(await failsWith(createInPublic)).to.equal("42501");
    } finally {
      await dropWorkspace(server, c.names);
    }
  });

  it("keeps each workspace's logins out of the other's database", async () => {
    expect(await failsWith(() => connectAs(b.names.database, a.names.readWrite, a.passwords.readWrite))).to.equal("42501");
    expect(await failsWith(() => connectAs(b.names.database, a.names.readOnly, a.passwords.readOnly))).to.equal("42501");
    expect(await failsWith(() => connectAs(a.names.database, b.names.readWrite, b.passwords.readWrite))).to.equal("42501");
  });

  it("keeps other logins of the server out", async () => {
    const other = uniqueName("other");
    await superQuery(`CREATE ROLE ${other} LOGIN PASSWORD 'Other-Login-Pw-1'`);
    try {
      expect(await failsWith(() => connectAs(a.names.database, other, "Other-Login-Pw-1"))).to.equal("42501");
    } finally {
      await superQuery(`DROP ROLE ${other}`);
    }
  });

  it("never lets a generated password reach the server's statement log", function () {
    if (!expectNoPasswordInLog()) this.skip();
  });
});
