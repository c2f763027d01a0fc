// Conditions: lastTransitionTime moves only when status changes; other conditions are kept.
import { expect } from "chai";
import { setCondition, findCondition } from "../../../src/controllers/conditions.ts";
import { sameJson } from "../../../src/controllers/equal.ts";

describe("conditions", () => {
  const t1 = new Date("2026-11-28T10:00:00.123Z");
  const t2 = new Date("2026-11-28T11:00:00Z");

  it("sets a new condition with the transition time in whole seconds", () => {
    const list = setCondition(undefined, { type: "Ready", status: "False", reason: "Provisioning", message: "m", observedGeneration: 1 }, t1);
    expect(list).to.deep.equal([{ type: "Ready", status: "False", reason: "Provisioning", message: "m", observedGeneration: 1, lastTransitionTime: "2026-11-28T10:00:00Z" }]);
  });

  it("keeps lastTransitionTime when only reason or message change, moves it when status changes", () => {
    const a = setCondition(undefined, { type: "Ready", status: "False", reason: "A", message: "a" }, t1);
    const b = setCondition(a, { type: "Ready", status: "False", reason: "B", message: "b" }, t2);
    expect(findCondition(b, "Ready")?.lastTransitionTime).to.equal("2026-11-28T10:00:00Z");
    expect(findCondition(b, "Ready")?.reason).to.equal("B");
    const c = setCondition(b, { type: "Ready", status: "True", reason: "C", message: "c" }, t2);
    expect(findCondition(c, "Ready")?.lastTransitionTime).to.equal("2026-11-28T11:00:00Z");
  });

  it("re-asserting the same state yields an equal list (no status write)", () => {
    const a = setCondition(undefined, { type: "Ready", status: "True", reason: "Provisioned", message: "ok", observedGeneration: 2 }, t1);
    const b = setCondition(a, { type: "Ready", status: "True", reason: "Provisioned", message: "ok", observedGeneration: 2 }, t2);
    expect(sameJson(a, b)).to.equal(true);
  });

  it("keeps other condition types", () => {
    const a = [{ type: "Other", status: "True" as const, reason: "X", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }];
    const b = setCondition(a, { type: "Ready", status: "True", reason: "Y", message: "" }, t1);
    expect(b.map((c) => c.type)).to.deep.equal(["Other", "Ready"]);
  });
});

describe("sameJson", () => {
  it("ignores key order and undefined members, not array order", () => {
    expect(sameJson({ a: 1, b: { c: 2, d: undefined } }, { b: { c: 2 }, a: 1 })).to.equal(true);
    expect(sameJson([1, 2], [2, 1])).to.equal(false);
    expect(sameJson({ a: null }, {})).to.equal(false);
  });
});
