// Conditions: lastTransitionTime moves only when status changes; other conditions are kept.
import { expect } from "chai";
import { Reasons, STALLED_REASONS, setCondition, setReadiness, findCondition } from "../../../src/controllers/conditions.ts";
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

describe("readiness with the kstatus conditions", () => {
  const t1 = new Date("2026-11-28T10:00:00Z");
  const t2 = new Date("2026-11-28T11:00:00Z");
  const types = (list: { type: string; status: string }[]): string[] => list.map((c) => `${c.type}=${c.status}`);

  it("Ready=True carries Ready alone: a Ready object has no Reconciling or Stalled to write", () => {
    const list = setReadiness(undefined, { type: "Ready", status: "True", reason: "Provisioned", message: "ok", observedGeneration: 1 }, t1);
    expect(types(list)).to.deep.equal(["Ready=True"]);
  });

  it("a state that heals by itself or is being worked on: Reconciling=True with Ready's reason and message", () => {
    const list = setReadiness(undefined, { type: "Ready", status: "False", reason: "ServerUnavailable", message: "down; retrying", observedGeneration: 3 }, t1, { stalled: false });
    expect(types(list)).to.deep.equal(["Ready=False", "Reconciling=True"]);
    expect(findCondition(list, "Reconciling")).to.deep.include({ reason: "ServerUnavailable", message: "down; retrying", observedGeneration: 3 });
  });

  it("a state only a person changes: Stalled=True with Ready's reason and message, and no Reconciling", () => {
    const failing = setReadiness(undefined, { type: "Ready", status: "False", reason: "ServerUnavailable", message: "down", observedGeneration: 1 }, t1);
    const stalled = setReadiness(failing, { type: "Ready", status: "False", reason: "Conflict", message: "taken", observedGeneration: 1 }, t2, { stalled: true });
    expect(types(stalled)).to.deep.equal(["Ready=False", "Stalled=True"]);
    expect(findCondition(stalled, "Stalled")).to.deep.include({ reason: "Conflict", message: "taken", lastTransitionTime: "2026-11-28T11:00:00Z" });
    // Fixed: back to Ready alone.
    const fixed = setReadiness(stalled, { type: "Ready", status: "True", reason: "Provisioned", message: "ok", observedGeneration: 2 }, t2);
    expect(types(fixed)).to.deep.equal(["Ready=True"]);
  });

  it("a change in progress on a Ready object: Reconciling=True beside Ready=True", () => {
    const list = setReadiness(undefined, { type: "Ready", status: "True", reason: "Provisioned", message: "ok" }, t1, { reconciling: { reason: "Regenerating", message: "new password" } });
    expect(types(list)).to.deep.equal(["Ready=True", "Reconciling=True"]);
  });

  it("re-asserting the same failing state yields an equal list (no status write)", () => {
    const a = setReadiness(undefined, { type: "Ready", status: "False", reason: "NotAllowed", message: "no", observedGeneration: 1 }, t1, { stalled: true });
    const b = setReadiness(a, { type: "Ready", status: "False", reason: "NotAllowed", message: "no", observedGeneration: 1 }, t2, { stalled: true });
    expect(sameJson(a, b)).to.equal(true);
  });

  it("names as stalled the states that wait for a person, and no state that heals by itself", () => {
    for (const reason of ["Conflict", "NotAllowed", "InvalidSpec", "PermissionDenied", "ServerNotFound", "AdminSecretNotFound", "AuthenticationFailed", "InsecureAuthentication", "TLSVerificationFailed", "PasswordTooLong"]) {
      expect(STALLED_REASONS.has(reason), reason).to.equal(true);
    }
    for (const reason of [Reasons.Provisioned, Reasons.Connected, Reasons.Provisioning, Reasons.ServerUnavailable, Reasons.KubernetesUnavailable, Reasons.Deleting, Reasons.DatabaseError, Reasons.InternalError]) {
      expect(STALLED_REASONS.has(reason), reason).to.equal(false);
    }
  });
});

describe("sameJson", () => {
  it("ignores key order and undefined members, not array order", () => {
    expect(sameJson({ a: 1, b: { c: 2, d: undefined } }, { b: { c: 2 }, a: 1 })).to.equal(true);
    expect(sameJson([1, 2], [2, 1])).to.equal(false);
    expect(sameJson({ a: null }, {})).to.equal(false);
  });
});
