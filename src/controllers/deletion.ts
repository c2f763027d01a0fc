// Clean-up of a deleted WorkspaceDatabase: Retain keeps data and roles (NOLOGIN), Delete drops them.
import { FINALIZER, type WorkspaceDatabase } from "../api/types.ts";
import { Reasons } from "./conditions.ts";
import { ReconcileFailure } from "./failure.ts";
import type { Log, PassResult } from "./ports.ts";
import { secretName } from "./secret.ts";
import { serverName, workspaceNames, type WorkspaceDeps } from "./context.ts";

/**
 * Runs the deletion policy, then removes the finalizer. Any failure leaves the finalizer in place
 * (the object then says why on its Ready condition) so nothing is forgotten.
 */
export async function finalizeWorkspace(deps: WorkspaceDeps, obj: WorkspaceDatabase, log: Log): Promise<PassResult> {
  const finalizers = obj.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) return {};
  const namespace = obj.metadata.namespace ?? "";
  const policy = obj.spec.deletionPolicy ?? "Retain";

  // Only a database this object provisioned (status.database) is ever touched.
  if (obj.status?.database) {
    const server = await deps.servers.resolve(serverName(obj));
    const sql = await deps.servers.connect(server);
    const names = workspaceNames(obj);
    const ownership = await sql.databaseOwnership(names.database);
    const ours = ownership.owner?.namespace === namespace && ownership.owner.name === obj.metadata.name;
    if (ownership.exists && !ours) {
      log.warn("database is not owned by this object; leaving it alone", { database: names.database });
    } else if (policy === "Delete") {
      await sql.dropWorkspace(names);
      await deps.kube.recordEvent(obj, "Normal", "Dropped", `dropped database "${names.database}" and logins "${names.readWrite}", "${names.readOnly}"`);
    } else {
      for (const role of [names.readWrite, names.readOnly]) {
        await sql.disableLogin(role);
        await sql.terminateSessions(role);
      }
      await deps.kube.recordEvent(obj, "Normal", "Retained", `kept database "${names.database}" and its data; logins "${names.readWrite}" and "${names.readOnly}" set NOLOGIN`);
    }
  }
  await deps.kube.deleteSecret(namespace, secretName(obj.metadata.name, "read-write"));
  await deps.kube.deleteSecret(namespace, secretName(obj.metadata.name, "read-only"));
  try {
    await deps.kube.setFinalizers(obj, finalizers.filter((f) => f !== FINALIZER));
  } catch (err) {
    throw new ReconcileFailure(Reasons.Deleting, "removing the finalizer failed; will retry", { kind: "backoff" }, { cause: err });
  }
  log.info("finalized", { policy });
  return {};
}
