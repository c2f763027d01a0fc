// Which watch events deserve a reconcile, and what the per-object metrics read from a cached object.
import { recordsToken } from "../api/regenerate.ts";
import { ANNOTATION_REGENERATE_BOTH, ANNOTATION_REGENERATE_RO, ANNOTATION_REGENERATE_RW, type WorkspaceDatabase } from "../api/types.ts";
import type { Priority } from "../runtime/queue.ts";
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

/** Ready for its current generation and not being deleted: a pass over it is expected to change nothing. */
export function workspaceSettled(obj: WorkspaceDatabase): boolean {
  return obj.metadata.deletionTimestamp === undefined && obj.status?.observedGeneration === obj.metadata.generation &&
    findCondition(obj.status?.conditions, READY)?.status === "True";
}

/**
 * True when a regenerate annotation's value is not the token status records for its login (a
 * regeneration may be waiting; when both a login's own annotation and the one for both logins are set,
 * one of them always looks waiting, which only costs a pass in the high lane).
 */
export function regenerationMaybePending(obj: WorkspaceDatabase): boolean {
  const annotations = obj.metadata.annotations ?? {};
  const creds = obj.status?.credentials;
  const pending = (value: string | undefined, ...records: (string | null | undefined)[]) =>
    value !== undefined && records.some((record) => !recordsToken(record ?? undefined, value));
  return pending(annotations[ANNOTATION_REGENERATE_RW], creds?.readWrite?.regenerateToken) ||
    pending(annotations[ANNOTATION_REGENERATE_RO], creds?.readOnly?.regenerateToken) ||
    pending(annotations[ANNOTATION_REGENERATE_BOTH], creds?.readWrite?.regenerateToken, creds?.readOnly?.regenerateToken);
}

/**
 * The lane of a WorkspaceDatabase the informer reports as added: a new object (or one that changed
 * while the operator was away) is work a person waits for; a settled one — seen again at a start or a
 * re-list — is resync work and never delays a regeneration.
 */
export function addedPriority(obj: WorkspaceDatabase): Priority {
  return workspaceSettled(obj) && !regenerationMaybePending(obj) ? "low" : "high";
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
