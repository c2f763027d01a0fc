// Unit tests of SharedSnapshot: fresh reads, one read for a whole resync, age, batching, forgetting.
import { expect } from "chai";
import type { SharedFacts } from "../../../src/postgres/shared.ts";
import { SharedSnapshot } from "../../../src/postgres/snapshot.ts";
import type { WorkspaceNames } from "../../../src/postgres/state.ts";

const names = (db: string): WorkspaceNames => ({ database: db, readWrite: db, readOnly: `${db}_ro` });

function facts(db: string, generation: number): SharedFacts {
  return { admin: `admin-${generation}`, major: 18, claim: { database: null, readWrite: null, readOnly: null }, database: null, readWrite: null, readOnly: { comment: db, canLogin: true, connectionLimit: -1, config: {}, databaseConfig: {}, adminIsMember: true } };
}

function setup(options: { batchSize?: number } = {}): { snapshot: SharedSnapshot; reads: string[][]; clock: { now: number } } {
  const reads: string[][] = [];
  const clock = { now: 0 };
  const snapshot = new SharedSnapshot(async (workspaces) => {
    reads.push(workspaces.map((w) => w.database));
    return new Map(workspaces.map((w) => [w.database, facts(w.database, reads.length)]));
  }, { maxAgeMs: 30_000, now: () => clock.now, ...options });
  return { snapshot, reads, clock };
}

describe("postgres/snapshot", () => {
  it("reads fresh when no snapshot is allowed, and alone a workspace a current snapshot lacks", async () => {
    const { snapshot, reads } = setup();
    expect((await snapshot.read(names("a"), false)).fresh).to.equal(true);
    expect((await snapshot.read(names("a"), true)).fresh).to.equal(false); // no snapshot yet: one is read
    expect((await snapshot.read(names("b"), true)).fresh).to.equal(true); // settled since: read alone
    expect(reads).to.deep.equal([["a"], ["a"], ["b"]]);
  });

  it("reads the workspaces expected on the server into a snapshot: after a restart, one read for all", async () => {
    const reads: string[][] = [];
    const snapshot = new SharedSnapshot(async (workspaces) => {
      reads.push(workspaces.map((w) => w.database));
      return new Map(workspaces.map((w) => [w.database, facts(w.database, reads.length)]));
    }, { expected: () => [names("a"), names("b"), names("c")] });
    const results = await Promise.all(["c", "a", "b"].map((db) => snapshot.read(names(db), true)));
    expect(results.map((r) => r.fresh)).to.deep.equal([false, false, false]);
    expect(reads).to.deep.equal([["c", "a", "b"]]);
  });

  it("answers every known workspace from one read, until the snapshot is older than its age", async () => {
    const { snapshot, reads, clock } = setup();
    for (const db of ["a", "b", "c"]) await snapshot.read(names(db), false);
    reads.length = 0;
    const results = await Promise.all(["a", "b", "c"].map((db) => snapshot.read(names(db), true)));
    expect(results.every((r) => !r.fresh)).to.equal(true);
    expect(reads).to.deep.equal([["a", "b", "c"]]); // concurrent requests share one read
    clock.now += 29_999;
    await snapshot.read(names("a"), true);
    expect(reads).to.have.length(1);
    clock.now += 1;
    await snapshot.read(names("a"), true);
    expect(reads).to.have.length(2);
  });

  it("reads a large snapshot in batches", async () => {
    const { snapshot, reads } = setup({ batchSize: 2 });
    for (const db of ["a", "b", "c", "d", "e"]) await snapshot.read(names(db), false);
    reads.length = 0;
    await snapshot.read(names("a"), true);
    expect(reads).to.deep.equal([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("reads fresh when the names differ from the ones the snapshot read", async () => {
    const { snapshot, reads } = setup();
    await snapshot.read(names("a"), false);
    await snapshot.read(names("a"), true);
    reads.length = 0;
    const other = { database: "a", readWrite: "a", readOnly: "other_ro" };
    expect((await snapshot.read(other, true)).fresh).to.equal(true);
    expect(reads).to.deep.equal([["a"]]);
  });

  it("leaves forgotten workspaces out of the next snapshot", async () => {
    const { snapshot, reads } = setup();
    for (const db of ["a", "b"]) await snapshot.read(names(db), false);
    snapshot.forget("b");
    reads.length = 0;
    await snapshot.read(names("a"), true);
    expect(reads).to.deep.equal([["a"]]);
    expect(snapshot.size).to.equal(1);
  });
});
