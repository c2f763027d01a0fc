// The test ground itself: a real kube-apiserver with RBAC and controllers, a real PostgreSQL with a non-superuser admin.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { expect } from "chai";
import { CoreV1Api } from "@kubernetes/client-node";
import pg from "pg";
import { getGround, type PostgresGround } from "../ground/index.ts";
import { selectedPostgresMajor } from "../ground/postgres.ts";
import { waitFor } from "../ground/procs.ts";

/** Runs `fn` with a client logged in with `url`, ended afterwards. */
async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE of logging in with `url` and running SELECT 1, or "ok". */
async function loginResult(url: string): Promise<string> {
  try {
    await withClient(url, (c) => c.query("SELECT 1"));
    return "ok";
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
}

/** The admin role's attributes on `server`. */
async function adminAttributes(server: PostgresGround): Promise<Record<string, unknown> | undefined> {
  return withClient(server.adminUrl, async (c) =>
    (await c.query<Record<string, unknown>>("SELECT current_user AS name, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = current_user")).rows[0]);
}

/** Resolves once reading the object fails with 404, i.e. it is gone. */
async function gone(what: string, read: () => Promise<unknown>, timeoutMs = 60_000): Promise<void> {
  await waitFor(what, async () => {
    try {
      await read();
      return false;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return true;
      throw err;
    }
  }, timeoutMs, 500);
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

describe("test ground", () => {
  it("serves the Kubernetes API as admin", async () => {
    const core = getGround().kubeConfig.makeApiClient(CoreV1Api);
    const ns = await core.readNamespace({ name: "default" });
    expect(ns.metadata?.name).to.equal("default");
  });

  it("runs kube-apiserver 1.34 or later with RBAC authorization", async function () {
    const ground = getGround();
    if (!ground.apiServerGet) this.skip();
    const version = JSON.parse((await ground.apiServerGet("/version")).body) as { major: string; minor: string };
    expect(Number(version.major)).to.equal(1);
    expect(Number.parseInt(version.minor, 10)).to.be.at.least(34);
    const rbac = await ground.apiServerGet("/apis/rbac.authorization.k8s.io/v1");
    expect(rbac.status).to.equal(200);
  });

  it("has a PostgreSQL admin role with CREATEDB and CREATEROLE that is not a superuser", async () => {
    const client = new pg.Client({ connectionString: getGround().postgres.adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user",
      );
      expect(rows[0]).to.deep.equal({ rolsuper: false, rolcreatedb: true, rolcreaterole: true });
    } finally {
      await client.end();
    }
  });

  it("logs every statement to a file the tests can read", async function () {
    const { postgres } = getGround();
    if (!postgres.logFile) this.skip();
    const marker = `ground_marker_${Date.now()}`;
    const client = new pg.Client({ connectionString: postgres.superUrl });
    await client.connect();
    await client.query(`SELECT '${marker}'`);
    await client.end();
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(postgres.logFile, "utf8")).to.contain(marker);
  });

  describe("PostgreSQL", function () {
    this.timeout(180_000);

    it("runs the selected PostgreSQL major and says which", async () => {
      const { postgres, local } = getGround();
      const num = await withClient(postgres.superUrl, async (c) =>
        Number((await c.query<{ n: string }>("SELECT current_setting('server_version_num') AS n")).rows[0]!.n));
      expect(Math.floor(num / 10_000)).to.equal(postgres.major);
      expect(postgres.version.startsWith(`${postgres.major}.`), postgres.version).to.equal(true);
      if (local && !process.env.WSDB_PG_BIN_DIR) expect(postgres.major).to.equal(selectedPostgresMajor());
    });

    it("starts an extra PostgreSQL 15 server with its own admin role", async function () {
      const ground = getGround();
      if (!ground.local) this.skip();
      const extra = await ground.startExtraPostgres(15);
      try {
        expect(extra.major).to.equal(15);
        expect(extra.version).to.match(/^15\./);
        expect(extra.port).to.not.equal(ground.postgres.port);
        expect(extra.adminPassword).to.not.equal(ground.postgres.adminPassword);
        expect(extra.dataDir).to.not.equal(ground.postgres.dataDir);
        const num = await withClient(extra.superUrl, async (c) =>
          Number((await c.query<{ n: string }>("SELECT current_setting('server_version_num') AS n")).rows[0]!.n));
        expect(num).to.be.within(150_000, 159_999);
        expect(await adminAttributes(extra)).to.deep.equal({
          name: "workspacedb_admin", rolsuper: false, rolcreatedb: true, rolcreaterole: true, rolcanlogin: true,
        });
        // Its statements go to its own log, with the application name in the line prefix.
        const marker = `extra_marker_${Date.now()}`;
        const url = new URL(extra.superUrl);
        url.searchParams.set("application_name", "ground-test");
        await withClient(url.toString(), (c) => c.query(`SELECT '${marker}'`));
        const line = readFileSync(extra.logFile!, "utf8").split("\n").find((l) => l.includes(marker));
        expect(line).to.match(/ \[ground-test\] postgres@postgres LOG: {2}statement: SELECT /);
      } finally {
        await extra.stop();
      }
      expect(await loginResult(extra.adminUrl)).to.not.equal("ok");
    });

    it("reloads an edited pg_hba.conf", async function () {
      const { postgres } = getGround();
      const hbaFile = postgres.hbaFile;
      if (!hbaFile) this.skip();
      const role = `ground_hba_${randomBytes(4).toString("hex")}`;
      const password = randomBytes(18).toString("base64url");
      await withClient(postgres.superUrl, async (c) => {
        await c.query("SET log_statement = 'none'"); // keeps this password out of the statement log
        await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      });
      const url = `postgresql://${role}:${password}@${postgres.host}:${postgres.port}/postgres`;
      const original = readFileSync(hbaFile, "utf8");
      try {
        expect(await loginResult(url)).to.equal("ok");
        writeFileSync(hbaFile, `host all ${role} 127.0.0.1/32 reject\n${original}`);
        await postgres.reload();
        expect(await loginResult(url)).to.equal("28000"); // invalid_authorization_specification
        expect(await loginResult(postgres.adminUrl)).to.equal("ok");
      } finally {
        writeFileSync(hbaFile, original);
        await postgres.reload();
      }
      expect(await loginResult(url)).to.equal("ok");
      await withClient(postgres.superUrl, (c) => c.query(`DROP ROLE ${role}`));
    });
  });

  describe("kube-controller-manager", function () {
    this.timeout(180_000);
    let core: CoreV1Api;

    before(() => {
      core = getGround().kubeConfig.makeApiClient(CoreV1Api);
    });

    it("gives a new namespace its default ServiceAccount and deletes the namespace with its contents", async () => {
      const namespace = uniqueName("ground-ns");
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "content" }, data: { a: "1" } } });
      await waitFor("ServiceAccount default", async () => {
        await core.readNamespacedServiceAccount({ namespace, name: "default" });
        return true;
      }, 60_000, 300);
      await core.deleteNamespace({ name: namespace });
      await gone(`namespace ${namespace}`, () => core.readNamespace({ name: namespace }));
    });

    it("garbage-collects dependents of a deleted owner, in the background and in the foreground", async () => {
      const namespace = uniqueName("ground-gc");
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      try {
        for (const propagationPolicy of ["Background", "Foreground"]) {
          const ownerName = `owner-${propagationPolicy.toLowerCase()}`;
          const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: ownerName } } });
          const dependentName = `dependent-${propagationPolicy.toLowerCase()}`;
          await core.createNamespacedConfigMap({
            namespace,
            body: {
              metadata: {
                name: dependentName,
                ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: ownerName, uid: owner.metadata!.uid!, blockOwnerDeletion: true }],
              },
            },
          });
          await core.deleteNamespacedConfigMap({ namespace, name: ownerName, propagationPolicy });
          await gone(`${propagationPolicy} dependent`, () => core.readNamespacedConfigMap({ namespace, name: dependentName }));
          await gone(`${propagationPolicy} owner`, () => core.readNamespacedConfigMap({ namespace, name: ownerName }));
        }
      } finally {
        await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      }
    });

    it("works again after an API server restart", async function () {
      const ground = getGround();
      if (!ground.restartApiServer) this.skip();
      await ground.restartApiServer();
      const namespace = uniqueName("ground-restart");
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      await waitFor("ServiceAccount default after the restart", async () => {
        await core.readNamespacedServiceAccount({ namespace, name: "default" });
        return true;
      }, 60_000, 300);
      await core.deleteNamespace({ name: namespace });
      await gone(`namespace ${namespace}`, () => core.readNamespace({ name: namespace }));
    });
  });
});
