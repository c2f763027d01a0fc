// Verified TLS to PostgreSQL: a server with a certificate from a test CA, DatabaseServers with
// sslMode verify-full and tls.caSecretRef — right CA and host, wrong CA, wrong host, no TLS at all —
// and the ca.crt key that lets psql and node-postgres verify the server from the Secret alone.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import pg from "pg";
import { getGround } from "../../ground/index.ts";
import type { PostgresGround } from "../../ground/postgres.ts";
import { createPki, type Pki, type TestCa } from "../../support/pki.ts";
import { frontProxyPair, prepareDataApi, requestDataApi, type DataApiSetup } from "../support/data-api.ts";
import {
  SYSTEM_NAMESPACE,
  clients,
  createDatabaseServer,
  createWorkspace,
  ensureNamespace,
  readSecret,
  unique,
  waitReady,
  waitServerReason,
  withLogin,
} from "../support/fixtures.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";

const run = promisify(execFile);

describe("verified TLS to PostgreSQL (end to end)", function () {
  this.timeout(240_000);
  const id = unique("tls");
  let pki: Pki;
  let secure: PostgresGround;
  let operator: OperatorProcess;
  let ns: string;
  let dataApiCa: TestCa;
  let dataApi: DataApiSetup;

  async function secret(name: string, data: Record<string, string>): Promise<void> {
    await clients().core.createNamespacedSecret({ namespace: SYSTEM_NAMESPACE, body: { metadata: { name }, stringData: data } });
  }

  const readyOf = async (name: string, reason: string) =>
    (await waitServerReason(name, reason, 60_000)).status?.conditions?.find((c) => c.type === "Ready");

  before(async function () {
    const ground = getGround();
    if (!ground.local) this.skip();
    pki = createPki();
    const ca = await pki.ca("postgres-test-ca");
    const other = await pki.ca("another-ca");
    const serving = await ca.issue({ cn: "postgres", usage: "server", san: ["IP:127.0.0.1"] });
    secure = await ground.startExtraPostgres(ground.postgres.major, { tls: serving });
    await ensureNamespace(SYSTEM_NAMESPACE);
    await secret(`${id}-admin`, { username: secure.adminUser, password: secure.adminPassword });
    await secret(`${id}-ca`, { "ca.crt": ca.cert });
    await secret(`${id}-other-ca`, { "ca.crt": other.cert });
    // With the data API too, whose read-only sessions must verify the server the same way.
    dataApiCa = await pki.ca("data-api-ca");
    dataApi = await prepareDataApi(dataApiCa);
    operator = startOperator(dataApi.env, "tls");
    ns = unique("ws-tls");
    await ensureNamespace(ns);
  });

  after(async () => {
    await operator?.stop();
    await secure?.stop();
    pki?.dispose();
  });

  const server = (suffix: string, spec: Record<string, unknown>) =>
    createDatabaseServer(`${id}-${suffix}`, {
      host: "127.0.0.1",
      port: secure.port,
      sslMode: "verify-full",
      adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${id}-admin` },
      tls: { caSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${id}-ca` } },
      ...spec,
    });

  it("connects with verify-full against the server's CA and host, and gives clients the CA as ca.crt", async () => {
    await server("ok", {});
    await readyOf(`${id}-ok`, "Connected");
    await createWorkspace(ns, "secured", { serverRef: { name: `${id}-ok` } });
    await waitReady(ns, "secured", 60_000);
    const keys = (await readSecret(ns, "secured-ro"))!;
    expect(keys.sslmode).to.equal("verify-full");
    expect(keys["ca.crt"]).to.include("-----BEGIN CERTIFICATE-----");
    const caFile = join(getGround().root, `${id}-secured-ca.crt`);
    writeFileSync(caFile, keys["ca.crt"]!);
    // node-postgres, verifying with the Secret's CA.
    const client = new pg.Client({ host: keys.host, port: Number(keys.port), database: keys.database, user: keys.username, password: keys.password, ssl: { ca: keys["ca.crt"], rejectUnauthorized: true } });
    await client.connect();
    expect((await client.query<{ ssl: boolean }>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows[0]?.ssl).to.equal(true);
    await client.end();
    // psql (libpq), with PGSSLROOTCERT pointing at the mounted ca.crt, as a pod would.
    // The machine's psql (libpq); the server packages of the ground carry no client.
    const psql = "/usr/bin/psql";
    const { stdout } = await run(psql, ["-Atc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], {
      env: { ...process.env, PGHOST: keys.PGHOST, PGPORT: keys.PGPORT, PGDATABASE: keys.PGDATABASE, PGUSER: keys.PGUSER, PGPASSWORD: keys.PGPASSWORD, PGSSLMODE: keys.PGSSLMODE, PGSSLROOTCERT: caFile },
    });
    expect(stdout.trim()).to.equal("t");

    // The data API reads the workspace over verified TLS too (its sessions get the server's CA).
    const rw = (await readSecret(ns, "secured-rw"))!;
    await withLogin(rw.uri!.replace("sslmode=verify-full", "sslmode=no-verify"), (db) => db.query("CREATE TABLE IF NOT EXISTS visits (id int PRIMARY KEY)"));
    const listed = await requestDataApi(dataApi.port, `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables`, {
      ca: dataApiCa.cert, cert: frontProxyPair(), headers: { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" },
    });
    expect(listed.status, listed.body).to.equal(200);
    expect(listed.body).to.include("secured.public.visits");
  });

  it("refuses a server whose certificate another CA signed: TLSVerificationFailed naming the CA", async () => {
    await server("wrong-ca", { tls: { caSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${id}-other-ca` } } });
    const ready = await readyOf(`${id}-wrong-ca`, "TLSVerificationFailed");
    expect(ready?.status).to.equal("False");
    expect(ready?.message).to.match(/does not verify against the CA of tls\.caSecretRef .*-other-ca/);
  });

  it("refuses a certificate for another host: TLSVerificationFailed naming the host", async () => {
    await server("wrong-host", { host: "localhost" });
    const ready = await readyOf(`${id}-wrong-host`, "TLSVerificationFailed");
    expect(ready?.message).to.match(/is not for host localhost/);
  });

  it("refuses a server without TLS when the sslMode needs it: TLSVerificationFailed saying so", async () => {
    const plain = getGround().postgres;
    await secret(`${id}-plain-admin`, { username: plain.adminUser, password: plain.adminPassword });
    await server("no-tls", { port: plain.port, adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${id}-plain-admin` } });
    const ready = await readyOf(`${id}-no-tls`, "TLSVerificationFailed");
    expect(ready?.message).to.match(/does not offer TLS, which sslMode verify-full requires/);
  });

  it("reports a missing CA Secret as TLSVerificationFailed", async () => {
    await server("no-ca", { tls: { caSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${id}-absent` } } });
    const ready = await readyOf(`${id}-no-ca`, "TLSVerificationFailed");
    expect(ready?.message).to.match(/CA Secret .*-absent \(tls\.caSecretRef\) .* does not exist/);
  });
});
