// End to end: leader fencing. A frozen leader's statement is cut off by the server, and once another replica
// leads, no statement of the old one runs (application_name = identity in the statement log).
import { readFileSync, statSync } from "node:fs";
import { expect } from "chai";
import pg from "pg";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { annotateWorkspace, createWorkspace, ensureNamespace, eventually, loginFailure, readSecret, setupServer, unique, waitReady } from "../support/fixtures.ts";

/** Statement-log lines from `offset` on (each with `[application_name]` after the pid). */
function logLines(offset: number): string[] {
  const file = getGround().postgres.logFile!;
  return readFileSync(file).subarray(offset).toString("utf8").split("\n");
}

const STATEMENT = / LOG: {2}(?:statement|execute [^:]*): /;

describe("leader fencing (end to end)", function () {
  this.timeout(180_000);
  const ns = unique("ws-fence");
  const lease = `lease-${ns}`;
  const a = `fence-a-${ns.slice(-6)}`;
  const b = `fence-b-${ns.slice(-6)}`;
  let leader: OperatorProcess | undefined;
  let standby: OperatorProcess | undefined;
  let holder: pg.Client | undefined;

  before(async function () {
    if (getGround().postgres.logFile === undefined || !getGround().local) this.skip();
    await setupServer("main");
    await ensureNamespace(ns);
  });

  after(async () => {
    await holder?.query("ROLLBACK").catch(() => undefined);
    await holder?.end().catch(() => undefined);
    leader?.proc.child.kill("SIGCONT");
    await leader?.kill();
    await standby?.stop();
  });

  it("cuts off a frozen leader's statement server-side, and nothing of it runs after the new leader's first statement", async () => {
    leader = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: lease, WSDB_LEADER_ELECTION_IDENTITY: a }, "fence-a");
    await eventually("A leads", async () => (leader!.log().includes("became the leader") ? true : undefined));
    await createWorkspace(ns, "fenced");
    const obj = await waitReady(ns, "fenced");
    const role = obj.status!.credentials!.readWrite!.username;
    const old = (await readSecret(ns, "fenced-rw"))!;
    standby = startOperator({ WSDB_LEADER_ELECTION_LEASE_NAME: lease, WSDB_LEADER_ELECTION_IDENTITY: b }, "fence-b");

    // The test holds the role's catalog row: A's ALTER ROLE … PASSWORD waits on it.
    holder = new pg.Client({ connectionString: getGround().postgres.superUrl, application_name: "fence-test" });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query(`ALTER ROLE "${role}" CONNECTION LIMIT 49`);
    const offset = statSync(getGround().postgres.logFile!).size;
    await annotateWorkspace(ns, "fenced", { "workspacedb.io/regenerate-rw": "fence-1" });
    await eventually("A's ALTER ROLE waits on the lock", async () =>
      logLines(offset).some((l) => l.includes(`[${a}]`) && STATEMENT.test(l) && l.includes(`ALTER ROLE "${role}" WITH PASSWORD`)) ? true : undefined, 30_000, 100);
    leader.proc.child.kill("SIGSTOP");

    // The lease passes to B once A has not renewed for leaseDuration; B's statements show up in the log.
    const firstOfB = await eventually("B's first statement", async () => {
      const lines = logLines(offset);
      const index = lines.findIndex((l) => l.includes(`[${b}]`) && STATEMENT.test(l));
      return index >= 0 ? index : undefined;
    }, 60_000, 100);
    const linesAtB = logLines(offset);
    const cutOff = linesAtB.slice(0, firstOfB).some((l) => l.includes(`[${a}]`) && /ERROR: {2}canceling statement due to (lock|statement) timeout/.test(l));
    expect(cutOff, "the server cancelled A's waiting statement before B began").to.equal(true);

    await holder.query("ROLLBACK");
    leader.proc.child.kill("SIGCONT");
    const code = await Promise.race([leader.proc.exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 30_000))]);
    expect(code, "A gives up leading and exits").to.equal(1);

    const after = logLines(offset).slice(firstOfB);
    const fromA = after.filter((l) => l.includes(`[${a}]`) && (STATEMENT.test(l) || / LOG: {2}duration: /.test(l)));
    expect(fromA, "statements of the old leader after the new leader's first").to.deep.equal([]);

    // B finishes the regeneration: the old password is refused, the Secret's logs in.
    await eventually("the old password refused", async () => ((await loginFailure(old.uri!)) === "28P01" ? true : undefined), 60_000);
    const fresh = (await readSecret(ns, "fenced-rw"))!;
    expect(fresh.password).to.not.equal(old.password);
    await eventually("the new password logs in", async () => ((await loginFailure(fresh.uri!)) === undefined ? true : undefined), 30_000);
  });
});
