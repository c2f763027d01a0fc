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

  it("rejects a bad maximum", () => {
    expect(() => new Limiter(0)).to.throw(RangeError);
  });
});
