// Integration tests: provisioning a workspace on PostgreSQL 15 as a non-superuser admin, idempotently.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { planWorkspace } from "../../../src/postgres/plan.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";
import { ServerConnection } from "../../../src/postgres/server.ts";
import type { PostgresError } from "../../../src/postgres/errors.ts";
import { POSTGRES_VECTORS } from "../../unit/postgres/scram-vectors.ts";
import { asUser, expectNoPasswordInLog, newWorkspace, openAdmin, statementLog, superQuery, uniqueName } from "./helpers.ts";
import type { TestWorkspace } from "./helpers.ts";

describe("postgres provisioning (integration)", function () {
  let server: ServerConnection;
  const created: TestWorkspace[] = [];

  before(async () => {
    server = await openAdmin();
  });

  after(async () => {
    for (const ws of created) await server.dropWorkspace(ws.names);
    await server.close();
  });

  it("reports the server version and the admin's privileges", async () => {
    const info = await server.serverInfo();
    expect(info.version).to.match(/^1[3-9]\.\d+$/);
    expect(info.databases).to.be.a("number").and.at.least(0);
    expect(await server.checkAdminPrivileges()).to.deep.equal({ missing: [], superuser: false });
  });

  it("provisions with one plan, then plans nothing and issues no DDL on a second pass", async () => {
    const ws = newWorkspace("prov");
    created.push(ws);
    const first = await server.inspectWorkspace(ws.names);
    expect(first.database).to.equal(null);
    const plan = planWorkspace(first, ws.desired);
    expect(await server.applyPlan(plan)).to.equal(plan.length);

    const logBefore = statementLog()?.length ?? 0;
    const state = await server.inspectWorkspace(ws.names);
    expect(planWorkspace(state, ws.desired)).to.deep.equal([]);
    expect(state.database).to.deep.include({ owner: getGround().postgres.adminUser, connectionLimit: 20 });
    expect(state.database!.settings).to.deep.equal({ statement_timeout: "90min", idle_in_transaction_session_timeout: "5min" });
    const second = await server.convergeWorkspace(ws.desired);
    expect(second.applied).to.deep.equal([]);
    const log = statementLog();
    if (log !== undefined) {
      const since = log.slice(logBefore);
      expect(since).to.match(/SELECT/);
      expect(since).to.not.match(/(statement|execute [^:]*): \s*(CREATE|ALTER|GRANT|REVOKE|COMMENT|DROP)\b/i);
    }
    expect(await server.databaseOwnerMarker(ws.names.database)).to.deep.equal({
      exists: true,
      comment: `workspacedb.io/owner: it-ns/${ws.desired.owner.name}`,
      owner: ws.desired.owner,
    });
    expect(await server.databaseOwnerMarker(uniqueName("absent"))).to.deep.equal({ exists: false });
  });

  it("creates extensions as the admin, and only when missing", async () => {
    const ws = newWorkspace("ext");
    created.push(ws);
    ws.desired.extensions = ["pgcrypto"];
    const result = await server.convergeWorkspace(ws.desired);
    expect(result.state.inside!.extensions).to.include("pgcrypto");
    expect(result.applied.filter((s) => s.sql.includes("EXTENSION"))).to.have.length(1);
    const [row] = await superQuery<{ schema: string }>(
      "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pgcrypto'", [], ws.names.database,
    );
    expect(row!.schema).to.equal("public");
    expect((await server.convergeWorkspace(ws.desired)).applied).to.deep.equal([]);
  });

  it("rejects an unknown extension as InvalidSpec", async () => {
    const ws = newWorkspace("badext");
    created.push(ws);
    ws.desired.extensions = ["no_such_extension"];
    const err = await server.convergeWorkspace(ws.desired).then(() => undefined, (e: unknown) => e as PostgresError);
    expect(err?.kind).to.equal("InvalidSpec");
    expect(err?.message).to.match(/no_such_extension/);
  });

  it("computes the verifier PostgreSQL computes, and logs in with it", async () => {
    const role = uniqueName("scram");
    await superQuery(`CREATE ROLE ${role} LOGIN PASSWORD 'Correct-Horse-9'`);
    try {
      const [row] = await superQuery<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role]);
      const salt = Buffer.from(row!.rolpassword.split("$")[1]!.split(":")[1]!, "base64");
      expect(scramSha256Verifier("Correct-Horse-9", { salt })).to.equal(row!.rolpassword);
      const vector = POSTGRES_VECTORS[1]!;
      await server.setPassword(role, vector.verifier);
      await superQuery(`GRANT CONNECT ON DATABASE postgres TO ${role}`);
      expect(await server.checkLogin("postgres", role, vector.password)).to.equal(true);
      expect(await asUser("postgres", role, vector.password, async (c) => (await c.query<{ u: string }>("SELECT current_user AS u")).rows[0]!.u)).to.equal(role);
    } finally {
      await superQuery(`REVOKE ALL ON DATABASE postgres FROM ${role}`);
      await superQuery(`DROP ROLE ${role}`);
    }
  });

  it("classifies an unreachable server and a wrong admin password without leaking it", async () => {
    const p = getGround().postgres;
    const base = { host: p.host, sslMode: "disable", maintenanceDatabase: "postgres", user: p.adminUser };
    const down = await ServerConnection.open({ ...base, port: 1, password: p.adminPassword }, { connectTimeoutMs: 2000 }).then(
      () => undefined,
      (e: unknown) => e as PostgresError,
    );
    expect(down?.kind).to.equal("Unavailable");
    const wrong = await ServerConnection.open({ ...base, port: p.port, password: "Wrong-Password-123" }).then(
      () => undefined,
      (e: unknown) => e as PostgresError,
    );
    expect(wrong?.kind).to.equal("AuthenticationFailed");
    expect(wrong?.message).to.not.include("Wrong-Password-123");
  });

  it("never lets a generated password reach the server's statement log", function () {
    if (!expectNoPasswordInLog()) this.skip();
  });
});
