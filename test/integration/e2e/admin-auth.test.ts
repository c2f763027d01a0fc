// End to end: the admin role's password is only ever proven with SCRAM-SHA-256. A server whose
// pg_hba asks for md5 (the role still has an MD5 hash) or a cleartext password gets nothing — checked
// on the wire through a recording proxy — and the DatabaseServer says which method and how to fix it.
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { getGround, type PostgresGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { RecordingProxy } from "../support/proxy.ts";
import {
  createAdminSecret,
  createDatabaseServer,
  deleteDatabaseServer,
  ensureNamespace,
  SYSTEM_NAMESPACE,
  superQueryOn,
  unique,
  waitServerReason,
} from "../support/fixtures.ts";

const ADMIN = "wsdb_md5_admin";

describe("the admin role's password only inside SCRAM (end to end)", function () {
  this.timeout(300_000);
  let operator: OperatorProcess;

  before(async () => {
    await ensureNamespace(SYSTEM_NAMESPACE);
    operator = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: `lease-${unique("auth")}` }, "admin-auth");
  });

  after(async () => {
    await operator?.stop();
  });

  for (const which of ["ground", 15] as const) {
    describe(`on PostgreSQL ${which === "ground" ? "of the ground" : which}`, () => {
      let postgres: PostgresGround;
      let proxy: RecordingProxy;
      let original = "";
      const password = `Md5-${unique("pw")}`;
      const servers: string[] = [];

      /** pg_hba with one rule for the test's admin role in front of the ground's own rules. */
      async function hbaFor(method: string): Promise<void> {
        writeFileSync(postgres.hbaFile!, `host all ${ADMIN} 127.0.0.1/32 ${method}\n${original}`);
        await postgres.reload();
      }

      /** A new DatabaseServer through the proxy (a fresh one is checked at once). */
      async function server(): Promise<string> {
        const name = unique(`auth-${which}`);
        servers.push(name);
        await createDatabaseServer(name, { host: "127.0.0.1", port: proxy.port, adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `md5-admin-${which}` } });
        return name;
      }

      /** Every connection of the admin role through the proxy since `from` sent no PasswordMessage, and the password never crossed. */
      function nothingSent(from: number): void {
        const connections = proxy.messagesOf(ADMIN, from);
        expect(connections.length, "the operator tried to connect as the admin role").to.be.above(0);
        for (const types of connections) expect(types, "no PasswordMessage or SASL message ('p')").to.not.include("p");
        expect(proxy.everything(from).includes(Buffer.from(password, "utf8")), "the password never crossed the wire").to.equal(false);
      }

      before(async function () {
        const ground = getGround();
        if (!ground.local) this.skip();
        postgres = which === "ground" ? ground.postgres : await ground.startExtraPostgres(15);
        original = readFileSync(postgres.hbaFile!, "utf8");
        // An admin role as one made before SCRAM was the default: its password hashed with MD5.
        await superQueryOn(postgres, `SET password_encryption = 'md5'; CREATE ROLE ${ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '${password}'`);
        await createAdminSecret(`md5-admin-${which}`, ADMIN, password);
        proxy = new RecordingProxy(postgres.host, postgres.port);
        await proxy.listen();
      });

      after(async () => {
        if (original !== "") {
          writeFileSync(postgres.hbaFile!, original);
          await postgres.reload();
        }
        for (const name of servers) await deleteDatabaseServer(name).catch(() => undefined);
        await proxy?.close();
        await superQueryOn(postgres, `DROP ROLE IF EXISTS ${ADMIN}`).catch(() => undefined);
      });

      it("an md5 rule with an MD5-hashed password: InsecureAuthentication naming md5 and the statements that re-hash it; nothing sent", async () => {
        await hbaFor("md5");
        const from = proxy.connections.length;
        const name = await server();
        const status = await waitServerReason(name, "InsecureAuthentication", 60_000);
        const message = status.status?.conditions?.find((c) => c.type === "Ready")?.message ?? "";
        expect(message).to.contain("md5");
        expect(message).to.contain("SET password_encryption = 'scram-sha-256'");
        expect(message).to.contain("ALTER ROLE");
        expect(message).to.not.contain(password);
        nothingSent(from);
      });

      it("a password (cleartext) rule: InsecureAuthentication naming cleartext; nothing sent", async () => {
        await hbaFor("password");
        const from = proxy.connections.length;
        const name = await server();
        const status = await waitServerReason(name, "InsecureAuthentication", 60_000);
        expect(status.status?.conditions?.find((c) => c.type === "Ready")?.message).to.contain("cleartext");
        nothingSent(from);
      });

      it("after the README's fix (re-hashed with SCRAM): connected, the server's signature verified", async () => {
        await superQueryOn(postgres, `SET password_encryption = 'scram-sha-256'; ALTER ROLE ${ADMIN} PASSWORD '${password}'`);
        // The md5 rule now proves a SCRAM verifier with SCRAM, as PostgreSQL does for every such role.
        await hbaFor("md5");
        const from = proxy.connections.length;
        const name = await server();
        await waitServerReason(name, "Connected", 60_000);
        expect(proxy.everything(from).includes(Buffer.from(password, "utf8")), "the password never crossed the wire").to.equal(false);
        // SASLInitialResponse and SASLResponse ('p') only, in SCRAM's two steps.
        const scram = proxy.messagesOf(ADMIN, from).filter((types) => types.includes("p"));
        expect(scram.length).to.be.above(0);
        for (const types of scram) expect(types.filter((t) => t === "p")).to.have.length(2);
      });
    });
  }
});
