// Which lane a WorkspaceDatabase seen by the informer goes to: a settled one is resync work.
import { expect } from "chai";
import type { WorkspaceDatabase } from "../../../src/api/types.ts";
import { addedPriority, regenerationMaybePending, workspaceSettled } from "../../../src/controllers/triggers.ts";

function workspace(over: { annotations?: Record<string, string>; generation?: number; observed?: number; ready?: string; deleting?: boolean; tokens?: { rw?: string; ro?: string } } = {}): WorkspaceDatabase {
  return {
    apiVersion: "workspacedb.io/v1alpha1",
    kind: "WorkspaceDatabase",
    metadata: {
      name: "w", namespace: "ns", generation: over.generation ?? 1,
      ...(over.annotations ? { annotations: over.annotations } : {}),
      ...(over.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
    spec: {},
    status: {
      observedGeneration: over.observed ?? 1,
      conditions: [{ type: "Ready", status: over.ready ?? "True", reason: "Provisioned", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }],
      credentials: {
        readWrite: { secretName: "w-rw", username: "w", ...(over.tokens?.rw ? { regenerateToken: over.tokens.rw } : {}) },
        readOnly: { secretName: "w-ro", username: "w_ro", ...(over.tokens?.ro ? { regenerateToken: over.tokens.ro } : {}) },
      },
    },
  } as WorkspaceDatabase;
}

describe("controllers/triggers", () => {
  it("a settled workspace (Ready for its generation, not deleting) is low priority when seen again", () => {
    expect(workspaceSettled(workspace())).to.equal(true);
    expect(addedPriority(workspace())).to.equal("low");
  });

  it("a new, changed, failing or deleting workspace is high priority", () => {
    const fresh = workspace();
    delete fresh.status;
    expect(addedPriority(fresh)).to.equal("high");
    expect(addedPriority(workspace({ generation: 2, observed: 1 }))).to.equal("high");
    expect(addedPriority(workspace({ ready: "False" }))).to.equal("high");
    expect(addedPriority(workspace({ deleting: true }))).to.equal("high");
  });

  it("a regenerate annotation not yet recorded in status makes it high priority", () => {
    expect(regenerationMaybePending(workspace({ annotations: { "workspacedb.io/regenerate-rw": "t1" }, tokens: { rw: "t1" } }))).to.equal(false);
    expect(addedPriority(workspace({ annotations: { "workspacedb.io/regenerate-rw": "t2" }, tokens: { rw: "t1" } }))).to.equal("high");
    expect(addedPriority(workspace({ annotations: { "workspacedb.io/regenerate-ro": "t1" } }))).to.equal("high");
    // Both logins must record the value of the annotation for both.
    expect(addedPriority(workspace({ annotations: { "workspacedb.io/regenerate": "b" }, tokens: { rw: "b" } }))).to.equal("high");
    expect(addedPriority(workspace({ annotations: { "workspacedb.io/regenerate": "b" }, tokens: { rw: "b", ro: "b" } }))).to.equal("low");
    // A long value is recorded as its digest.
    const long = "x".repeat(300);
    expect(addedPriority(workspace({ annotations: { "workspacedb.io/regenerate-rw": long }, tokens: { rw: "sha256:" + "0".repeat(64) } }))).to.equal("high");
  });
});
