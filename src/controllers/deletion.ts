// Clean-up of a deleted WorkspaceDatabase: only what markers prove is its own; Retain disables logins, Delete drops.
import { FINALIZER, type Access, type WorkspaceDatabase } from "../api/types.ts";
import { PostgresError } from "../postgres/errors.ts";
import { Reasons } from "./conditions.ts";
import { serverName, workspaceNames, type WorkspaceDeps } from "./context.ts";
import { ReconcileFailure } from "./failure.ts";
import { provenOwned } from "./ownership.ts";
import type { Log, MarkedPart, PassResult, ServerSql, WorkspaceNames } from "./ports.ts";
import { controlledBy, secretName } from "./secret.ts";

/** How long a deletion blocked by sessions the admin cannot end waits before the next try. */
const BLOCKED_RETRY_MS = 10_000;

/**
 * Runs the deletion policy on the parts markers prove are this object's, removes its Secrets, then the
 * finalizer. Nothing optional is on this path (Events are fire and forget). Any failure leaves the
 * finalizer in place (the object then says why) so nothing is forgotten.
 */
export async function finalizeWorkspace(deps: WorkspaceDeps, obj: WorkspaceDatabase, log: Log): Promise<PassResult> {
  const finalizers = obj.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) return {};

  // Nothing is created on a server before status records the database: without it there is nothing to clean up.
  if (obj.status?.database !== undefined) {
    const server = await deps.servers.resolve(serverName(obj));
    const sql = await deps.servers.connect(server);
    const names = workspaceNames(obj);
    const { owned, present } = await provenOwned(deps, sql, obj, names);
    if (obj.spec.deletionPolicy === "Delete") await dropOwned(deps, sql, obj, names, owned, present);
    else await retainOwned(deps, sql, obj, names, owned);
    sql.forgetWorkspace(names.database);
    for (const role of [names.readWrite, names.readOnly]) deps.loginChecks.forget(server.metadata.name, role);
  }
  for (const access of ["read-write", "read-only"] as const) await deleteOwnSecret(deps, obj, access);
  try {
    await deps.kube.setFinalizers(obj, finalizers.filter((f) => f !== FINALIZER));
  } catch (err) {
    throw new ReconcileFailure(Reasons.Deleting, "removing the finalizer failed; will retry", { kind: "backoff" }, { cause: err });
  }
  log.info("finalized", { policy: obj.spec.deletionPolicy ?? "Retain" });
  return {};
}

function roleOf(names: WorkspaceNames, part: MarkedPart): string {
  return part === "read-write" ? names.readWrite : names.readOnly;
}

async function dropOwned(deps: WorkspaceDeps, sql: ServerSql, obj: WorkspaceDatabase, names: WorkspaceNames, owned: Set<MarkedPart>, present: Set<MarkedPart>): Promise<void> {
  const roles = (["read-write", "read-only"] as const).filter((p) => owned.has(p));
  for (const part of roles) await sql.terminateSessions(roleOf(names, part));
  if (owned.has("database")) {
    try {
      await sql.dropDatabase(names.database);
    } catch (err) {
      if (err instanceof PostgresError && err.code === "55006") {
        throw new ReconcileFailure(Reasons.Deleting, err.message, { kind: "after", ms: BLOCKED_RETRY_MS }, { cause: err });
      }
      throw err;
    }
  }
  for (const part of roles) await sql.dropRole(roleOf(names, part));
  // Parts that exist and are someone else's are named; absent ones (a retry after an earlier pass
  // dropped them and then failed) are not, and a retry that finds nothing at all records nothing.
  const kept = (["database", "read-write", "read-only"] as const).filter((p) => present.has(p) && !owned.has(p));
  if (owned.size === 0 && kept.length === 0) return;
  deps.kube.recordEvent(
    obj,
    "Normal",
    "Dropped",
    `dropped ${[...(owned.has("database") ? [`database "${names.database}"`] : []), ...roles.map((p) => `login "${roleOf(names, p)}"`)].join(", ") || "nothing"}` +
      (kept.length > 0 ? `; left ${kept.join(", ")} alone: not owned by this object` : ""),
  );
}

async function retainOwned(deps: WorkspaceDeps, sql: ServerSql, obj: WorkspaceDatabase, names: WorkspaceNames, owned: Set<MarkedPart>): Promise<void> {
  const roles = (["read-write", "read-only"] as const).filter((p) => owned.has(p));
  for (const part of roles) {
    await sql.disableLogin(roleOf(names, part));
    await sql.terminateSessions(roleOf(names, part));
  }
  deps.kube.recordEvent(
    obj,
    "Normal",
    "Retained",
    `kept database "${names.database}" and its data; ${roles.length > 0 ? `logins ${roles.map((p) => `"${roleOf(names, p)}"`).join(" and ")} set NOLOGIN` : "no login of this object to disable"}`,
  );
}

/** Deletes the Secret of `access` only when this object controls it (never a Secret of that name someone else made). */
async function deleteOwnSecret(deps: WorkspaceDeps, obj: WorkspaceDatabase, access: Access): Promise<void> {
  const namespace = obj.metadata.namespace ?? "";
  const name = secretName(obj.metadata.name, access);
  const secret = await deps.kube.getSecret(namespace, name);
  if (secret?.metadata?.uid === undefined || !controlledBy(secret, obj)) return;
  await deps.kube.deleteSecret(namespace, name, secret.metadata.uid);
}
