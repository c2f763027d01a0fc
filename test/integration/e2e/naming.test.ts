// End to end: database names from hostile and colliding object names, ownership conflicts, adoption,
// and identifier quoting in what reaches PostgreSQL (DESIGN.md, Naming and Privileges).
import { readFileSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { deriveDatabaseName } from "../../../src/postgres/naming.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  asSuperuser,
  canLogin,
  createWorkspace,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  loginFailure,
  readSecret,
  setupServer,
  unique,
  waitEvent,
  waitGone,
  waitReady,
  waitReason,
  withLogin,
  annotateNamespace,
} from "../support/fixtures.ts";

interface DatabaseFacts {
  owner: string;
  comment: string | null;
  acl: string | null;
}

async function databaseFacts(database: string): Promise<DatabaseFacts | undefined> {
  return asSuperuser("postgres", async (c) =>
    (await c.query<DatabaseFacts>(
      "SELECT pg_get_userbyid(datdba) AS owner, shobj_description(oid, 'pg_database') AS comment, datacl::text AS acl FROM pg_database WHERE datname = $1",
      [database],
    )).rows[0]);
}

async function roleNames(database: string): Promise<string[]> {
  return asSuperuser("postgres", async (c) =>
    (await c.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY 1", [database, `${database}_ro`])).rows.map((r) => r.rolname));
}

/** Size of the statement log now, to read only what is written after this point. */
function logOffset(): number {
  const file = getGround().postgres.logFile;
  return file ? statSync(file).size : 0;
}

/**
 * Statements the PostgreSQL log recorded since `offset` (simple and extended protocol): the statement
 * text's first line, without the line prefix (which names user and database).
 */
function statementsSince(offset: number): string[] {
  const file = getGround().postgres.logFile;
  if (!file) return [];
  const text = readFileSync(file).subarray(offset).toString("utf8");
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const match = / LOG: {2}(?:statement|execute [^:]*): (.*)$/.exec(line);
    if (match) out.push(match[1]!);
  }
  return out;
}

/** Statements that change something (DDL, DCL) and name `database` or its logins. */
function changesTo(statements: string[], database: string): string[] {
  return statements.filter((s) => s.includes(database) && /^\s*(CREATE|ALTER|DROP|GRANT|REVOKE|COMMENT)\b/i.test(s));
}

/** Works end to end: the read/write login writes, the read-only login reads it. */
async function roundTrip(namespace: string, name: string): Promise<void> {
  const rw = (await readSecret(namespace, `${name}-rw`))!;
  const ro = (await readSecret(namespace, `${name}-ro`))!;
  await withLogin(rw.uri!, async (c) => {
    await c.query("CREATE TABLE IF NOT EXISTS probe (v text)");
    await c.query("INSERT INTO probe VALUES ($1)", [`${namespace}/${name}`]);
  });
  const values = await withLogin(ro.uri!, async (c) => (await c.query<{ v: string }>("SELECT v FROM probe")).rows.map((r) => r.v));
  expect(values).to.include(`${namespace}/${name}`);
}

describe("naming (end to end)", function () {
  this.timeout(180_000);
  let operator: OperatorProcess;
  const ns = unique("ws-name");
  const other = unique("ws-name-other");
  const suffix = ns.slice("ws-name-".length).replace(/-/g, "_");

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    await ensureNamespace(other);
    operator = startOperator();
  });
  after(async () => {
    await operator?.stop();
  });

  it("gives names with dashes and dots, and 63-character names, a valid database name of at most 60 bytes with a hash suffix", async () => {
    const dotted = "team-a.data-lake.v2";
    const long = `very-long-workspace-name-for-the-national-malaria-programme-${"x".repeat(3)}`;
    expect(long).to.have.length(63);
    await createWorkspace(ns, dotted);
    await createWorkspace(ns, long);
    for (const name of [dotted, long]) {
      const obj = await waitReady(ns, name);
      const database = obj.status!.database!;
      expect(database, name).to.equal(deriveDatabaseName(ns, name));
      expect(database, name).to.match(/^[a-z][a-z0-9_]*_[0-9a-f]{8}$/);
      expect(Buffer.byteLength(database), name).to.be.at.most(60);
      expect(obj.status?.credentials?.readOnly?.username, name).to.equal(`${database}_ro`);
      expect(await databaseFacts(database), name).to.not.equal(undefined);
      await roundTrip(ns, name);
    }
  });

  it("gives objects in different namespaces whose derived names collide different databases", async () => {
    // "<base>-x" / "y" and "<base>" / "x-y" both map to "<base>_x_y" before the hash.
    const base = unique("ws-coll");
    await ensureNamespace(`${base}-x`);
    await ensureNamespace(base);
    await createWorkspace(`${base}-x`, "y");
    await createWorkspace(base, "x-y");
    const first = (await waitReady(`${base}-x`, "y")).status!.database!;
    const second = (await waitReady(base, "x-y")).status!.database!;
    expect(first).to.not.equal(second);
    expect(first.replace(/_[0-9a-f]{8}$/, "")).to.equal(second.replace(/_[0-9a-f]{8}$/, ""));
    expect((await databaseFacts(first))?.comment).to.contain(`${base}-x/y`);
    expect((await databaseFacts(second))?.comment).to.contain(`${base}/x-y`);
    await roundTrip(`${base}-x`, "y");
    await roundTrip(base, "x-y");
    const rwFirst = (await readSecret(`${base}-x`, "y-rw"))!;
    expect(await loginFailure(rwFirst.uri!, second)).to.equal("42501");
  });

  it("never takes over a database that belongs to another WorkspaceDatabase: Conflict, and the owner's database and logins stay as they were", async () => {
    await createWorkspace(ns, "owner");
    const database = (await waitReady(ns, "owner")).status!.database!;
    const rw = (await readSecret(ns, "owner-rw"))!;
    const ro = (await readSecret(ns, "owner-ro"))!;
    const before = await databaseFacts(database);
    const offset = logOffset();

    await createWorkspace(other, "thief", { databaseName: database, deletionPolicy: "Delete" });
    const thief = await waitReason(other, "thief", "Conflict");
    const ready = thief.status!.conditions!.find((c) => c.type === "Ready")!;
    expect(ready.status).to.equal("False");
    expect(ready.message).to.contain(`${ns}/owner`);
    await sleep(12_000); // at least one resync of both objects
    expect((await waitReason(other, "thief", "Conflict")).status?.database).to.not.equal(database);

    expect(await databaseFacts(database)).to.deep.equal(before);
    expect(before?.comment).to.contain(`${ns}/owner`);
    expect(await canLogin(rw.uri!)).to.equal(true);
    expect(await canLogin(ro.uri!)).to.equal(true);
    expect(await readSecret(ns, "owner-rw")).to.deep.equal(rw);
    expect(await readSecret(other, "thief-rw")).to.equal(undefined);
    expect(await readSecret(other, "thief-ro")).to.equal(undefined);
    expect(changesTo(statementsSince(offset), database)).to.deep.equal([]);

    // Deleting the intruder, even with deletionPolicy Delete, drops nothing of the owner's.
    await deleteWorkspace(other, "thief");
    await waitGone(other, "thief");
    expect(await databaseFacts(database)).to.deep.equal(before);
    expect(await roleNames(database)).to.deep.equal([database, `${database}_ro`]);
    expect(await canLogin(rw.uri!)).to.equal(true);
    expect(await canLogin(ro.uri!)).to.equal(true);
    expect(changesTo(statementsSince(offset), database)).to.deep.equal([]);
  });

  it("adopts a hand-made database without marker only when spec.databaseName names it and the Namespace allows it, leaving its data intact", async () => {
    const { adminUser, adminUrl } = getGround().postgres;
    const legacy = `legacy_${suffix}`;
    await asSuperuser("postgres", async (c) => c.query(`CREATE DATABASE "${legacy}" OWNER "${adminUser}"`));
    const adminLegacy = new URL(adminUrl);
    adminLegacy.pathname = `/${legacy}`;
    await withLogin(adminLegacy.toString(), async (c) => {
      await c.query("CREATE TABLE patients (id int PRIMARY KEY, district text)");
      await c.query("INSERT INTO patients VALUES (1, 'north'), (2, 'south'), (3, 'east')");
    });

    await createWorkspace(ns, "legacy", { databaseName: legacy });
    const refused = await waitReason(ns, "legacy", "Conflict");
    expect(refused.status?.conditions?.[0]?.message).to.contain(`workspacedb.io/adopt: ${legacy} on namespace ${ns}`);
    await annotateNamespace(ns, { "workspacedb.io/adopt": `other_db, ${legacy}` });
    const obj = await waitReady(ns, "legacy", 150_000);
    expect(obj.status?.database).to.equal(legacy);
    const event = await waitEvent(ns, "legacy", "Adopted");
    expect(event.type).to.equal("Normal");
    expect(event.message).to.contain(legacy);
    expect((await databaseFacts(legacy))?.comment).to.contain(`${ns}/legacy`);
    const rows = await asSuperuser(legacy, async (c) => (await c.query<{ id: number; district: string }>("SELECT id, district FROM patients ORDER BY id")).rows);
    expect(rows).to.deep.equal([{ id: 1, district: "north" }, { id: 2, district: "south" }, { id: 3, district: "east" }]);

    const ro = (await readSecret(ns, "legacy-ro"))!;
    const count = await eventually("read-only login reads the existing table", async () =>
      withLogin(ro.uri!, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM patients")).rows[0]?.n), 30_000, 1_000);
    expect(count).to.equal("3");
    const rw = (await readSecret(ns, "legacy-rw"))!;
    await withLogin(rw.uri!, async (c) => c.query("CREATE TABLE visits (id int)"));
  });

  it("reports Conflict for a hand-made database that has the derived name, and leaves it untouched", async () => {
    const { adminUser, adminUrl } = getGround().postgres;
    const database = deriveDatabaseName(ns, "handmade");
    await asSuperuser("postgres", async (c) => c.query(`CREATE DATABASE "${database}" OWNER "${adminUser}"`));
    const adminDb = new URL(adminUrl);
    adminDb.pathname = `/${database}`;
    await withLogin(adminDb.toString(), async (c) => c.query("CREATE TABLE precious AS SELECT generate_series(1, 5) AS id"));
    const before = await databaseFacts(database);
    const offset = logOffset();

    await createWorkspace(ns, "handmade", { deletionPolicy: "Delete" });
    const obj = await waitReason(ns, "handmade", "Conflict");
    const ready = obj.status!.conditions!.find((c) => c.type === "Ready")!;
    expect(ready.status).to.equal("False");
    expect(ready.message).to.contain(database);
    expect(ready.message).to.contain("spec.databaseName");
    await sleep(12_000); // at least one resync

    expect((await waitReason(ns, "handmade", "Conflict")).status?.database).to.equal(undefined);
    expect(await databaseFacts(database)).to.deep.equal(before);
    expect(before?.comment).to.equal(null);
    expect(await roleNames(database)).to.deep.equal([]);
    expect(await readSecret(ns, "handmade-rw")).to.equal(undefined);
    const n = await asSuperuser(database, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM precious")).rows[0]?.n);
    expect(n).to.equal("5");
    expect(changesTo(statementsSince(offset), database)).to.deep.equal([]);

    // Deleting it, even with deletionPolicy Delete, leaves the hand-made database alone.
    await deleteWorkspace(ns, "handmade");
    await waitGone(ns, "handmade");
    expect(await databaseFacts(database)).to.deep.equal(before);
    const left = await asSuperuser(database, async (c) => (await c.query<{ n: string }>("SELECT count(*) AS n FROM precious")).rows[0]?.n);
    expect(left).to.equal("5");
    expect(changesTo(statementsSince(offset), database)).to.deep.equal([]);
  });

  it("either rejects an object name longer than 63 characters at admission or provisions it", async () => {
    // Kubernetes allows up to 253 characters, but the Secrets' label workspacedb.io/database
    // carries the object name and label values are limited to 63.
    const name = `${"a".repeat(40)}.${"b".repeat(59)}`;
    let rejected: { code?: number; body?: unknown } | undefined;
    try {
      await createWorkspace(ns, name);
    } catch (err) {
      rejected = err as { code?: number; body?: unknown };
    }
    if (rejected !== undefined) {
      expect(rejected.code, String(rejected.body)).to.equal(422);
      return;
    }
    try {
      const obj = await waitReady(ns, name, 30_000).catch(async (err: unknown) => {
        const ready = (await getWorkspace(ns, name))?.status?.conditions?.find((c) => c.type === "Ready");
        throw new Error(`${err instanceof Error ? err.message : String(err)}; Ready ${ready?.reason}: ${ready?.message}`);
      });
      expect(Buffer.byteLength(obj.status!.database!)).to.be.at.most(60);
      await roundTrip(ns, name);
    } finally {
      await deleteWorkspace(ns, name);
    }
  });

  it("quotes every identifier it sends to PostgreSQL", async function () {
    if (!getGround().postgres.logFile) this.skip();
    const database = `ws_${suffix}_2024_q4`;
    const offset = logOffset();
    await createWorkspace(ns, "quoted", { databaseName: database });
    await waitReady(ns, "quoted");
    await roundTrip(ns, "quoted");
    const lines = statementsSince(offset).filter((l) => l.includes(database));
    expect(lines.some((l) => l.includes(`CREATE DATABASE "${database}"`)), "CREATE DATABASE quoted").to.equal(true);
    expect(lines.some((l) => l.includes(`CREATE ROLE "${database}"`)), "CREATE ROLE quoted").to.equal(true);
    expect(lines.some((l) => l.includes(`CREATE ROLE "${database}_ro"`)), "CREATE ROLE _ro quoted").to.equal(true);
    expect(lines.length).to.be.greaterThan(8);
    expect(changesTo(lines, database), "the filter the Conflict tests rely on sees these changes").to.have.length.greaterThan(5);
    const unquoted = lines.filter((line) => {
      for (let i = line.indexOf(database); i >= 0; i = line.indexOf(database, i + 1)) {
        if (line[i - 1] !== '"') return true;
      }
      return false;
    });
    expect(unquoted).to.deep.equal([]);
  });
});
