// The test ground itself: a real kube-apiserver with RBAC and a real PostgreSQL with a non-superuser admin.
import { expect } from "chai";
import { CoreV1Api } from "@kubernetes/client-node";
import pg from "pg";
import { getGround } from "../ground/index.ts";

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
});
