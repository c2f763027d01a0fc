// Unit tests of the leader fence: closed until a renewal, open for renewDeadline after the request was sent.
import { expect } from "chai";
import { Fence, FencedError, isFenced } from "../../../src/runtime/fence.ts";

describe("runtime/fence", () => {
  it("starts closed, opens for the given time after the renewal was sent, and closes for good", () => {
    let now = 1_000;
    const fence = new Fence({ clock: () => now });
    expect(fence.isOpen()).to.equal(false);
    expect(() => fence.check()).to.throw(FencedError);
    fence.extend(900, 500);
    expect(fence.isOpen()).to.equal(true);
    now = 1_399;
    fence.check();
    now = 1_400;
    expect(fence.isOpen()).to.equal(false);
    fence.extend(1_300, 500); // a later renewal moves it forward
    expect(fence.isOpen()).to.equal(true);
    fence.extend(0, 10); // an older one never shortens it
    expect(fence.isOpen()).to.equal(true);
    fence.close();
    expect(fence.isOpen()).to.equal(false);
  });

  it("stays open without leader election", () => {
    const fence = new Fence({ open: true, clock: () => Number.MAX_SAFE_INTEGER });
    fence.extend(0, 1);
    expect(fence.isOpen()).to.equal(true);
  });

  it("recognises a fenced error in a cause chain", () => {
    expect(isFenced(new Error("outer", { cause: new FencedError() }))).to.equal(true);
    expect(isFenced(new Error("plain"))).to.equal(false);
  });
});
