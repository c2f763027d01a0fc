// Which watch events deserve a reconcile, and what the per-object metrics read from a cached object.
import type { WorkspaceDatabase } from "../api/types.ts";
import type { WorkspaceSample } from "../runtime/metrics.ts";
import { READY, findCondition } from "./conditions.ts";
import { sameJson } from "./equal.ts";

/**
 * True when an update of a WorkspaceDatabase may need work: a new generation (spec), changed
 * annotations (regeneration requests), labels or a deletion. Our own writes — status, and the
 * finalizer added by the first pass — change none of these, so they cause no second pass (a finalizer
 * removed by hand is put back by the next resync).
 */
export function workspaceChanged(old: WorkspaceDatabase, obj: WorkspaceDatabase): boolean {
  const a = old.metadata;
  const b = obj.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    !sameJson(a.annotations ?? {}, b.annotations ?? {}) ||
    !sameJson(a.labels ?? {}, b.labels ?? {})
  );
}

/** What the scrape-time gauges report of a cached WorkspaceDatabase; undefined while it is being deleted. */
export function workspaceSample(obj: WorkspaceDatabase): WorkspaceSample | undefined {
  if (obj.metadata.deletionTimestamp !== undefined) return undefined;
  const creds = obj.status?.credentials;
  const changedAt: WorkspaceSample["changedAt"] = {};
  if (creds?.readWrite?.passwordChangedAt) changedAt["read-write"] = creds.readWrite.passwordChangedAt;
  if (creds?.readOnly?.passwordChangedAt) changedAt["read-only"] = creds.readOnly.passwordChangedAt;
  return {
    namespace: obj.metadata.namespace ?? "",
    name: obj.metadata.name,
    ready: findCondition(obj.status?.conditions, READY)?.status === "True",
    changedAt,
  };
}
