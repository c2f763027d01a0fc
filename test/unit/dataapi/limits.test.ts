import { expect } from "chai";
import { ConcurrencyLimits } from "../../../src/dataapi/limits.ts";

describe("data API concurrency limits", () => {
  it("refuses a user beyond their own limit and everyone beyond the total, and frees slots once", () => {
    const limits = new ConcurrencyLimits({ total: 3, perUser: 2 });
    const a1 = limits.acquire("alice");
    const a2 = limits.acquire("alice");
    expect(limits.acquire("alice")).to.equal("user");
    const b1 = limits.acquire("bob");
    expect(typeof a1).to.equal("function");
    expect(typeof b1).to.equal("function");
    expect(limits.acquire("carol")).to.equal("total");
    expect(limits.inFlight()).to.equal(3);
    (a1 as () => void)();
    (a1 as () => void)();
    expect(limits.inFlight()).to.equal(2);
    const c1 = limits.acquire("carol");
    expect(typeof c1).to.equal("function");
    expect(limits.acquire("alice")).to.equal("total");
    for (const release of [a2, b1, c1]) (release as () => void)();
    expect(limits.inFlight()).to.equal(0);
    expect(limits.users()).to.equal(0);
  });
});
