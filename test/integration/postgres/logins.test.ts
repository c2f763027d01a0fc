// Integration tests: passwords via verifiers, login checks, session termination, disabling and dropping.
import { expect } from "chai";
import type { PostgresError } from "../../../src/postgres/errors.ts";
import { generatePassword } from "../../../src/postgres/password.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";
import type { ServerConnection } from "../../../src/postgres/server.ts";
import { connectAs, expectNoPasswordInLog, generatedPasswords, openAdmin, provision, superQuery } from "./helpers.ts";
import type { TestWorkspace } from "./helpers.ts";

describe("postgres logins (integration)", function () {
  let server: ServerConnection;
  let ws: TestWorkspace;

  before(async () => {
    server = await openAdmin();
    ws = await provision(server, "login");
  });

  after(async () => {
    await server.dropWorkspace(ws.names);
    await server.close();
  });

  it("sets a password from a verifier: the new one logs in, the old one no longer does", async () => {
    const { database, readWrite } = ws.names;
    expect(await server.checkLogin(database, readWrite, ws.passwords.readWrite)).to.equal(true);
    const next = generatePassword();
    generatedPasswords.push(next);
    await server.setPassword(readWrite, scramSha256Verifier(next));
    expect(await server.checkLogin(database, readWrite, next)).to.equal(true);
    expect(await server.checkLogin(database, readWrite, ws.passwords.readWrite)).to.equal(false);
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

  it("disables a login (checkLogin false even with the right password) and re-enables it by plan", async () => {
    expect(await server.disableLogin(ws.names.readOnly)).to.equal(true);
    expect(await server.checkLogin(ws.names.database, ws.names.readOnly, ws.passwords.readOnly)).to.equal(false);
    expect(await server.disableLogin("no_such_role_here")).to.equal(false);
    const next = generatePassword();
    generatedPasswords.push(next);
    ws.desired.verifiers.readOnly = scramSha256Verifier(next);
    const { applied } = await server.convergeWorkspace(ws.desired);
    expect(applied.map((s) => s.summary)).to.deep.equal([`enable login ${ws.names.readOnly}`]);
    expect(await server.checkLogin(ws.names.database, ws.names.readOnly, next)).to.equal(true);
    ws.passwords.readOnly = next;
  });

  it("returns false for an unknown role", async () => {
    expect(await server.checkLogin(ws.names.database, "no_such_role_here", "Whatever-123456")).to.equal(false);
  });

  it("drops a workspace with an open session, idempotently, and refuses someone else's", async () => {
    const victim = await provision(server, "drop");
    const session = await connectAs(victim.names.database, victim.names.readWrite, victim.passwords.readWrite);
    session.on("error", () => undefined);
    const other = await server.dropWorkspace(victim.names, { namespace: "someone-else", name: "x" }).then(
      () => undefined,
      (e: unknown) => e as PostgresError,
    );
    expect(other?.kind).to.equal("Conflict");
    await server.dropWorkspace(victim.names, victim.desired.owner);
    await session.end().catch(() => undefined);
    const left = await superQuery(
      "SELECT 1 FROM pg_database WHERE datname = $1 UNION ALL SELECT 1 FROM pg_roles WHERE rolname IN ($2, $3)",
      [victim.names.database, victim.names.readWrite, victim.names.readOnly],
    );
    expect(left).to.deep.equal([]);
    await server.dropWorkspace(victim.names);
  });

  it("never lets a generated password reach the server's statement log", function () {
    if (!expectNoPasswordInLog()) this.skip();
  });
});
