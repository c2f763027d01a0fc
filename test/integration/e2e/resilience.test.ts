// Resilience: an API server restart mid-run, two replicas with leader election, SIGKILL at random moments.
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import {
  annotateWorkspace,
  asSuperuser,
  canLogin,
  createWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  operatorMetrics,
  readSecret,
  setupServer,
  sumMetric,
  unique,
  waitReady,
} from "../support/fixtures.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("resilience (end to end)", function () {
  this.timeout(300_000);
  const running: OperatorProcess[] = [];
  const start = (env: Record<string, string> = {}) => {
    const op = startOperator(env);
    running.push(op);
    return op;
  };

  before(async () => {
    await setupServer("main");
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      for (const op of running) process.stderr.write(`--- operator log (last 40 lines) ---\n${op.log().split("\n").slice(-40).join("\n")}\n`);
    }
    await Promise.all(running.splice(0).map((op) => op.stop().catch(() => undefined)));
  });

  it("resumes its watches after the API server restarts and reconciles new objects", async function () {
    const ground = getGround();
    if (!ground.restartApiServer) this.skip();
    const ns = unique("ws-restart");
    await ensureNamespace(ns);
    // Without leader election: a leader that cannot renew its lease while the API server is down
    // exits on purpose (its Deployment restarts it); here the watches themselves must recover.
    const op = start({ WSDB_LEADER_ELECTION_ENABLED: "false" });
    await createWorkspace(ns, "before");
    await waitReady(ns, "before");
    await ground.restartApiServer();
    await createWorkspace(ns, "after");
    const obj = await waitReady(ns, "after", 90_000);
    const secret = await readSecret(ns, "after-rw");
    expect(obj.status?.database).to.be.a("string");
    expect(await canLogin(secret!.uri!)).to.equal(true);
    expect(op.proc.child.exitCode, "the operator kept running").to.equal(null);
  });

  it("lets only the leader reconcile, and the other replica takes over within the lease duration", async () => {
    const ns = unique("ws-leader");
    await ensureNamespace(ns);
    const env = { WSDB_LEADER_ELECTION_LEASE_NAME: `lease-${ns}` };
    const a = start(env);
    await eventually("replica A leads", async () => (a.log().includes("became the leader") ? true : undefined));
    const b = start(env);
    await createWorkspace(ns, "one");
    await waitReady(ns, "one");
    const [portA, portB] = await Promise.all([a.httpPort(), b.httpPort()]);
    const leaderOf = async (port: number) => sumMetric(await operatorMetrics(port), "workspacedb_leader");
    const passesOf = async (port: number) => sumMetric(await operatorMetrics(port), "workspacedb_reconcile_total");
    expect(await leaderOf(portA)).to.equal(1);
    expect(await leaderOf(portB)).to.equal(0);
    expect(await passesOf(portB), "the standby reconciled nothing").to.equal(0);
    expect(b.log()).to.not.include("became the leader");

    await a.kill();
    const killedAt = Date.now();
    await eventually("replica B leads", async () => (b.log().includes("became the leader") ? true : undefined), 30_000, 100);
    const takeover = Date.now() - killedAt;
    process.stderr.write(`      takeover after SIGKILL of the leader: ${(takeover / 1000).toFixed(1)} s (lease duration 10 s)\n`);
    expect(takeover).to.be.below(10_000 + 3_000);
    await createWorkspace(ns, "two");
    await waitReady(ns, "two");
    expect(await passesOf(portB)).to.be.above(0);
  });

  it("converges after SIGKILL at random moments during provisioning and regeneration", async () => {
    const ns = unique("ws-crash");
    await ensureNamespace(ns);
    const names = Array.from({ length: 12 }, (_, i) => `c${i}`);
    let op = start({ WSDB_LEADER_ELECTION_ENABLED: "false" });
    const creations = Promise.all(names.map((n) => createWorkspace(ns, n)));
    let kills = 0;
    for (let round = 0; round < 8; round++) {
      await sleep(300 + Math.floor(Math.random() * 1500));
      if (round === 2) await creations;
      if (round >= 3) {
        // Regenerations requested while the operator may be in the middle of anything.
        const target = names[Math.floor(Math.random() * names.length)]!;
        await annotateWorkspace(ns, target, { "workspacedb.io/regenerate": `r${round}` });
      }
      await op.kill();
      kills++;
      op = start({ WSDB_LEADER_ELECTION_ENABLED: "false" });
    }
    await creations;
    for (const n of names) await waitReady(ns, n, 120_000);

    // Every Secret logs in, and regeneration requests were all handled.
    for (const n of names) {
      const obj = await getWorkspace(ns, n);
      const annotation = obj?.metadata.annotations?.["workspacedb.io/regenerate"];
      // A regeneration asked for just before the last kill may still be under way: the Secret gets the
      // new password first and the role a moment later.
      for (const suffix of ["rw", "ro"]) {
        await eventually(`${n}-${suffix} logs in`, async () => {
          const secret = await readSecret(ns, `${n}-${suffix}`);
          return (await canLogin(secret!.uri!)) ? true : undefined;
        }, 30_000);
      }
      if (annotation) {
        const rw = await eventually(`${n} handled ${annotation}`, async () => {
          const current = await getWorkspace(ns, n);
          return current?.status?.observedGeneration !== undefined && (await readSecret(ns, `${n}-rw`)) ? current : undefined;
        });
        expect(rw).to.not.equal(undefined);
      }
    }
    // No orphans: every database marked for this namespace belongs to one of the objects, with its two roles.
    const databases = (await Promise.all(names.map(async (n) => (await getWorkspace(ns, n))?.status?.database ?? ""))).sort();
    const marked = await asSuperuser("postgres", async (c) =>
      (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE $1 ORDER BY 1", [`%${ns}/%`])).rows.map((r) => r.datname));
    expect(marked).to.deep.equal(databases);
    const roles = await asSuperuser("postgres", async (c) =>
      (await c.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1", [databases.flatMap((d) => [d, `${d}_ro`])])).rows.map((r) => r.rolname));
    expect(roles).to.have.length(databases.length * 2);
    process.stderr.write(`      ${kills} SIGKILLs during ${names.length} provisions and regenerations; all converged\n`);
  });
});
