// End to end: what the read/write and read-only logins may and may not do (DESIGN.md, Privileges).
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  asSuperuser,
  createWorkspace,
  ensureNamespace,
  eventually,
  loginFailure,
  readSecret,
  setupServer,
  sqlErrorCode,
  getWorkspace,
  hardenPublicSchemaOn14,
  unique,
  waitReady,
  withLogin,
} from "../support/fixtures.ts";

/** The URI of the ground's admin role, connected to `database`. */
function adminUri(database: string): string {
  const url = new URL(getGround().postgres.adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

describe("privileges (end to end)", function () {
  this.timeout(180_000);
  let operator: OperatorProcess;
  const ns = unique("ws-priv");
  const suffix = ns.slice("ws-priv-".length).replace(/-/g, "_");
  const stranger = `stranger_${suffix}`;
  const strangerPassword = "Str4nger-pw";
  const migrator = `migrator_${suffix}`;
  let dbA = "";
  let dbB = "";
  let rwA: Record<string, string>;
  let roA: Record<string, string>;
  let rwB: Record<string, string>;
  let roB: Record<string, string>;

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator();
    await createWorkspace(ns, "alpha");
    await createWorkspace(ns, "beta");
    dbA = (await waitReady(ns, "alpha")).status!.database!;
    dbB = (await waitReady(ns, "beta")).status!.database!;
    rwA = (await readSecret(ns, "alpha-rw"))!;
    roA = (await readSecret(ns, "alpha-ro"))!;
    rwB = (await readSecret(ns, "beta-rw"))!;
    roB = (await readSecret(ns, "beta-ro"))!;
    // On 14, what status.hardening tells a superuser to run once per workspace database.
    await hardenPublicSchemaOn14(dbA, rwA.username!);
    await hardenPublicSchemaOn14(dbB, rwB.username!);
  });
  after(async () => {
    await operator?.stop();
  });

  it("lets the read-only login read tables, views, materialized views and sequences the read/write login creates later, in public and in its own schemas", async () => {
    await withLogin(rwA.uri!, async (c) => {
      for (const schema of ["public", "analytics"]) {
        if (schema !== "public") await c.query(`CREATE SCHEMA ${schema}`);
        await c.query(`CREATE TABLE ${schema}.cases (id serial PRIMARY KEY, district text, n int)`);
        await c.query(`INSERT INTO ${schema}.cases (district, n) VALUES ('north', 3), ('south', 4)`);
        await c.query(`CREATE VIEW ${schema}.cases_v AS SELECT district, n FROM ${schema}.cases`);
        await c.query(`CREATE MATERIALIZED VIEW ${schema}.cases_mv AS SELECT sum(n) AS total FROM ${schema}.cases`);
        await c.query(`CREATE SEQUENCE ${schema}.batch_seq`);
        await c.query(`SELECT nextval('${schema}.batch_seq')`);
      }
    });
    // No resync needed: default privileges cover what the read/write login creates.
    await withLogin(roA.uri!, async (c) => {
      for (const schema of ["public", "analytics"]) {
        const rows = (await c.query<{ n: number }>(`SELECT n FROM ${schema}.cases ORDER BY id`)).rows;
        expect(rows.map((r) => r.n), `${schema}.cases`).to.deep.equal([3, 4]);
        expect((await c.query(`SELECT * FROM ${schema}.cases_v`)).rowCount, `${schema}.cases_v`).to.equal(2);
        expect((await c.query<{ total: string }>(`SELECT total FROM ${schema}.cases_mv`)).rows[0]?.total, `${schema}.cases_mv`).to.equal("7");
        expect((await c.query<{ last_value: string }>(`SELECT last_value FROM ${schema}.batch_seq`)).rows[0]?.last_value, `${schema}.batch_seq`).to.equal("1");
        expect((await c.query<{ last_value: string }>(`SELECT last_value FROM ${schema}.cases_id_seq`)).rows[0]?.last_value, `${schema}.cases_id_seq`).to.equal("2");
      }
    });
  });

  it("lets the read-only login read, after a resync, what the admin role and a role it administers created", async () => {
    // A migration role, administered by the operator's admin role (as on managed services).
    await withLogin(getGround().postgres.adminUrl, async (c) => {
      await c.query(`CREATE ROLE ${migrator} NOLOGIN`);
      await c.query(`GRANT ${migrator} TO ${getGround().postgres.adminUser}`);
    });
    await withLogin(adminUri(dbA), async (c) => {
      await c.query("CREATE TABLE public.admin_made (id int)");
      await c.query("INSERT INTO public.admin_made VALUES (1), (2), (3)");
      await c.query("CREATE SCHEMA etl");
      await c.query(`GRANT USAGE, CREATE ON SCHEMA etl TO ${migrator}`);
      await c.query(`SET ROLE ${migrator}`);
      await c.query("CREATE TABLE etl.loads (id int)");
      await c.query("INSERT INTO etl.loads VALUES (10), (20)");
      await c.query("CREATE VIEW etl.loads_v AS SELECT id FROM etl.loads");
      await c.query("RESET ROLE");
    });
    const owners = await asSuperuser(dbA, async (c) =>
      (await c.query<{ relname: string; owner: string }>(
        "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c WHERE c.relname = ANY ($1) ORDER BY 1",
        [["admin_made", "loads", "loads_v"]],
      )).rows);
    expect(owners).to.deep.equal([
      { relname: "admin_made", owner: getGround().postgres.adminUser },
      { relname: "loads", owner: migrator },
      { relname: "loads_v", owner: migrator },
    ]);
    const counts = await eventually("read-only login reads etl.loads, etl.loads_v and public.admin_made", async () =>
      withLogin(roA.uri!, async (c) => {
        const loads = (await c.query("SELECT id FROM etl.loads")).rowCount;
        const view = (await c.query("SELECT id FROM etl.loads_v")).rowCount;
        const admin = (await c.query("SELECT id FROM public.admin_made")).rowCount;
        return { loads, view, admin };
      }), 35_000, 1_000);
    expect(counts).to.deep.equal({ loads: 2, view: 2, admin: 3 });
  });

  it("keeps the read-only login from writing or creating anything, and starts its sessions read-only", async () => {
    await withLogin(roA.uri!, async (c) => {
      expect((await c.query<{ default_transaction_read_only: string }>("SHOW default_transaction_read_only")).rows[0]?.default_transaction_read_only).to.equal("on");
      expect(await sqlErrorCode("INSERT in a default session", () => c.query("INSERT INTO public.cases (district, n) VALUES ('x', 1)"))).to.equal("25006");

      // Even with read-only turned off for the session, privileges forbid every write and every creation.
      await c.query("SET default_transaction_read_only = off");
      const attempts: Record<string, string> = {
        INSERT: "INSERT INTO public.cases (district, n) VALUES ('x', 1)",
        "INSERT (own schema)": "INSERT INTO analytics.cases (district, n) VALUES ('x', 1)",
        UPDATE: "UPDATE public.cases SET n = 0",
        DELETE: "DELETE FROM public.cases",
        TRUNCATE: "TRUNCATE public.cases",
        "REFRESH MATERIALIZED VIEW": "REFRESH MATERIALIZED VIEW public.cases_mv",
        nextval: "SELECT nextval('public.batch_seq')",
        "CREATE TABLE": "CREATE TABLE public.ro_made (id int)",
        "CREATE TABLE (rw schema)": "CREATE TABLE analytics.ro_made (id int)",
        "CREATE VIEW": "CREATE VIEW public.ro_view AS SELECT 1 AS one",
        "CREATE SCHEMA": "CREATE SCHEMA ro_schema",
        "CREATE TEMP TABLE": "CREATE TEMP TABLE ro_temp (id int)",
      };
      const codes: Record<string, string> = {};
      for (const [what, sql] of Object.entries(attempts)) codes[what] = await sqlErrorCode(what, () => c.query(sql));
      expect(codes).to.deep.equal(Object.fromEntries(Object.keys(attempts).map((k) => [k, "42501"])));
    });
    // Nothing was written.
    const n = await withLogin(rwA.uri!, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM public.cases")).rows[0]?.n);
    expect(n).to.equal("2");
  });

  it("makes the read-only login's sessions read-only again, after a resync, when it turned that off for itself", async () => {
    const show = async () => withLogin(roA.uri!, async (c) =>
      (await c.query<{ default_transaction_read_only: string }>("SHOW default_transaction_read_only")).rows[0]?.default_transaction_read_only);
    // An ordinary role may change its own session defaults, role-wide and per database.
    await withLogin(roA.uri!, async (c) => {
      await c.query("SET default_transaction_read_only = off");
      await c.query("ALTER ROLE CURRENT_USER SET default_transaction_read_only = off");
      await c.query(`ALTER ROLE CURRENT_USER IN DATABASE "${dbA}" SET default_transaction_read_only = off`);
    });
    expect(await show(), "the change took effect").to.equal("off");
    const value = await eventually("read-only sessions again", async () => ((await show()) === "on" ? "on" : undefined), 35_000, 1_000);
    expect(value).to.equal("on");
  });

  it("revokes CREATE on schema public from PUBLIC even when the template grants it, and again when it is granted later", async () => {
    const canCreate = async (uri: string, table: string) => withLogin(uri, async (c) => {
      await c.query("SET default_transaction_read_only = off");
      return c.query(`CREATE TABLE public.${table} (id int)`).then(() => true, () => false);
    });
    // As on managed services whose template databases still let PUBLIC create in public (14's default).
    const alreadyGranted = getGround().postgres.major <= 14;
    if (!alreadyGranted) await asSuperuser("template1", async (c) => c.query("GRANT CREATE ON SCHEMA public TO PUBLIC"));
    try {
      await createWorkspace(ns, "gamma");
      await waitReady(ns, "gamma");
    } finally {
      if (!alreadyGranted) await asSuperuser("template1", async (c) => c.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC"));
    }
    const roG = (await readSecret(ns, "gamma-ro"))!;
    await hardenPublicSchemaOn14((await getWorkspace(ns, "gamma"))!.status!.database!, (await readSecret(ns, "gamma-rw"))!.username!);
    expect(await canCreate(roG.uri!, "from_template")).to.equal(false);

    // Granted again behind the operator's back: repaired on the next resync.
    await asSuperuser(dbA, async (c) => c.query("GRANT CREATE ON SCHEMA public TO PUBLIC"));
    expect(await canCreate(roA.uri!, "while_granted"), "the grant took effect").to.equal(true);
    await asSuperuser(dbA, async (c) => c.query("DROP TABLE public.while_granted"));
    await eventually("CREATE on public revoked again", async () => ((await canCreate(roA.uri!, "after_resync")) ? undefined : true), 35_000, 1_000);
  });

  it("keeps each workspace's logins out of other workspaces' databases, and other logins of the server out of both", async () => {
    expect(await loginFailure(rwA.uri!, dbB), "alpha read/write into beta").to.equal("42501");
    expect(await loginFailure(roA.uri!, dbB), "alpha read-only into beta").to.equal("42501");
    expect(await loginFailure(rwB.uri!, dbA), "beta read/write into alpha").to.equal("42501");
    expect(await loginFailure(roB.uri!, dbA), "beta read-only into alpha").to.equal("42501");
    // Each login still reaches its own database (the refusals above are about the database, not the password).
    for (const uri of [rwA.uri!, roA.uri!, rwB.uri!, roB.uri!]) expect(await loginFailure(uri)).to.equal(undefined);

    await asSuperuser("postgres", async (c) => c.query(`CREATE ROLE ${stranger} LOGIN PASSWORD '${strangerPassword}'`));
    const { host, port } = getGround().postgres;
    const strangerUri = `postgresql://${stranger}:${strangerPassword}@${host}:${port}/postgres`;
    expect(await loginFailure(strangerUri), "stranger into the maintenance database (control)").to.equal(undefined);
    expect(await loginFailure(strangerUri, dbA), "stranger into alpha").to.equal("42501");
    expect(await loginFailure(strangerUri, dbB), "stranger into beta").to.equal("42501");
  });

  it("keeps the read/write login from dropping, re-configuring or re-marking its database, which the admin role owns", async () => {
    const owner = await asSuperuser("postgres", async (c) =>
      (await c.query<{ owner: string; comment: string }>(
        "SELECT pg_get_userbyid(datdba) AS owner, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
        [dbA],
      )).rows[0]);
    expect(owner?.owner).to.equal(getGround().postgres.adminUser);

    const q = `"${dbA}"`;
    await withLogin(rwA.uri!, async (c) => {
      const attempts: Record<string, string> = {
        "DROP DATABASE": `DROP DATABASE ${q}`,
        "ALTER DATABASE SET": `ALTER DATABASE ${q} SET statement_timeout = 0`,
        "ALTER DATABASE CONNECTION LIMIT": `ALTER DATABASE ${q} CONNECTION LIMIT 1000`,
        "ALTER DATABASE OWNER": `ALTER DATABASE ${q} OWNER TO "${rwA.username}"`,
        "ALTER DATABASE RENAME": `ALTER DATABASE ${q} RENAME TO hijacked`,
        "COMMENT ON DATABASE": `COMMENT ON DATABASE ${q} IS 'workspacedb.io/owner: other/thing'`,
      };
      const codes: Record<string, string> = {};
      for (const [what, sql] of Object.entries(attempts)) codes[what] = await sqlErrorCode(what, () => c.query(sql));
      expect(codes).to.deep.equal(Object.fromEntries(Object.keys(attempts).map((k) => [k, "42501"])));
      // Without grant option this only warns; nothing may change.
      await c.query(`GRANT CONNECT ON DATABASE ${q} TO PUBLIC`).catch(() => undefined);
    });
    // A drop from another database is refused as well.
    const maintenance = new URL(rwA.uri!);
    maintenance.pathname = "/postgres";
    const fromOutside = await loginFailure(maintenance.toString());
    if (fromOutside === undefined) {
      await withLogin(maintenance.toString(), async (c) => {
        expect(await sqlErrorCode("DROP DATABASE from postgres", () => c.query(`DROP DATABASE ${q}`))).to.equal("42501");
      });
    }

    const after = await asSuperuser("postgres", async (c) =>
      (await c.query<{ owner: string; comment: string; connlimit: number; public_grants: string }>(
        `SELECT pg_get_userbyid(d.datdba) AS owner, shobj_description(d.oid, 'pg_database') AS comment, d.datconnlimit AS connlimit,
                (SELECT count(*) FROM aclexplode(d.datacl) a WHERE a.grantee = 0) AS public_grants
           FROM pg_database d WHERE d.datname = $1`,
        [dbA],
      )).rows[0]);
    expect(after).to.deep.equal({ owner: owner!.owner, comment: owner!.comment, connlimit: 50, public_grants: "0" });
    expect(owner!.comment).to.contain(`${ns}/alpha`);
  });
});
