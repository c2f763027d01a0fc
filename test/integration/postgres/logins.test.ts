// Integration tests: passwords via verifiers, login checks, session termination, disabling and dropping.
import { expect } from "chai";
import type { PostgresError } from "../../../src/postgres/errors.ts";
import { formatMarker } from "../../../src/postgres/marker.ts";
import { generatePassword } from "../../../src/postgres/password.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";
import { ServerConnection } from "../../../src/postgres/server.ts";
import pgModule from "pg";
import { connectAs, dropWorkspace, expectNoPasswordInLog, generatedPasswords, logsIn, openAdmin, provision, superQuery } from "./helpers.ts";
import type { TestWorkspace } from "./helpers.ts";
import { convergeWorkspace } from "../../../src/postgres/workspace.ts";

describe("postgres logins (integration)", function () {
  let server: ServerConnection;
  let ws: TestWorkspace;

  before(async () => {
    server = await openAdmin();
    ws = await provision(server, "login");
  });

  after(async () => {
    await dropWorkspace(server, ws.names);
    await server.close();
  });

  it("sets a password from a verifier: the new one logs in, the old one no longer does", async () => {
    const { database, readWrite } = ws.names;
    expect(await logsIn(server, database, readWrite, ws.passwords.readWrite)).to.equal(true);
    const next = generatePassword();
    generatedPasswords.push(next);
    await server.setPassword(readWrite, scramSha256Verifier(next));
    expect(await logsIn(server, database, readWrite, next)).to.equal(true);
    expect((await server.probeLogin(database, readWrite, ws.passwords.readWrite)).kind).to.equal("wrongPassword");
    ws.passwords.readWrite = next;
  });

  it("refuses to send anything but a verifier", async () => {
    let thrown: unknown;
    try {
      await server.setPassword(ws.names.readWrite, "plain-text-password");
    } catch (err) {
      thrown = err;
    }
    expect(String(thrown)).to.match(/SCRAM/);
  });

  it("terminates open sessions of a login", async () => {
    const session = await connectAs(ws.names.database, ws.names.readOnly, ws.passwords.readOnly);
    const ended = new Promise<void>((resolve) => session.once("end", resolve));
    try {
      expect(await server.terminateSessions(ws.names.readOnly)).to.equal(1);
      let failed = false;
      await session.query("SELECT 1").catch(() => { failed = true; });
      expect(failed).to.equal(true);
      await ended;
    } finally {
      await session.end().catch(() => undefined);
    }
    expect(await server.terminateSessions(ws.names.readOnly)).to.equal(0);
  });

  it("disables a login (the right password is then refused after authentication) and re-enables it by plan", async () => {
    expect(await server.disableLogin(ws.names.readOnly)).to.equal(true);
    expect(await server.probeLogin(ws.names.database, ws.names.readOnly, ws.passwords.readOnly)).to.deep.include({ kind: "refusedAfterAuthentication", code: "28000" });
    expect(await server.disableLogin("no_such_role_here")).to.equal(false);
    const next = generatePassword();
    generatedPasswords.push(next);
    const verifier = scramSha256Verifier(next);
    ws.desired.verifiers.readOnly = () => verifier;
    const { applied } = await convergeWorkspace(server, ws.desired);
    expect(applied.map((s) => s.summary)).to.deep.equal([`enable login ${ws.names.readOnly}`]);
    expect(await logsIn(server, ws.names.database, ws.names.readOnly, next)).to.equal(true);
    ws.passwords.readOnly = next;
  });

  it("says wrongPassword for an unknown role (PostgreSQL does not tell them apart)", async () => {
    expect((await server.probeLogin(ws.names.database, "no_such_role_here", "Whatever-123456")).kind).to.equal("wrongPassword");
  });

  it("drops a workspace with an open session of its login, idempotently", async () => {
    const victim = await provision(server, "drop");
    const session = await connectAs(victim.names.database, victim.names.readWrite, victim.passwords.readWrite);
    session.on("error", () => undefined);
    expect((await server.claimFacts(victim.names)).readWrite?.comment).to.equal(formatMarker(victim.desired.owner, "read-write"));
    await server.dropDatabase(victim.names.database);
    await server.dropRole(victim.names.readWrite);
    await server.dropRole(victim.names.readOnly);
    await session.end().catch(() => undefined);
    const left = await superQuery(
      "SELECT 1 FROM pg_database WHERE datname = $1 UNION ALL SELECT 1 FROM pg_roles WHERE rolname IN ($2, $3)",
      [victim.names.database, victim.names.readWrite, victim.names.readOnly],
    );
    expect(left).to.deep.equal([]);
    await dropWorkspace(server, victim.names);
  });

  it("refuses to drop a database while a session the admin cannot end is in it, naming it, and drops it once it is gone", async () => {
    const victim = await provision(server, "blocked");
    const url = new URL((await import("../../ground/index.ts")).getGround().postgres.superUrl);
    url.pathname = `/${victim.names.database}`;
    const pg = (await import("pg")).default;
    const dba = new pg.Client({ connectionString: url.toString(), application_name: "dba-console" });
    dba.on("error", () => undefined);
    await dba.connect();
    try {
      const err = await server.dropDatabase(victim.names.database).then(() => undefined, (e: unknown) => e as PostgresError);
      expect(err?.code).to.equal("55006");
      expect(err?.message).to.match(/postgres \(pid \d+, application "dba-console"\)/);
      expect(await superQuery("SELECT 1 FROM pg_database WHERE datname = $1", [victim.names.database])).to.have.length(1);
    } finally {
      await dba.end();
    }
    await dropWorkspace(server, victim.names);
    expect(await superQuery("SELECT 1 FROM pg_database WHERE datname = $1", [victim.names.database])).to.have.length(0);
  });

  it("ends the sessions of a login that revoked the admin's membership in it (PostgreSQL 14 lets a role do that)", async function () {
    const ground = (await import("../../ground/index.ts")).getGround();
    if (!ground.local) this.skip();
    const p14 = await ground.startExtraPostgres(14);
    const admin14 = await ServerConnection.open({ host: p14.host, port: p14.port, sslMode: "disable", maintenanceDatabase: "postgres", user: p14.adminUser, password: p14.adminPassword });
    try {
      // (PostgreSQL 14 is a first-class target only with its own issue; here only the role is needed.)
      const role = `rev_${Date.now().toString(36)}`;
      const password = generatePassword();
      generatedPasswords.push(password);
      await admin14.query("creating the login", `CREATE ROLE "${role}" LOGIN PASSWORD '${scramSha256Verifier(password)}'`);
      await admin14.query("joining it", `GRANT "${role}" TO CURRENT_USER`);
      const rw = new pgModule.Client({ host: p14.host, port: p14.port, database: "postgres", user: role, password });
      rw.on("error", () => undefined);
      await rw.connect();
      await rw.query(`REVOKE "${role}" FROM "${p14.adminUser}"`);
      expect(await admin14.terminateSessions(role)).to.equal(1);
      expect(await rw.query("SELECT 1").then(() => "alive", () => "ended")).to.equal("ended");
      await rw.end().catch(() => undefined);
      await admin14.dropRole(role);
    } finally {
      await admin14.close();
    }
  });

  it("never lets a generated password reach the server's statement log", function () {
    if (!expectNoPasswordInLog()) this.skip();
  });
});
