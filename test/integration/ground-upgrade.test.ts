// The test ground's pg_upgrade: an extra PostgreSQL 15 server upgraded in place to 18 keeps its
// roles, passwords, data and memberships, its port, its TLS, and stop()/start() then act on 18.
import { expect } from "chai";
import pg from "pg";
import { getGround } from "../ground/index.ts";
import { createPki } from "../support/pki.ts";

/** Runs `fn` with a client of `config`, ended afterwards. */
async function withClient<T>(config: string | pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(typeof config === "string" ? { connectionString: config } : config);
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function serverVersionNum(url: string): Promise<number> {
  return withClient(url, async (c) => Number((await c.query<{ n: string }>("SELECT current_setting('server_version_num') AS n")).rows[0]!.n));
}

/** The test's memberships; inherit_option and set_option exist from 16 on. */
function memberships(major: number): string {
  const options = major >= 16 ? ", inherit_option, set_option" : "";
  return `SELECT roleid::regrole::text AS role, member::regrole::text AS member, grantor::regrole::text AS grantor, admin_option${options}
    FROM pg_auth_members WHERE roleid::regrole::text LIKE 'upg\\_%' ORDER BY 1, 2, 3`;
}

describe("test ground: pg_upgrade from 15 to 18", function () {
  this.timeout(300_000);

  it("keeps roles, SCRAM passwords, data and the port; stop() and start() then act on 18", async function () {
    const ground = getGround();
    if (!ground.local) this.skip();
    const extra = await ground.startExtraPostgres(15);
    try {
      expect(extra.major).to.equal(15);
      const oldDataDir = extra.dataDir;
      const password = "upg-Password-1";
      await withClient(extra.superUrl, async (c) => {
        await c.query(`CREATE ROLE upg_login LOGIN PASSWORD '${password}'`);
        await c.query("CREATE TABLE upg_kept (id int PRIMARY KEY, note text)");
        await c.query("INSERT INTO upg_kept VALUES (1, 'from 15')");
        await c.query("GRANT SELECT ON upg_kept TO upg_login");
      });
      // The operator's kind of role (CREATEROLE, not a superuser) creates a role and grants it to
      // itself: on 15 that needs no ADMIN OPTION, and the grantor is the admin role.
      await withClient(extra.adminUrl, async (c) => {
        await c.query("CREATE ROLE upg_member NOLOGIN");
        await c.query("GRANT upg_member TO workspacedb_admin");
        await c.query("ALTER ROLE upg_member CONNECTION LIMIT 2");
      });
      const before = await withClient(extra.superUrl, async (c) => (await c.query<Record<string, unknown>>(memberships(15))).rows);
      expect(before).to.deep.equal([{ role: "upg_member", member: "workspacedb_admin", grantor: "workspacedb_admin", admin_option: false }]);

      await extra.upgradeTo18();

      expect(await serverVersionNum(extra.superUrl)).to.be.at.least(180_000);
      expect(extra.major).to.equal(18);
      expect(extra.version).to.match(/^18\./);
      expect(extra.dataDir).to.not.equal(oldDataDir);
      expect(extra.hbaFile).to.equal(`${extra.dataDir}/pg_hba.conf`);
      const login = { host: extra.host, port: extra.port, database: "postgres", user: "upg_login", password };
      const rows = await withClient(login, async (c) => (await c.query<{ id: number; note: string }>("SELECT id, note FROM upg_kept")).rows);
      expect(rows).to.deep.equal([{ id: 1, note: "from 15" }]);
      await withClient(extra.superUrl, async (c) => {
        const { rows: secrets } = await c.query<{ scram: boolean }>("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = 'upg_login'");
        expect(secrets).to.deep.equal([{ scram: true }]);
        // The login above went over TCP, where pg_hba.conf asks for SCRAM.
        const { rows: rules } = await c.query<{ auth_method: string }>("SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'");
        expect(rules).to.deep.equal([{ auth_method: "scram-sha-256" }]);
      });
      const wrong = await withClient({ ...login, password: "not-it" }, async () => "ok").catch((err: { code?: string }) => err.code);
      expect(wrong).to.equal("28P01");
      // The ground's own roles still log in with their passwords.
      await withClient(extra.adminUrl, (c) => c.query("SELECT 1"));

      // pg_dumpall does not carry grantors from servers before 16: the bootstrap superuser
      // restores the membership, and 16's new options take their defaults. Without ADMIN OPTION,
      // a CREATEROLE role manages no role on 16 and later: the admin lost what 15 let it do.
      const after = await withClient(extra.superUrl, async (c) => (await c.query<Record<string, unknown>>(memberships(18))).rows);
      expect(after).to.deep.equal([
        { role: "upg_member", member: "workspacedb_admin", grantor: "postgres", admin_option: false, inherit_option: true, set_option: true },
      ]);
      const denied = await withClient(extra.adminUrl, (c) => c.query("ALTER ROLE upg_member CONNECTION LIMIT 1"))
        .then(() => "ok", (err: { code?: string }) => err.code);
      expect(denied).to.equal("42501");

      await extra.stop();
      await extra.start();
      expect(await serverVersionNum(extra.superUrl)).to.be.at.least(180_000);
      await extra.upgradeTo18().then(
        () => expect.fail("a second upgrade must be refused"),
        (err: Error) => expect(err.message).to.match(/upgrades a PostgreSQL 15 server/),
      );
    } finally {
      await extra.stop();
    }
  });

  it("keeps serving TLS with the same certificate after the upgrade", async function () {
    const ground = getGround();
    if (!ground.local) this.skip();
    const pki = createPki();
    try {
      const ca = await pki.ca("upgrade-test-ca");
      const extra = await ground.startExtraPostgres(15, { tls: await ca.issue({ cn: "postgres", usage: "server", san: ["IP:127.0.0.1"] }) });
      try {
        await extra.upgradeTo18();
        const ssl = await withClient(
          { connectionString: extra.superUrl, ssl: { ca: ca.cert, rejectUnauthorized: true } },
          async (c) => (await c.query<{ ssl: boolean; n: string }>(
            "SELECT ssl, current_setting('server_version_num') AS n FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
          )).rows[0],
        );
        expect(ssl?.ssl).to.equal(true);
        expect(Number(ssl?.n)).to.be.at.least(180_000);
      } finally {
        await extra.stop();
      }
    } finally {
      pki.dispose();
    }
  });
});
