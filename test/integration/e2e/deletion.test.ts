// End to end: deleting a WorkspaceDatabase (DESIGN.md, Deletion): Delete drops, Retain keeps, an
// unreachable server holds the finalizer until clean-up succeeded.
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
  listEvents,
  openSession,
  readSecret,
  setupServer,
  unique,
  waitEvent,
  waitGone,
  waitReady,
  withLogin,
} from "../support/fixtures.ts";

async function databaseExists(database: string): Promise<boolean> {
  return asSuperuser("postgres", async (c) => (await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [database])).rowCount === 1);
}

async function roles(database: string): Promise<{ rolname: string; rolcanlogin: boolean }[]> {
  return asSuperuser("postgres", async (c) =>
    (await c.query<{ rolname: string; rolcanlogin: boolean }>(
      "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY 1",
      [database, `${database}_ro`],
    )).rows);
}

async function postgresUp(): Promise<boolean> {
  return asSuperuser("postgres", async () => true).catch(() => false);
}

describe("deletion (end to end)", function () {
  this.timeout(240_000);
  let operator: OperatorProcess;
  const ns = unique("ws-del");

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator();
  });
  after(async () => {
    // Whatever happened, leave PostgreSQL running for the files after this one.
    if (!(await postgresUp())) await getGround().postgres.start();
    await operator?.stop();
  });

  it("with deletionPolicy Delete drops the database (despite an open session) and both logins, removes the Secrets and records Dropped", async () => {
    await createWorkspace(ns, "doomed", { deletionPolicy: "Delete" });
    const obj = await waitReady(ns, "doomed");
    const database = obj.status!.database!;
    const rw = (await readSecret(ns, "doomed-rw"))!;
    await withLogin(rw.uri!, async (c) => c.query("CREATE TABLE t AS SELECT 1 AS one"));
    const session = await openSession(rw.uri!);
    try {
      await session.query("SELECT 1");
      await deleteWorkspace(ns, "doomed");
      await waitGone(ns, "doomed");
      expect(await databaseExists(database)).to.equal(false);
      expect(await roles(database)).to.deep.equal([]);
      expect(await readSecret(ns, "doomed-rw")).to.equal(undefined);
      expect(await readSecret(ns, "doomed-ro")).to.equal(undefined);
      let sessionError: unknown;
      await session.query("SELECT 1").catch((err: unknown) => (sessionError = err));
      expect(sessionError, "the open session was ended").to.not.equal(undefined);
    } finally {
      await session.end().catch(() => undefined);
    }
    const event = await waitEvent(ns, "doomed", "Dropped");
    expect(event.type).to.equal("Normal");
    expect(event.message).to.contain(database);
  });

  it("with the default Retain keeps database and roles, disables the logins and records Retained", async () => {
    await createWorkspace(ns, "kept");
    const database = (await waitReady(ns, "kept")).status!.database!;
    const rw = (await readSecret(ns, "kept-rw"))!;
    await deleteWorkspace(ns, "kept");
    await waitGone(ns, "kept");
    expect(await databaseExists(database)).to.equal(true);
    expect(await roles(database)).to.deep.equal([
      { rolname: database, rolcanlogin: false },
      { rolname: `${database}_ro`, rolcanlogin: false },
    ]);
    expect(await canLogin(rw.uri!)).to.equal(false);
    expect(await readSecret(ns, "kept-ro")).to.equal(undefined);
    const event = await waitEvent(ns, "kept", "Retained");
    expect(event.type).to.equal("Normal");
    expect(event.message).to.contain(database);
  });

  it("leaves nothing behind when an object with deletionPolicy Delete is deleted while it is still being provisioned", async () => {
    const names = ["hasty-0", "hasty-1", "hasty-2", "hasty-3"];
    for (const [i, name] of names.entries()) {
      await createWorkspace(ns, name, { deletionPolicy: "Delete" });
      await sleep(i * 150); // deleted at different points of the first pass
      await deleteWorkspace(ns, name);
    }
    for (const name of names) await waitGone(ns, name);
    for (const name of names) {
      const database = deriveDatabaseName(ns, name);
      expect(await databaseExists(database), database).to.equal(false);
      expect(await roles(database), database).to.deep.equal([]);
      expect(await readSecret(ns, `${name}-rw`), name).to.equal(undefined);
      expect(await readSecret(ns, `${name}-ro`), name).to.equal(undefined);
    }
  });

  it("keeps the finalizer while PostgreSQL is down, says why, and finishes both policies once it is back", async function () {
    // Stopping PostgreSQL is only possible on the local ground.
    if (!getGround().local) this.skip();
    await createWorkspace(ns, "down-retain");
    await createWorkspace(ns, "down-delete", { deletionPolicy: "Delete" });
    const retainDb = (await waitReady(ns, "down-retain")).status!.database!;
    const deleteDb = (await waitReady(ns, "down-delete")).status!.database!;

    await getGround().postgres.stop();
    try {
      await deleteWorkspace(ns, "down-retain");
      await deleteWorkspace(ns, "down-delete");
      for (const name of ["down-retain", "down-delete"]) {
        const obj = await eventually(`${name} reports why it cannot be deleted`, async () => {
          const o = await getWorkspace(ns, name);
          return o?.status?.conditions?.find((c) => c.type === "Ready")?.reason === "Deleting" ? o : undefined;
        });
        const ready = obj.status!.conditions!.find((c) => c.type === "Ready")!;
        expect(ready.status, name).to.equal("False");
        expect(ready.message, name).to.match(/unreachable|unavailable|cannot connect|connection refused|ECONNREFUSED/i);
        expect(ready.message, name).to.match(/server|PostgreSQL/i, ready.message);
        expect(obj.metadata.finalizers, name).to.include("workspacedb.io/finalizer");
        expect(obj.metadata.deletionTimestamp, name).to.not.equal(undefined);
      }
      // Still there a while later: the finalizer is not given up on.
      await sleep(5_000);
      for (const name of ["down-retain", "down-delete"]) {
        expect((await getWorkspace(ns, name))?.metadata.finalizers, name).to.include("workspacedb.io/finalizer");
      }
      const warnings = (await listEvents(ns, "down-retain")).filter((e) => e.type === "Warning" && e.reason === "Deleting");
      expect(warnings, "a Warning Event about the stuck deletion").to.not.be.empty;
    } finally {
      await getGround().postgres.start();
    }

    await waitGone(ns, "down-retain", 90_000);
    await waitGone(ns, "down-delete", 90_000);
    expect(await databaseExists(retainDb)).to.equal(true);
    expect(await roles(retainDb)).to.deep.equal([
      { rolname: retainDb, rolcanlogin: false },
      { rolname: `${retainDb}_ro`, rolcanlogin: false },
    ]);
    expect(await databaseExists(deleteDb)).to.equal(false);
    expect(await roles(deleteDb)).to.deep.equal([]);
    for (const name of ["down-retain-rw", "down-retain-ro", "down-delete-rw", "down-delete-ro"]) {
      expect(await readSecret(ns, name), name).to.equal(undefined);
    }
    await waitEvent(ns, "down-retain", "Retained");
    await waitEvent(ns, "down-delete", "Dropped");
  });
});
