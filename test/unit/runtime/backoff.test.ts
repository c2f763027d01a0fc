// Unit tests of the per-item exponential back-off.
import { expect } from "chai";
import { ItemBackoff } from "../../../src/runtime/backoff.ts";

describe("ItemBackoff", () => {
  it("doubles from the base per failure and caps at max", () => {
    const b = new ItemBackoff({ baseMs: 5, maxMs: 100 });
    expect([1, 2, 3, 4, 5, 6, 7].map(() => b.when("a"))).to.deep.equal([5, 10, 20, 40, 80, 100, 100]);
    expect(b.retries("a")).to.equal(7);
  });

  it("defaults to 5ms .. 1000s and never overflows", () => {
    const b = new ItemBackoff();
    expect(b.when("k")).to.equal(5);
    for (let i = 0; i < 2000; i++) b.when("k");
    expect(b.when("k")).to.equal(1_000_000);
  });

  it("tracks keys independently and forget resets one", () => {
    const b = new ItemBackoff({ baseMs: 1, maxMs: 1000 });
    b.when("a");
    b.when("a");
    b.when("b");
    b.forget("a");
    expect(b.retries("a")).to.equal(0);
    expect(b.when("a")).to.equal(1);
    expect(b.when("b")).to.equal(2);
  });

  it("rejects base > max", () => {
    expect(() => new ItemBackoff({ baseMs: 10, maxMs: 5 })).to.throw(RangeError);
  });
});
