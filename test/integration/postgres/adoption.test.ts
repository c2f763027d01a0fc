// Integration tests: adopting an existing database, quoting hostile names, and provisioning in parallel.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { planWorkspace } from "../../../src/postgres/plan.ts";
import type { ServerConnection } from "../../../src/postgres/server.ts";
import type { WorkspaceNames } from "../../../src/postgres/state.ts";
import { asUser, dropWorkspace, expectNoPasswordInLog, logsIn, newWorkspace, openAdmin, superQuery, uniqueName } from "./helpers.ts";
import type { TestWorkspace } from "./helpers.ts";
import { convergeWorkspace, inspectWorkspace } from "../../../src/postgres/workspace.ts";

describe("postgres adoption and names (integration)", function () {
  let server: ServerConnection;
  const cleanup: WorkspaceNames[] = [];
  const roles: string[] = [];

  before(async () => {
    server = await openAdmin();
  });

  after(async () => {
    for (const names of cleanup) await dropWorkspace(server, names);
    for (const role of roles) await superQuery(`DROP ROLE IF EXISTS "${role}"`);
    await server.close();
  });

  it("adopts an unmarked database of another role without touching its data, once marked", async () => {
    const ws = newWorkspace("adopt");
    cleanup.push(ws.names);
    const legacy = uniqueName("legacy");
    roles.push(legacy);
    const db = ws.names.database;
    await superQuery(`CREATE ROLE ${legacy}`);
    await superQuery(`CREATE DATABASE ${db} OWNER ${legacy}`);
    await superQuery(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    await superQuery(`SET ROLE ${legacy}; CREATE TABLE public.old (x int); INSERT INTO public.old VALUES (7)`, [], db);
    await superQuery("CREATE TABLE public.by_superuser (x int)", [], db);
    await superQuery(`GRANT ${legacy} TO "${getGround().postgres.adminUser}"`);

    const before = await inspectWorkspace(server, ws.names);
    expect(before.database).to.deep.include({ owner: legacy, comment: null, adminCanConnect: true });
    // The plan never takes an unmarked database: the claim step (controllers/ownership.ts) marks it first.
    const refused = await convergeWorkspace(server, ws.desired).then(() => undefined, (e: unknown) => e as { kind?: string });
    expect(refused?.kind).to.equal("Conflict");
    await server.mark(ws.desired.owner, ws.names, ["database"]);
    const result = await convergeWorkspace(server, ws.desired);
    expect(result.state.database).to.deep.include({ owner: getGround().postgres.adminUser });
    expect(result.state.inside!.tablesWithoutReadOnlySelect).to.deep.equal([{ schema: "public", name: "by_superuser", grantable: false }]);
    expect(planWorkspace(result.state, ws.desired)).to.deep.equal([]);
    const rows = await asUser(db, ws.names.readOnly, ws.passwords.readOnly, async (c) => (await c.query<{ x: number }>("SELECT x FROM public.old")).rows);
    expect(rows).to.deep.equal([{ x: 7 }]);
  });

  it("quotes hostile names end to end", async () => {
    const ws = newWorkspace("x");
    const database = `${uniqueName("it")} "q" ü;--`;
    ws.names.database = database;
    ws.names.readWrite = database;
    ws.names.readOnly = `${database}_ro`;
    cleanup.push(ws.names);
    await convergeWorkspace(server, ws.desired);
    expect(planWorkspace(await inspectWorkspace(server, ws.names), ws.desired)).to.deep.equal([]);
    await asUser(database, ws.names.readWrite, ws.passwords.readWrite, async (c) => {
      await c.query(`CREATE SCHEMA "we""ird"`);
      await c.query(`CREATE TABLE "we""ird"."t;x" (v int)`);
    });
    await asUser(database, ws.names.readOnly, ws.passwords.readOnly, (c) => c.query(`SELECT * FROM "we""ird"."t;x"`));
    expect(await logsIn(server, database, ws.names.readOnly, ws.passwords.readOnly)).to.equal(true);
  });

  it("provisions several workspaces in parallel", async () => {
    const many: TestWorkspace[] = Array.from({ length: 4 }, () => newWorkspace("par"));
    cleanup.push(...many.map((w) => w.names));
    await Promise.all(many.map((w) => convergeWorkspace(server, w.desired)));
    for (const w of many) {
      expect(planWorkspace(await inspectWorkspace(server, w.names), w.desired)).to.deep.equal([]);
    }
  });

  it("never lets a generated password reach the server's statement log", function () {
    if (!expectNoPasswordInLog()) this.skip();
  });
});
