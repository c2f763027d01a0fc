// A resync's slow statements never make work a person waits for (a regeneration) wait for a connection.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { withPriority } from "../../../src/runtime/lane.ts";
import { ServerConnection } from "../../../src/postgres/server.ts";

describe("postgres admin connections by priority (integration)", function () {
  this.timeout(60_000);
  let conn: ServerConnection;

  before(async () => {
    const p = getGround().postgres;
    conn = await ServerConnection.open(
      { host: p.host, port: p.port, sslMode: "disable", maintenanceDatabase: "postgres", user: p.adminUser, password: p.adminPassword },
      { maxConnections: 3, applicationName: "wsdb-priority-test" },
    );
  });
  after(async () => {
    await conn.close();
  });

  /** Milliseconds `fn` took. */
  async function timed(fn: () => Promise<unknown>): Promise<number> {
    const started = Date.now();
    await fn();
    return Date.now() - started;
  }

  it("keeps a pooled connection and a database client for high-priority work while resync statements are stuck", async () => {
    // Four slow resync statements of each kind: they may hold two of the three connections, never three.
    const slow = [
      ...Array.from({ length: 4 }, () => withPriority("low", () => conn.query("a slow resync statement", "SELECT pg_sleep(5)"))),
      ...Array.from({ length: 4 }, () => withPriority("low", () => conn.withDatabase("postgres", (db) => db.query("SELECT pg_sleep(5)")))),
    ];
    const running = async () => (await conn.query<{ n: number }>("counting", "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'wsdb-priority-test' AND query = 'SELECT pg_sleep(5)' AND state = 'active'"))[0]!.n;
    const deadline = Date.now() + 3_000;
    while ((await running()) < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await running(), "slow statements running at once (two of each kind)").to.equal(4);
    // A regeneration's statements (high priority: outside any resync pass) go through at once.
    const pooled = await timed(() => conn.query("a regeneration", "SELECT 1"));
    const database = await timed(() => conn.withDatabase("postgres", (db) => db.query("SELECT 1")));
    expect(pooled, "ms for a high-priority statement on the pool").to.be.below(1_500);
    expect(database, "ms for a high-priority client of a database").to.be.below(1_500);
    await Promise.all(slow);
  });
});
