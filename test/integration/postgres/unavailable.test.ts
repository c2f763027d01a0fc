// Integration tests: a stopped PostgreSQL surfaces as Unavailable, and the connection recovers after a restart.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import type { PostgresError } from "../../../src/postgres/errors.ts";
import type { ServerConnection } from "../../../src/postgres/server.ts";
import { dropWorkspace, logsIn, openAdmin, provision } from "./helpers.ts";
import type { TestWorkspace } from "./helpers.ts";
import { applyPlan, inspectWorkspace } from "../../../src/postgres/workspace.ts";

async function failure(promise: Promise<unknown>): Promise<PostgresError | undefined> {
  return promise.then(() => undefined, (e: unknown) => e as PostgresError);
}

describe("postgres unavailable (integration)", function () {
  let server: ServerConnection;
  let ws: TestWorkspace;

  before(async function () {
    if (!getGround().local) this.skip();
    server = await openAdmin();
    ws = await provision(server, "down");
  });

  after(async () => {
    if (server === undefined) return;
    await dropWorkspace(server, ws.names);
    await server.close();
  });

  it("reports Unavailable while the server is down and works again after it is back", async function () {
    // Stopping PostgreSQL is only possible on the local ground.
    if (!getGround().local) this.skip();
    const postgres = getGround().postgres;
    await postgres.stop();
    try {
      expect((await failure(server.serverInfo()))?.kind).to.equal("Unavailable");
      expect((await failure(inspectWorkspace(server, ws.names)))?.kind).to.equal("Unavailable");
      expect((await failure(server.probeLogin(ws.names.database, ws.names.readWrite, ws.passwords.readWrite)))?.kind).to.equal("Unavailable");
      expect((await failure(applyPlan(server, [{ sql: "SELECT 1", database: ws.names.database, summary: "probe" }])))?.kind).to.equal("Unavailable");
    } finally {
      await postgres.start();
    }
    expect((await server.serverInfo()).version).to.match(/^\d+\.\d+$/);
    expect(await logsIn(server, ws.names.database, ws.names.readWrite, ws.passwords.readWrite)).to.equal(true);
  });
});
