// Leader election against a real kube-apiserver: one leader, fast hand-over on release, take-over after loss.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { getGround } from "../../ground/index.ts";
import type { Lease } from "../../../src/kube/types.ts";
import { LeaderElector, restLeaseApi } from "../../../src/runtime/leader.ts";
import type { LeaseApi } from "../../../src/runtime/leader.ts";
import { createLogger } from "../../../src/runtime/logger.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - start;
}

const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 400 };

interface Candidate {
  elector: LeaderElector;
  started: number;
  stopped: number;
  /** While true, every Lease request of this candidate fails (a partitioned replica). */
  partitioned: boolean;
  /** When its last Lease write (a renewal) was answered. */
  lastWrite: number;
}

describe("LeaderElector (real API server)", function () {
  this.timeout(60_000);
  let namespace: string;
  let coordination: CoordinationV1Api;
  let candidates: Candidate[] = [];
  let lines: string[] = [];

  before(async () => {
    const kc = getGround().kubeConfig;
    coordination = kc.makeApiClient(CoordinationV1Api);
    namespace = `rt-leader-${randomBytes(4).toString("hex")}`;
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });
  after(async () => {
    await getGround().kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace }).catch(() => undefined);
  });
  afterEach(async function () {
    for (const c of candidates) c.partitioned = false;
    await Promise.all(candidates.map((c) => c.elector.release()));
    candidates = [];
    if (this.currentTest?.state === "failed") process.stderr.write(lines.join(""));
    lines = [];
  });

  const candidate = (leaseName: string, identity: string, times: typeof timings = timings): Candidate => {
    const c: Candidate = { started: 0, stopped: 0, partitioned: false, lastWrite: 0 } as Candidate;
    const guard = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      if (c.partitioned) throw new Error("partitioned (test)");
      return fn(...a);
    };
    const leases = restLeaseApi(getGround().client);
    const api: LeaseApi = {
      get: guard((namespace: string, name: string) => leases.get(namespace, name)),
      create: guard((lease: Lease) => leases.create(lease)),
      replace: guard(async (lease: Lease) => {
        const written = await leases.replace(lease);
        c.lastWrite = Date.now();
        return written;
      }),
    };
    c.elector = new LeaderElector({
      api,
      namespace,
      name: leaseName,
      identity,
      ...times,
      log: createLogger({ level: "debug", stream: new Writable({ write: (b: Buffer, _e, cb) => { lines.push(b.toString()); cb(); } }) }),
      onStartedLeading: () => c.started++,
      onStoppedLeading: () => c.stopped++,
    });
    candidates.push(c);
    return c;
  };
  const leaders = (): Candidate[] => candidates.filter((c) => c.elector.isLeader());
  const holder = async (leaseName: string): Promise<string | undefined> =>
    (await coordination.readNamespacedLease({ name: leaseName, namespace })).spec?.holderIdentity;

  it("elects exactly one of two candidates and records it in the Lease", async () => {
    const a = candidate("one-leader", "a");
    const b = candidate("one-leader", "b");
    a.elector.start();
    b.elector.start();
    await until("a leader", () => leaders().length === 1, 10_000);
    for (let i = 0; i < 10; i++) {
      await sleep(200);
      expect(leaders()).to.have.length(1);
    }
    const leader = leaders()[0]!;
    expect(leader.started).to.equal(1);
    expect(await holder("one-leader")).to.equal(leader.elector.identity);
    const lease = await coordination.readNamespacedLease({ name: "one-leader", namespace });
    expect(lease.spec?.leaseDurationSeconds).to.equal(3);
    expect(a.started + b.started).to.equal(1);
  });

  it("hands over at once when the leader releases the lease", async () => {
    const a = candidate("handover", "a");
    a.elector.start();
    await until("a leads", () => a.elector.isLeader(), 10_000);
    const b = candidate("handover", "b");
    b.elector.start();
    await sleep(1000);
    expect(b.elector.isLeader()).to.equal(false);
    await a.elector.release();
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.stopped).to.equal(0); // a voluntary release is not a loss
    const took = await until("b leads", () => b.elector.isLeader(), 10_000);
    expect(took).to.be.below(timings.leaseDurationMs); // well before the lease would have expired
    expect(await holder("handover")).to.equal("b");
  });

  it("replaces a holder that stopped renewing (a killed process) within leaseDuration + retryPeriod of its last renewal", async () => {
    // A long retryPeriod, so that waiting for the next poll after the expiry (instead of trying at the
    // expiry) or polling slower than retryPeriod would show.
    const slow = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 1100 };
    for (let i = 0; i < 4; i++) {
      const a = candidate(`killed-${i}`, "a", slow);
      a.elector.start();
      await until("a leads", () => a.elector.isLeader(), 10_000);
      const b = candidate(`killed-${i}`, "b", slow);
      b.elector.start();
      // At a different moment of a's renewal cycle each time.
      await sleep(1500 + i * 270);
      a.partitioned = true;
      await until("b leads", () => b.elector.isLeader(), 10_000);
      const took = Date.now() - a.lastWrite;
      // One API round trip (the acquiring write) beyond the bound.
      expect(took, `round ${i}`).to.be.below(slow.leaseDurationMs + slow.retryPeriodMs + 150);
      expect(took, `round ${i}`).to.be.at.least(slow.leaseDurationMs);
    }
  });

  it("stops leading when renewals fail past renewDeadline, and the other takes over within leaseDuration", async () => {
    const a = candidate("takeover", "a");
    a.elector.start();
    await until("a leads", () => a.elector.isLeader(), 10_000);
    const b = candidate("takeover", "b");
    b.elector.start();
    await sleep(1000);
    a.partitioned = true;
    const lost = await until("a stops leading", () => a.stopped === 1, 10_000);
    expect(lost).to.be.within(timings.renewDeadlineMs - timings.retryPeriodMs, timings.renewDeadlineMs + 2 * timings.retryPeriodMs + 500);
    expect(a.elector.isLeader()).to.equal(false);
    const took = await until("b leads", () => b.elector.isLeader(), 10_000);
    expect(lost + took).to.be.below(timings.leaseDurationMs + 3 * timings.retryPeriodMs);
    expect(b.elector.isLeader()).to.equal(true);
    a.partitioned = false;
    await sleep(1000);
    expect(a.elector.isLeader()).to.equal(false); // a lost leader never competes again
    expect(await holder("takeover")).to.equal("b");
  });
});
