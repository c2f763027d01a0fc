// End to end: the Secret is the source of truth; every kind of drift in it or in PostgreSQL is
// repaired within one resync (10 s in tests).
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  asSuperuser,
  canLogin,
  canLoginWith,
  clients,
  createWorkspace,
  deleteSecret,
  ensureNamespace,
  eventually,
  listEvents,
  patchSecretData,
  readSecret,
  setupServer,
  unique,
  waitReady,
  withLogin,
  withPassword,
} from "../support/fixtures.ts";

/** One resync of the test operator (10 s) plus the pass itself. */
const REPAIR_MS = 16_000;

/** Keys whose values are built from the password. */
const PASSWORD_KEYS = ["password", "PGPASSWORD", "WORKSPACE_DATABASE_PASSWORD"];
const URL_KEYS = ["uri", "DATABASE_URL", "WORKSPACE_DATABASE_URL"];

/** A password of the operator's alphabet that no generator produced. */
function handMade(): string {
  return `Hand${randomBytes(24).toString("hex").replace(/[01]/g, "x")}`;
}

describe("drift repair (end to end)", function () {
  this.timeout(120_000);
  let operator: OperatorProcess;
  const ns = unique("ws-drift");
  const name = "drift";
  let database = "";
  let rwUser = "";
  let roUser = "";

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator();
    await createWorkspace(ns, name);
    const obj = await waitReady(ns, name);
    database = obj.status!.database!;
    rwUser = obj.status!.credentials!.readWrite!.username;
    roUser = obj.status!.credentials!.readOnly!.username;
    const rw = await readSecret(ns, `${name}-rw`);
    await withLogin(rw!.uri!, async (c) => {
      await c.query("CREATE TABLE samples (id serial primary key, v text)");
      await c.query("INSERT INTO samples (v) VALUES ('a'), ('b')");
    });
  });
  after(async () => {
    await operator?.stop();
  });

  it("(a) a password edited into the Secret by hand is applied to the role, derived keys follow", async () => {
    const before = (await readSecret(ns, `${name}-ro`))!;
    const edited = handMade();
    await patchSecretData(ns, `${name}-ro`, { password: edited });
    const after = await eventually("derived keys rewritten and the role accepting the edited password", async () => {
      const s = await readSecret(ns, `${name}-ro`);
      if (!s || s.password !== edited || s.PGPASSWORD !== edited) return undefined;
      return (await canLogin(s.uri!)) ? s : undefined;
    }, REPAIR_MS);
    for (const key of PASSWORD_KEYS) expect(after[key], key).to.equal(edited);
    for (const key of URL_KEYS) {
      expect(after[key], key).to.equal(withPassword(before[key]!, edited));
      expect(after[key], key).to.not.contain(before.password!);
    }
    expect(after["jdbc-uri"]).to.contain(`password=${edited}`);
    for (const key of ["host", "port", "database", "username", "sslmode", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSSLMODE"]) {
      expect(after[key], key).to.equal(before[key]);
    }
    expect(await canLogin(withPassword(before.uri!, before.password!)), "the previous password").to.equal(false);
    const rows = await withLogin(after.uri!, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM samples")).rows[0]?.n);
    expect(rows).to.equal("2");
  });

  it("(a) a hand-edited password with characters that need escaping works through every key", async () => {
    const before = (await readSecret(ns, `${name}-rw`))!;
    const edited = `p@ss:w/rd?#%&=+ 'q"é${randomBytes(6).toString("hex")}`;
    await patchSecretData(ns, `${name}-rw`, { password: edited });
    const after = await eventually("derived keys rewritten", async () => {
      const s = await readSecret(ns, `${name}-rw`);
      return s?.password === edited && s.PGPASSWORD === edited && s.WORKSPACE_DATABASE_PASSWORD === edited ? s : undefined;
    }, REPAIR_MS);
    const enc = encodeURIComponent(edited);
    for (const key of URL_KEYS) {
      expect(after[key], key).to.contain(`:${enc}@`);
      expect(new URL(after[key]!).password, key).to.equal(enc);
    }
    expect(after["jdbc-uri"]).to.contain(`password=${enc}`);
    await eventually("the edited password logging in (from the password key and from the uri)", async () => {
      const direct = await canLoginWith({ host: after.PGHOST!, port: Number(after.PGPORT), database: after.PGDATABASE!, user: after.PGUSER!, password: after.PGPASSWORD! });
      return direct && (await canLogin(after.uri!)) ? true : undefined;
    }, REPAIR_MS);
    expect(await canLogin(before.uri!), "the previous password").to.equal(false);
  });

  it("(b) a role password changed behind the operator's back is reset to the Secret's", async () => {
    const secret = (await readSecret(ns, `${name}-rw`))!;
    const other = handMade();
    await asSuperuser("postgres", (c) => c.query(`ALTER ROLE "${rwUser}" PASSWORD '${other}'`));
    expect(await canLogin(secret.uri!), "drift in place").to.equal(false);
    await eventually("the Secret's password working again", async () => ((await canLogin(secret.uri!)) ? true : undefined), REPAIR_MS);
    expect(await canLogin(withPassword(secret.uri!, other)), "the password set behind its back").to.equal(false);
    expect(await readSecret(ns, `${name}-rw`), "the Secret is the source of truth").to.deep.equal(secret);
    const events = await listEvents(ns, name);
    for (const e of events) {
      expect(e.message).to.not.contain(secret.password!);
      expect(e.message).to.not.contain(other);
    }
  });

  it("(c) a deleted Secret is re-created with a new password that works", async () => {
    const before = (await readSecret(ns, `${name}-ro`))!;
    await deleteSecret(ns, `${name}-ro`);
    const after = await eventually("Secret re-created and its password logging in", async () => {
      const s = await readSecret(ns, `${name}-ro`);
      if (!s) return undefined;
      return (await canLogin(s.uri!)) ? s : undefined;
    }, REPAIR_MS);
    expect(after.password).to.not.equal(before.password);
    expect(after.password).to.have.length(32);
    expect(after.username).to.equal(roUser);
    expect(after.PGPASSWORD).to.equal(after.password);
    expect(await canLogin(withPassword(after.uri!, before.password!)), "the old password").to.equal(false);
    const { core } = clients();
    const meta = (await core.readNamespacedSecret({ namespace: ns, name: `${name}-ro` })).metadata;
    expect(meta?.ownerReferences?.[0]).to.include({ kind: "WorkspaceDatabase", name, controller: true });
    expect(meta?.labels).to.include({ "workspacedb.io/access": "read-only", "workspacedb.io/database": name });
    // The read/write Secret was left alone.
    const rw = (await readSecret(ns, `${name}-rw`))!;
    expect(await canLogin(rw.uri!)).to.equal(true);
  });

  it("(d) derived keys edited by hand are restored", async () => {
    const before = (await readSecret(ns, `${name}-rw`))!;
    await patchSecretData(ns, `${name}-rw`, {
      uri: "postgresql://mallory:x@evil.example:5432/x",
      PGHOST: "evil.example",
      WORKSPACE_DATABASE_PORT: "1",
      "jdbc-uri": "jdbc:postgresql://evil.example/x",
      PGPORT: null,
    });
    const after = await eventually("derived keys restored", async () => {
      const s = await readSecret(ns, `${name}-rw`);
      return s && JSON.stringify(Object.entries(s).sort()) === JSON.stringify(Object.entries(before).sort()) ? s : undefined;
    }, REPAIR_MS);
    expect(after).to.deep.equal(before);
    expect(await canLogin(after.uri!)).to.equal(true);
  });

  it("(e) privileges and login revoked by hand are restored on the next pass", async () => {
    await asSuperuser(database, async (c) => {
      await c.query(`REVOKE SELECT ON samples FROM "${roUser}"`);
      await c.query(`REVOKE CONNECT ON DATABASE "${database}" FROM "${roUser}"`);
      await c.query(`REVOKE TEMPORARY ON DATABASE "${database}" FROM "${rwUser}"`);
      await c.query(`ALTER ROLE "${roUser}" NOLOGIN`);
      await c.query(`ALTER ROLE "${roUser}" SET default_transaction_read_only = off`);
    });
    const ro = (await readSecret(ns, `${name}-ro`))!;
    expect(await canLogin(ro.uri!), "drift in place").to.equal(false);

    await eventually("privileges restored", async () => {
      const row = await asSuperuser(database, async (c) =>
        (await c.query<{ sel: boolean; conn: boolean; temp: boolean; login: boolean; config: string[] | null }>(
          `SELECT has_table_privilege($1, 'samples', 'SELECT') AS sel,
                  has_database_privilege($1, $3, 'CONNECT') AS conn,
                  has_database_privilege($2, $3, 'TEMPORARY') AS temp,
                  (SELECT rolcanlogin FROM pg_roles WHERE rolname = $1) AS login,
                  (SELECT rolconfig FROM pg_roles WHERE rolname = $1) AS config`,
          [roUser, rwUser, database],
        )).rows[0]);
      return row?.sel && row.conn && row.temp && row.login && (row.config ?? []).includes("default_transaction_read_only=on") ? row : undefined;
    }, REPAIR_MS);

    const result = await withLogin(ro.uri!, async (c) => {
      const n = (await c.query<{ n: string }>("SELECT count(*) AS n FROM samples")).rows[0]?.n;
      const write = await c.query("INSERT INTO samples (v) VALUES ('no')").then(() => "written", (err: Error) => err.message);
      return { n, write };
    });
    expect(result.n).to.equal("2");
    expect(result.write).to.match(/read-only transaction|permission denied/);
    const rw = (await readSecret(ns, `${name}-rw`))!;
    await withLogin(rw.uri!, (c) => c.query("CREATE TEMP TABLE scratch (x int)"));
  });
});
