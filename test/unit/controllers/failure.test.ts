// Failure mapping: PostgreSQL and Kubernetes errors become Ready reasons and retry policies.
import { expect } from "chai";
import { toFailure, ReconcileFailure } from "../../../src/controllers/failure.ts";
import { PostgresError } from "../../../src/postgres/errors.ts";
import { KubeApiError, statusError, toKubeError, isNotFound, isConflict } from "../../../src/kube/errors.ts";
import { workspaceChanged } from "../../../src/controllers/triggers.ts";
import type { WorkspaceDatabase } from "../../../src/api/types.ts";

describe("reconcile failures", () => {
  it("maps PostgreSQL error kinds to reasons, and InvalidSpec to no retry", () => {
    expect(toFailure(new PostgresError("Unavailable", "down")).reason).to.equal("ServerUnavailable");
    expect(toFailure(new PostgresError("PermissionDenied", "no")).reason).to.equal("PermissionDenied");
    expect(toFailure(new PostgresError("AuthenticationFailed", "no")).reason).to.equal("AuthenticationFailed");
    const invalid = toFailure(new PostgresError("InvalidSpec", "bad extension"));
    expect(invalid.reason).to.equal("InvalidSpec");
    expect(invalid.retry).to.deep.equal({ kind: "never" });
    expect(toFailure(new Error("boom")).retry).to.deep.equal({ kind: "backoff" });
  });

  it("never reports the reason Error: each path has a named reason", () => {
    expect(toFailure(new PostgresError("Unknown", "odd")).reason).to.equal("DatabaseError");
    expect(toFailure(new PostgresError("InsecureAuthentication", "md5")).reason).to.equal("InsecureAuthentication");
    expect(toFailure(statusError(403, JSON.stringify({ reason: "Forbidden", message: "no" }), "updating Secret")).reason).to.equal("KubernetesRejected");
    expect(toFailure(statusError(403, JSON.stringify({ reason: "Forbidden", message: "no" }), "updating Secret")).message).to.contain("RBAC");
    expect(toFailure(statusError(422, JSON.stringify({ reason: "Invalid", message: "too long" }), "updating Secret")).reason).to.equal("KubernetesRejected");
    for (const code of [0, 429, 500, 503]) expect(toFailure(statusError(code, "", "listing")).reason, String(code)).to.equal("KubernetesUnavailable");
    const bug = toFailure(new TypeError("x is undefined"));
    expect(bug.reason).to.equal("InternalError");
    expect(bug.message).to.contain("please report it");
  });

  it("is stalled exactly when only a person can end it", () => {
    expect(new ReconcileFailure("Conflict", "taken").stalled).to.equal(true);
    expect(new ReconcileFailure("ServerUnavailable", "down").stalled).to.equal(false);
    expect(new ReconcileFailure("Deleting", "in use", { kind: "backoff" }, { stalled: true }).stalled).to.equal(true);
    expect(toFailure(new PostgresError("Unavailable", "down")).stalled).to.equal(false);
    expect(toFailure(new PostgresError("PermissionDenied", "no")).stalled).to.equal(true);
    expect(toFailure(statusError(403, JSON.stringify({ reason: "Forbidden", message: "no" }), "updating Secret")).stalled).to.equal(true);
    // A write that raced another one is over at the next pass; an unavailable API server heals.
    expect(toFailure(statusError(409, JSON.stringify({ reason: "Conflict", message: "modified" }), "updating Secret")).stalled).to.equal(false);
    expect(toFailure(statusError(404, JSON.stringify({ reason: "NotFound", message: "gone" }), "replacing Secret")).stalled).to.equal(false);
    expect(toFailure(statusError(422, JSON.stringify({ reason: "Invalid", message: "denied by policy" }), "updating Secret")).stalled).to.equal(true);
    expect(toFailure(statusError(503, "", "listing")).stalled).to.equal(false);
    expect(toFailure(new TypeError("x")).stalled).to.equal(false);
  });

  it("passes a ReconcileFailure through unchanged", () => {
    const f = new ReconcileFailure("Conflict", "taken", { kind: "after", ms: 5 });
    expect(toFailure(f)).to.equal(f);
  });
});

describe("Kubernetes API errors", () => {
  it("reads code, reason and message from a Status body, and copes with a body that is not one", () => {
    const err = statusError(409, JSON.stringify({ kind: "Status", reason: "Conflict", message: "the object has been modified" }), "updating x");
    expect(err).to.be.instanceOf(KubeApiError);
    expect(err.code).to.equal(409);
    expect(err.reason).to.equal("Conflict");
    expect(err.message).to.equal("updating x: the object has been modified");
    expect(isConflict(err)).to.equal(true);
    expect(toKubeError(err, "other context")).to.equal(err);
    const notJson = statusError(404, "not json", "reading");
    expect(isNotFound(notJson)).to.equal(true);
    expect(notJson.reason).to.equal("HTTP404");
    expect(notJson.message).to.equal("reading: not json");
    expect(statusError(503, "", "listing").message).to.equal("listing: HTTP 503");
  });

  it("reports an unreachable server with code 0", () => {
    const err = toKubeError(new TypeError("fetch failed"), "listing");
    expect(err.code).to.equal(0);
    expect(err.reason).to.equal("Unreachable");
  });
});

describe("which WorkspaceDatabase updates need a pass", () => {
  const base: WorkspaceDatabase = { apiVersion: "v", kind: "WorkspaceDatabase", metadata: { name: "a", namespace: "n", generation: 1, annotations: {} }, spec: {} };
  it("ignores status-only updates", () => {
    const next = { ...base, status: { database: "x" }, metadata: { ...base.metadata, resourceVersion: "2" } };
    expect(workspaceChanged(base, next)).to.equal(false);
  });
  it("reacts to spec, annotations (regeneration), finalizers and deletion", () => {
    expect(workspaceChanged(base, { ...base, metadata: { ...base.metadata, generation: 2 } })).to.equal(true);
    expect(workspaceChanged(base, { ...base, metadata: { ...base.metadata, annotations: { "workspacedb.io/regenerate": "1" } } })).to.equal(true);
    // The first pass's own finalizer needs no second pass.
    expect(workspaceChanged(base, { ...base, metadata: { ...base.metadata, finalizers: ["f"] } })).to.equal(false);
    expect(workspaceChanged(base, { ...base, metadata: { ...base.metadata, deletionTimestamp: "2024-01-01T00:00:00Z" } })).to.equal(true);
  });
});
