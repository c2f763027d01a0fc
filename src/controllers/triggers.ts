// Which watch events deserve a reconcile, and what the per-object metrics read from a cached object.
import type { DatabaseServer, WorkspaceDatabase } from "../api/types.ts";
import type { Secret } from "../kube/types.ts";
import type { Priority } from "../runtime/queue.ts";
import { passwordWorkPending } from "./credentials.ts";
import type { ServerSample, WorkspaceSample } from "../runtime/metrics.ts";
import { READY, Reasons, findCondition } from "./conditions.ts";
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

/**
 * True when an update of a DatabaseServer may need a pass: a new generation (spec), a deletion, or
 * changed annotations — a person who fixed something outside the object (a grant, the admin Secret,
 * pg_hba.conf) asks for a check now by changing any annotation. Our own writes (status, finalizer)
 * change none of these.
 */
export function serverChanged(old: DatabaseServer, obj: DatabaseServer): boolean {
  const a = old.metadata;
  const b = obj.metadata;
  return a.generation !== b.generation || a.deletionTimestamp !== b.deletionTimestamp || !sameJson(a.annotations ?? {}, b.annotations ?? {});
}

/** Ready for its current generation and not being deleted: a pass over it is expected to change nothing. */
export function workspaceSettled(obj: WorkspaceDatabase): boolean {
  return obj.metadata.deletionTimestamp === undefined && obj.status?.observedGeneration === obj.metadata.generation &&
    findCondition(obj.status?.conditions, READY)?.status === "True";
}

/**
 * The lane of a WorkspaceDatabase the informer reports as added: a new object (or one that changed
 * while the operator was away) is work a person waits for; a settled one — seen again at a start or a
 * re-list — is resync work and never delays a regeneration, unless its Secrets (`secretOf`, the
 * synced cache of its namespace) show password work: a regeneration asked for, a Secret or password
 * missing (see passwordWorkPending). Without the Secrets (not synced yet, at a start), a settled one
 * is low, and `pendingPasswordWork` picks those out once every cache synced.
 */
export function addedPriority(obj: WorkspaceDatabase, secretOf?: (name: string) => Secret | undefined, now: Date = new Date()): Priority {
  if (!workspaceSettled(obj)) return "high";
  return secretOf !== undefined && passwordWorkPending(obj, secretOf, now) ? "high" : "low";
}

/** A reason as the metrics label it: one of the contract's, or `Other` (status is writable by more than the operator). */
export function reasonLabel(reason: string | undefined): string {
  if (reason === undefined || reason === "") return "Unknown";
  return KNOWN_REASONS.has(reason) ? reason : "Other";
}
const KNOWN_REASONS: ReadonlySet<string> = new Set(Object.values(Reasons));

/**
 * What the scrape-time gauges report of a cached WorkspaceDatabase; undefined while it is being
 * deleted. `regenerationSince`: when a pending regeneration of it was first seen (see
 * PendingRegenerations).
 */
export function workspaceSample(obj: WorkspaceDatabase, regenerationSince?: number): WorkspaceSample | undefined {
  if (obj.metadata.deletionTimestamp !== undefined) return undefined;
  const creds = obj.status?.credentials;
  const changedAt: WorkspaceSample["changedAt"] = {};
  if (creds?.readWrite?.passwordChangedAt) changedAt["read-write"] = creds.readWrite.passwordChangedAt;
  if (creds?.readOnly?.passwordChangedAt) changedAt["read-only"] = creds.readOnly.passwordChangedAt;
  const condition = findCondition(obj.status?.conditions, READY);
  const ready = condition?.status === "True";
  const sample: WorkspaceSample = {
    namespace: obj.metadata.namespace ?? "",
    name: obj.metadata.name,
    ready,
    changedAt,
    reason: reasonLabel(condition?.reason),
  };
  if (!ready) {
    const since = Date.parse(condition?.lastTransitionTime ?? obj.metadata.creationTimestamp ?? "");
    if (Number.isFinite(since)) sample.notReadySince = since;
  }
  if (regenerationSince !== undefined) sample.regenerationSince = regenerationSince;
  return sample;
}

/** What the scrape-time gauges report of a cached DatabaseServer. */
export function serverSample(obj: DatabaseServer): ServerSample {
  const condition = findCondition(obj.status?.conditions, READY);
  return { name: obj.metadata.name, ready: condition?.status === "True", reason: reasonLabel(condition?.reason) };
}
