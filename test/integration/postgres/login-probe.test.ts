// Integration tests: what the SCRAM-only login probe reports against the ground's real PostgreSQL.
import { expect } from "chai";
import type pg from "pg";
import { getGround } from "../../ground/index.ts";
import { probeLogin, type LoginOutcome } from "../../../src/postgres/login-probe.ts";
import { saslPrep } from "../../../src/postgres/saslprep.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";
import { createDatabase, createLoginRole, dropDatabase, dropRole, quoteIdent, revokeOnDatabase } from "../../../src/postgres/sql.ts";
import { connectAs, superQuery, uniqueName } from "./helpers.ts";

const PASSWORD = "probe-Password-1";

describe("login probe (integration)", function () {
  this.timeout(60_000);
  const roles: string[] = [];
  const databases: string[] = [];
  const sessions: pg.Client[] = [];

  async function role(password: string, extra = ""): Promise<string> {
    const name = uniqueName("probe");
    roles.push(name);
    await superQuery(createLoginRole(name, scramSha256Verifier(password), -1, "probe test").sql);
    if (extra !== "") await superQuery(`ALTER ROLE ${quoteIdent(name)} ${extra}`);
    return name;
  }

  async function probe(user: string, password: string, database = "postgres"): Promise<LoginOutcome> {
    const { host, port } = getGround().postgres;
    return probeLogin({ host, port, database, user, password, sslMode: "disable", timeoutMs: 20_000 });
  }

  after(async () => {
    // Sessions first, then what they used.
    for (const session of sessions) await session.end().catch(() => undefined);
    for (const database of databases) await superQuery(dropDatabase(database).sql);
    for (const name of roles) await superQuery(dropRole(name).sql);
  });

  it("the right password → accepted", async () => {
    expect(await probe(await role(PASSWORD), PASSWORD)).to.deep.equal({ kind: "accepted" });
  });

  it("a wrong password → wrongPassword 28P01", async () => {
    const outcome = await probe(await role(PASSWORD), "not-the-password");
    expect(outcome.kind).to.equal("wrongPassword");
    expect((outcome as { code: string }).code).to.equal("28P01");
  });

  it("a role that does not exist → wrongPassword 28P01 (PostgreSQL runs a mock exchange)", async () => {
    const outcome = await probe(uniqueName("nobody"), PASSWORD);
    expect(outcome).to.include({ kind: "wrongPassword", code: "28P01" });
  });

  it("NOLOGIN and the right password → refusedAfterAuthentication 28000", async () => {
    const outcome = await probe(await role(PASSWORD, "NOLOGIN"), PASSWORD);
    expect(outcome).to.include({ kind: "refusedAfterAuthentication", code: "28000" });
    expect((outcome as { message: string }).message).to.match(/not permitted to log in/);
    expect((await probe(roles.at(-1)!, "wrong")).kind, "a NOLOGIN role's wrong password is still wrong").to.equal("wrongPassword");
  });

  it("CONNECTION LIMIT 1 with one open session and the right password → refusedAfterAuthentication 53300", async () => {
    const name = await role(PASSWORD, "CONNECTION LIMIT 1");
    const session = await connectAs("postgres", name, PASSWORD);
    sessions.push(session);
    const outcome = await probe(name, PASSWORD);
    expect(outcome).to.include({ kind: "refusedAfterAuthentication", code: "53300" });
    expect((outcome as { message: string }).message).to.match(/too many connections for role/);
    expect((await probe(name, "wrong")).kind, "the limit is checked after the password").to.equal("wrongPassword");
  });

  it("a database without CONNECT for the role → refusedAfterAuthentication 42501", async () => {
    const database = uniqueName("probe_db");
    await superQuery(createDatabase(database).sql);
    databases.push(database);
    await superQuery(revokeOnDatabase(database, ["CONNECT"], null).sql);
    const outcome = await probe(await role(PASSWORD), PASSWORD, database);
    expect(outcome).to.include({ kind: "refusedAfterAuthentication", code: "42501" });
  });

  it("a database that does not exist → refusedAfterAuthentication 3D000", async () => {
    const outcome = await probe(await role(PASSWORD), PASSWORD, uniqueName("missing"));
    expect(outcome).to.include({ kind: "refusedAfterAuthentication", code: "3D000" });
  });

  it("a hand-set non-ASCII password with a prohibited character (raw fallback) → accepted", async () => {
    const password = "P\u00E4ssw\u00F6rd\u0340\u{1F511}";
    expect(saslPrep(password), "PostgreSQL uses this one raw").to.equal(password);
    const name = await role(password);
    expect(await probe(name, password)).to.deep.equal({ kind: "accepted" });
    expect((await probe(name, password.normalize("NFKC"))).kind, "the normalised form is another password").to.equal("wrongPassword");
  });

  it("a hand-set password SASLprep normalises → accepted with either spelling", async () => {
    const name = await role("caf\u00E9\u00A0\uFB01");
    expect(await probe(name, "caf\u00E9\u00A0\uFB01")).to.deep.equal({ kind: "accepted" });
    expect(await probe(name, "cafe\u0301 fi")).to.deep.equal({ kind: "accepted" });
  });
});
