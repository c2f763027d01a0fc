// Which watch events deserve a reconcile, and the per-object metrics kept from reconcile results.
import type { WorkspaceDatabase } from "../api/types.ts";
import { objectKey } from "../runtime/informer.ts";
import type { Metrics } from "../runtime/metrics.ts";
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

/** Keeps `workspacedb_databases{ready}` and the credential-age gauge in line with reconcile results. */
export function observeWorkspaces(metrics: Metrics): {
  observe: (obj: WorkspaceDatabase, ready: boolean | undefined) => void;
  forget: (obj: WorkspaceDatabase) => void;
} {
  const readiness = new Map<string, boolean>();
  const publish = () => {
    let ready = 0;
    for (const r of readiness.values()) if (r) ready++;
    metrics.databases.set({ ready: "true" }, ready);
    metrics.databases.set({ ready: "false" }, readiness.size - ready);
  };
  return {
    observe(obj, ready) {
      const key = objectKey(obj);
      if (obj.metadata.deletionTimestamp) readiness.delete(key);
      else readiness.set(key, ready === true);
      publish();
      const ns = obj.metadata.namespace ?? "";
      const creds = obj.status?.credentials;
      if (creds?.readWrite?.passwordChangedAt) metrics.trackCredential(ns, obj.metadata.name, "read-write", new Date(creds.readWrite.passwordChangedAt));
      if (creds?.readOnly?.passwordChangedAt) metrics.trackCredential(ns, obj.metadata.name, "read-only", new Date(creds.readOnly.passwordChangedAt));
    },
    forget(obj) {
      readiness.delete(objectKey(obj));
      publish();
      metrics.untrackCredentials(obj.metadata.namespace ?? "", obj.metadata.name);
    },
  };
}
