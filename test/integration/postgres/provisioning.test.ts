// Integration tests: provisioning a workspace on PostgreSQL 15 as a non-superuser admin, idempotently.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { planWorkspace } from "../../../src/postgres/plan.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";
import { ServerConnection } from "../../../src/postgres/server.ts";
import type { PostgresError } from "../../../src/postgres/errors.ts";
import { POSTGRES_VECTORS } from "../../unit/postgres/scram-vectors.ts";
import { formatMarker } from "../../../src/postgres/marker.ts";
import { readSharedFacts } from "../../../src/postgres/shared.ts";
import { asUser, dropWorkspace, expectNoPasswordInLog, logsIn, newWorkspace, openAdmin, statementLog, superQuery, uniqueName } from "./helpers.ts";
import type { TestWorkspace } from "./helpers.ts";
import { applyPlan, convergeWorkspace, inspectWorkspace } from "../../../src/postgres/workspace.ts";

describe("postgres provisioning (integration)", function () {
  let server: ServerConnection;
  const created: TestWorkspace[] = [];

  before(async () => {
    server = await openAdmin();
  });

  after(async () => {
    for (const ws of created) await dropWorkspace(server, ws.names);
    await server.close();
  });

  it("reports the server version and the admin's privileges", async () => {
    const info = await server.serverInfo();
    expect(info.version).to.match(/^1[3-9]\.\d+$/);
    expect(info.databases).to.be.a("number").and.at.least(0);
    expect(await server.missingAdminPrivileges()).to.deep.equal([]);
  });

  it("reads the shared facts of many workspaces in one query, each as it reads alone, and the inside of a database in one more", async () => {
    const a = newWorkspace("batch-a");
    const b = newWorkspace("batch-b");
    created.push(a, b);
    await convergeWorkspace(server, a.desired);
    await convergeWorkspace(server, b.desired);
    const absent = uniqueName("absent");
    const names = [a.names, b.names, { database: absent, readWrite: absent, readOnly: `${absent}_ro` }];
    const alone = await Promise.all(names.map(async (n) => (await readSharedFacts(server, [n])).get(n.database)));
    await new Promise((resolve) => setTimeout(resolve, 500)); // the server writes its log a moment later
    const logBefore = statementLog()?.length ?? 0;
    const together = await readSharedFacts(server, names);
    expect(names.map((n) => together.get(n.database))).to.deep.equal(alone);
    expect(together.get(a.names.database)!.readOnly).to.deep.include({ canLogin: true, comment: formatMarker(a.desired.owner, "read-only") });
    expect(together.get(absent)).to.deep.include({ database: null, readWrite: null, readOnly: null });
    // Equal lists and settings of different workspaces are one frozen value (a snapshot holds thousands).
    const [fa, fb] = [together.get(a.names.database)!, together.get(b.names.database)!];
    expect(fa.readOnly!.config).to.equal(fb.readOnly!.config).and.be.frozen;
    expect(fa.database!.settings).to.equal(fb.database!.settings).and.be.frozen;
    expect(fa.claim.readWrite!.memberOf).to.equal(fb.claim.readOnly!.memberOf).and.be.frozen;
    const state = await inspectWorkspace(server, a.names, together.get(a.names.database));
    expect(planWorkspace(state, a.desired)).to.deep.equal([]);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the server writes its log a moment later
    const log = statementLog()?.slice(logBefore);
    if (log !== undefined) {
      const statements = log.match(/LOG: {2}(statement|execute [^:]*): .*\n.*/g) ?? [];
      expect(statements.map((st) => (/unnest\(\$1::text\[\]/.test(st) ? "shared" : /WITH rw AS/.test(st) ? "inside" : st)), log).to.deep.equal(["shared", "inside"]);
    }
  });

  it("provisions with one plan, then plans nothing and issues no DDL on a second pass", async () => {
    const ws = newWorkspace("prov");
    created.push(ws);
    const first = await inspectWorkspace(server, ws.names);
    expect(first.database).to.equal(null);
    const plan = planWorkspace(first, ws.desired);
    // Any login that could write template1 (older clusters let PUBLIC create in its public schema) plants nothing in ours.
    await superQuery("CREATE TABLE public.planted_in_template1 (x int)", [], "template1");
    try {
      expect(await applyPlan(server, plan)).to.equal(plan.length);
    } finally {
      await superQuery("DROP TABLE public.planted_in_template1", [], "template1");
    }

    const logBefore = statementLog()?.length ?? 0;
    const state = await inspectWorkspace(server, ws.names);
    expect(planWorkspace(state, ws.desired)).to.deep.equal([]);
    expect(state.database).to.deep.include({ owner: getGround().postgres.adminUser, connectionLimit: 20 });
    expect(state.database!.settings).to.deep.equal({ statement_timeout: "90min", idle_in_transaction_session_timeout: "5min" });
    expect(state.readWrite).to.deep.include({ connectionLimit: 20, comment: formatMarker(ws.desired.owner, "read-write") });
    expect(state.readOnly).to.deep.include({ connectionLimit: 20, comment: formatMarker(ws.desired.owner, "read-only") });
    const second = await convergeWorkspace(server, ws.desired);
    expect(second.applied).to.deep.equal([]);
    const log = statementLog();
    if (log !== undefined) {
      const since = log.slice(logBefore);
      expect(since).to.match(/SELECT/);
      expect(since).to.not.match(/(statement|execute [^:]*): \s*(CREATE|ALTER|GRANT|REVOKE|COMMENT|DROP)\b/i);
    }
    const facts = await server.claimFacts(ws.names);
    expect(facts.database?.comment).to.equal(`workspacedb.io/v2 owner=it-ns/${ws.desired.owner.name} part=database`);
    const absent = uniqueName("absent");
    expect(await server.claimFacts({ database: absent, readWrite: absent, readOnly: `${absent}_ro` })).to.deep.equal({ database: null, readWrite: null, readOnly: null });
    // Created from template0: nothing planted in template1 is copied.
    const [template] = await superQuery<{ t: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'planted_in_template1') AS t", [], ws.names.database);
    expect(template!.t).to.equal(false);
  });

  it("creates extensions as the admin in schema extensions, on the search_path, and only when missing", async () => {
    const ws = newWorkspace("ext");
    created.push(ws);
    ws.desired.extensions = ["pgcrypto"];
    const result = await convergeWorkspace(server, ws.desired);
    // A created database is not inspected again in the same pass: look now.
    expect((await inspectWorkspace(server, ws.names)).inside!.extensions).to.deep.include({ name: "pgcrypto", schema: "extensions" });
    expect(result.applied.filter((s) => s.sql.includes("EXTENSION"))).to.have.length(1);
    const [row] = await superQuery<{ schema: string; owner: string }>(
      "SELECT n.nspname AS schema, pg_get_userbyid(n.nspowner) AS owner FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'pgcrypto'", [], ws.names.database,
    );
    expect(row).to.deep.equal({ schema: "extensions", owner: getGround().postgres.adminUser });
    expect((await convergeWorkspace(server, ws.desired)).applied).to.deep.equal([]);
    // Both logins find the functions without qualifying them; neither can create anything in the schema.
    await asUser(ws.names.database, ws.names.readWrite, ws.passwords.readWrite, async (c) => {
      await c.query("SELECT gen_random_uuid(), digest('x', 'sha256')");
      expect(await c.query("CREATE TABLE extensions.planted (x int)").then(() => "created", (e: { code?: string }) => e.code)).to.equal("42501");
      expect(await c.query("CREATE FUNCTION extensions.digest(text, text) RETURNS bytea LANGUAGE sql AS 'SELECT NULL::bytea'").then(() => "created", (e: { code?: string }) => e.code)).to.equal("42501");
    });
    await asUser(ws.names.database, ws.names.readOnly, ws.passwords.readOnly, (c) => c.query("SELECT gen_random_uuid()"));
  });

  it("refuses an extensions schema the read/write login made (Conflict), and leaves it alone", async () => {
    const ws = newWorkspace("extconf");
    created.push(ws);
    await convergeWorkspace(server, ws.desired);
    await asUser(ws.names.database, ws.names.readWrite, ws.passwords.readWrite, (c) => c.query("CREATE SCHEMA extensions"));
    ws.desired.extensions = ["pgcrypto"];
    const err = await convergeWorkspace(server, ws.desired).then(() => undefined, (e: unknown) => e as PostgresError);
    expect(err?.kind).to.equal("Conflict");
    expect(err?.message).to.match(/schema extensions .* is owned by/);
    expect(await superQuery("SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto'", [], ws.names.database)).to.have.length(0);
  });

  it("rejects an unknown extension as InvalidSpec", async () => {
    const ws = newWorkspace("badext");
    created.push(ws);
    ws.desired.extensions = ["no_such_extension"];
    const err = await convergeWorkspace(server, ws.desired).then(() => undefined, (e: unknown) => e as PostgresError);
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
      // A role the admin did not create: on PostgreSQL 16+ it may alter it only with ADMIN OPTION.
      await superQuery(`GRANT ${role} TO "${getGround().postgres.adminUser}" WITH ADMIN OPTION`);
      await server.setPassword(role, vector.verifier);
      await superQuery(`GRANT CONNECT ON DATABASE postgres TO ${role}`);
      expect(await logsIn(server, "postgres", role, vector.password)).to.equal(true);
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
