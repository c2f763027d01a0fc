// Unit tests of the concurrency limiter used for short-lived database clients.
import { expect } from "chai";
import { Limiter } from "../../../src/postgres/limiter.ts";

describe("postgres/limiter", () => {
  it("never runs more than max tasks at once, and runs them all in order", async () => {
    const limiter = new Limiter(2);
    let peak = 0;
    const order: number[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      limiter.run(async () => {
        peak = Math.max(peak, limiter.running);
        order.push(i);
        await new Promise((resolve) => setTimeout(resolve, 5));
        return i;
      }),
    );
    expect(await Promise.all(tasks)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(peak).to.equal(2);
    expect(order).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(limiter.running).to.equal(0);
  });

  it("frees the slot when a task fails", async () => {
    const limiter = new Limiter(1);
    await limiter.run(async () => { throw new Error("boom"); }).catch(() => undefined);
    expect(await limiter.run(async () => "ok")).to.equal("ok");
    expect(limiter.running).to.equal(0);
  });

  it("rejects a bad maximum or reserve", () => {
    expect(() => new Limiter(0)).to.throw(RangeError);
    expect(() => new Limiter(2, 2)).to.throw(RangeError);
    expect(() => new Limiter(2, -1)).to.throw(RangeError);
  });

  /** A task that runs until `release()` is called. */
  function held(): { task: () => Promise<void>; release: () => void; started: Promise<void> } {
    let release!: () => void;
    let start!: () => void;
    const started = new Promise<void>((resolve) => (start = resolve));
    const done = new Promise<void>((resolve) => (release = resolve));
    return { task: async () => { start(); await done; }, release, started };
  }

  it("keeps a slot for high-priority work: stuck low tasks never make a high one wait", async () => {
    const limiter = new Limiter(4);
    const stuck = Array.from({ length: 5 }, () => held());
    const low = stuck.map((h) => limiter.run(h.task, "low"));
    await Promise.all(stuck.slice(0, 3).map((h) => h.started));
    expect(limiter.running).to.equal(3);
    expect(limiter.waiting("low")).to.equal(2);
    // The fourth slot is free for a regeneration although five resync tasks are stuck.
    expect(await limiter.run(async () => "regenerated", "high")).to.equal("regenerated");
    for (const h of stuck) h.release();
    await Promise.all(low);
    expect(limiter.running).to.equal(0);
  });

  it("hands a freed slot to a waiting high task before any low task that waited longer", async () => {
    const limiter = new Limiter(2, 0);
    const first = held();
    const second = held();
    const a = limiter.run(first.task, "low");
    const b = limiter.run(second.task, "high");
    await Promise.all([first.started, second.started]);
    const order: string[] = [];
    const lowLater = limiter.run(async () => { order.push("low"); }, "low");
    const highLater = limiter.run(async () => { order.push("high"); }, "high");
    expect(limiter.waiting("low")).to.equal(1);
    expect(limiter.waiting("high")).to.equal(1);
    first.release();
    second.release();
    await Promise.all([a, b, lowLater, highLater]);
    expect(order).to.deep.equal(["high", "low"]);
    expect(limiter.running).to.equal(0);
  });

  it("lets low tasks use every slot but the reserved one when nothing else runs", async () => {
    const limiter = new Limiter(3);
    let peak = 0;
    await Promise.all(Array.from({ length: 8 }, () => limiter.run(async () => {
      peak = Math.max(peak, limiter.running);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }, "low")));
    expect(peak).to.equal(2);
  });
});
