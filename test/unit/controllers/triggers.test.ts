// Which lane a WorkspaceDatabase seen by the informer goes to: a settled one is resync work.
import { expect } from "chai";
import type { DatabaseServer, WorkspaceDatabase } from "../../../src/api/types.ts";
import type { Secret } from "../../../src/kube/types.ts";
import { addedPriority, reasonLabel, serverChanged, serverSample, workspaceSample, workspaceSettled } from "../../../src/controllers/triggers.ts";
import { PendingSince, pendingInputsVersion, regenerationPending } from "../../../src/controllers/pending.ts";

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

  const secret = (name: string, annotations: Record<string, string> = {}, password: string | null = "cGFzcw=="): Secret => ({
    apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "ns", annotations }, data: password === null ? {} : { password },
  });
  const cache = (rw: Secret | undefined, ro: Secret | undefined) => (name: string) => (name === "w-rw" ? rw : name === "w-ro" ? ro : undefined);

  it("with the Secrets known: low when they show no password work", () => {
    expect(addedPriority(workspace(), cache(secret("w-rw"), secret("w-ro")))).to.equal("low");
    const handled = workspace({ annotations: { "workspacedb.io/regenerate-rw": "t1" } });
    expect(addedPriority(handled, cache(secret("w-rw", { "workspacedb.io/regenerate-handled": "t1" }), secret("w-ro")))).to.equal("low");
  });

  it("with the Secrets known: high for a regeneration asked for while away, a Secret or password missing", () => {
    expect(addedPriority(workspace({ annotations: { "workspacedb.io/regenerate-ro": "t1" } }), cache(secret("w-rw"), secret("w-ro")))).to.equal("high");
    // A value the annotation for both had, reused on a login's own annotation: a new request.
    const reused = workspace({ annotations: { "workspacedb.io/regenerate": "1", "workspacedb.io/regenerate-rw": "1" }, tokens: { rw: "1", ro: "1" } });
    const both = { "workspacedb.io/regenerate-all-handled": "1" };
    expect(addedPriority(reused, cache(secret("w-rw", both), secret("w-ro", both)))).to.equal("high");
    expect(addedPriority(workspace(), cache(undefined, secret("w-ro")))).to.equal("high");
    expect(addedPriority(workspace(), cache(secret("w-rw"), secret("w-ro", {}, null)))).to.equal("high");
  });

  it("a DatabaseServer gets a pass for a new spec, a deletion or changed annotations (a person asking for a check now), never for our own status writes", () => {
    const server = (meta: Partial<DatabaseServer["metadata"]>, status?: DatabaseServer["status"]): DatabaseServer => ({
      apiVersion: "workspacedb.io/v1alpha1",
      kind: "DatabaseServer",
      metadata: { name: "main", generation: 1, ...meta },
      spec: { host: "db", adminSecretRef: { namespace: "ns", name: "admin" } },
      ...(status ? { status } : {}),
    }) as DatabaseServer;
    const base = server({});
    expect(serverChanged(base, server({}, { observedGeneration: 1, databases: 3 }))).to.equal(false);
    expect(serverChanged(base, server({ finalizers: ["workspacedb.io/finalizer"] }))).to.equal(false);
    expect(serverChanged(base, server({ generation: 2 }))).to.equal(true);
    expect(serverChanged(base, server({ deletionTimestamp: "2026-01-01T00:00:00Z" }))).to.equal(true);
    expect(serverChanged(base, server({ annotations: { "example.org/checked-at": "now" } }))).to.equal(true);
  });

  it("samples a workspace for the metrics: its reason bounded to the contract's, since when it is not Ready", () => {
    expect(workspaceSample(workspace())).to.include({ ready: true, reason: "Provisioned" });
    expect(workspaceSample(workspace())?.notReadySince).to.equal(undefined);
    const failing = workspace({ ready: "False" });
    failing.status!.conditions![0]!.reason = "Conflict";
    expect(workspaceSample(failing)).to.include({ ready: false, reason: "Conflict", notReadySince: Date.parse("2026-01-01T00:00:00Z") });
    const fresh = workspace();
    delete fresh.status;
    fresh.metadata.creationTimestamp = "2026-02-01T00:00:00Z";
    expect(workspaceSample(fresh)).to.include({ ready: false, reason: "Unknown", notReadySince: Date.parse("2026-02-01T00:00:00Z") });
    expect(workspaceSample(workspace({ deleting: true }))).to.equal(undefined);
    expect(workspaceSample(workspace(), 1234)?.regenerationSince).to.equal(1234);
    // Status can be written by anyone granted it: a reason that is not the contract's is "Other".
    expect(reasonLabel("Provisioned")).to.equal("Provisioned");
    expect(reasonLabel(`x${"y".repeat(1000)}`)).to.equal("Other");
    expect(reasonLabel(undefined)).to.equal("Unknown");
    expect(serverSample({ metadata: { name: "main" }, spec: {}, status: { conditions: [{ type: "Ready", status: "False", reason: "ServerUnavailable", message: "", lastTransitionTime: "" }] } } as unknown as DatabaseServer))
      .to.deep.equal({ name: "main", ready: false, reason: "ServerUnavailable" });
  });

  it("a regeneration is pending until the Secret and role have it, on a provisioned workspace only; its age counts from the first sighting", () => {
    const asked = workspace({ annotations: { "workspacedb.io/regenerate-rw": "t1" } });
    expect(regenerationPending(asked, cache(secret("w-rw"), secret("w-ro")), new Date())).to.equal(true);
    expect(regenerationPending(asked, cache(secret("w-rw", { "workspacedb.io/regenerate-handled": "t1" }), secret("w-ro")), new Date())).to.equal(false);
    const never = workspace({ annotations: { "workspacedb.io/regenerate-rw": "t1" } });
    delete never.status;
    expect(regenerationPending(never, cache(undefined, undefined), new Date())).to.equal(false);
    const since = new PendingSince();
    let decisions = 0;
    const decide = (pending: boolean) => () => {
      decisions++;
      return pending;
    };
    expect(since.mark("ns/w", "v1", decide(true), 1000)).to.equal(1000);
    // A new version still pending keeps its first sighting.
    expect(since.mark("ns/w", "v2", decide(true), 5000)).to.equal(1000);
    // The same version is not decided again (a tenant's long regenerate values are hashed once)...
    expect(since.mark("ns/w", "v2", decide(false), 6000)).to.equal(1000);
    expect(decisions).to.equal(2);
    // ...until RECHECK_MS went by.
    expect(since.mark("ns/w", "v2", decide(false), 5000 + PendingSince.RECHECK_MS)).to.equal(undefined);
    expect(since.mark("ns/w", "v3", decide(true), 400_000)).to.equal(400_000);
    since.forget("ns/w");
    expect(since.size).to.equal(0);
    const ws = workspace();
    ws.metadata.resourceVersion = "7";
    expect(pendingInputsVersion(ws, cache({ ...secret("w-rw"), metadata: { name: "w-rw", resourceVersion: "8" } }, undefined))).to.equal("7/8/-");
  });
});
