// Unit tests of namespaceSelector matching and its description in messages.
import { expect } from "chai";
import { describeSelector, selectorMatches } from "../../../src/controllers/selector.ts";

describe("controllers/selector", () => {
  const labels = { "platform/workspace": "true", tier: "gold" };

  it("matches everything with an empty selector", () => {
    expect(selectorMatches({}, {})).to.equal(true);
    expect(describeSelector({})).to.equal("(everything)");
  });

  it("needs every matchLabels entry with its exact value", () => {
    expect(selectorMatches({ matchLabels: { "platform/workspace": "true" } }, labels)).to.equal(true);
    expect(selectorMatches({ matchLabels: { "platform/workspace": "false" } }, labels)).to.equal(false);
    expect(selectorMatches({ matchLabels: { missing: "" } }, labels)).to.equal(false);
  });

  it("evaluates In, NotIn, Exists and DoesNotExist", () => {
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["gold", "silver"] }] }, labels)).to.equal(true);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["silver"] }] }, labels)).to.equal(false);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["silver"] }] }, labels)).to.equal(true);
    expect(selectorMatches({ matchExpressions: [{ key: "absent", operator: "NotIn", values: ["x"] }] }, labels)).to.equal(true);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "Exists" }] }, labels)).to.equal(true);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }, labels)).to.equal(false);
    expect(selectorMatches({ matchExpressions: [{ key: "constructor", operator: "Exists" }] }, labels)).to.equal(false);
  });

  it("describes selectors in kubectl's syntax", () => {
    expect(describeSelector({ matchLabels: { a: "b" }, matchExpressions: [{ key: "t", operator: "In", values: ["x", "y"] }, { key: "n", operator: "DoesNotExist" }] }))
      .to.equal("a=b,t in (x,y),!n");
  });
});
