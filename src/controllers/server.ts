// Reconciles one DatabaseServer: finalizer while in use, connect with its admin Secret, check privileges, report.
import { FINALIZER, type DatabaseServer, type DatabaseServerStatus, type WorkspaceDatabase } from "../api/types.ts";
import type { KubePort } from "../kube/client.ts";
import { controlGapMessage } from "../postgres/control.ts";
import { isFenced } from "../runtime/fence.ts";
import { READY, Reasons, findCondition, setReadiness, type ConditionInput } from "./conditions.ts";
import { sameJson } from "./equal.ts";
import { ReconcileFailure, toFailure } from "./failure.ts";
import type { Log, PassResult } from "./ports.ts";
import type { ServerRegistry } from "./servers.ts";

/** How often a DatabaseServer being deleted looks again for the WorkspaceDatabases that still use it. */
const IN_USE_RETRY_MS = 10_000;

/** What a DatabaseServer pass needs. */
export interface ServerDeps {
  kube: KubePort;
  servers: ServerRegistry;
  now: () => Date;
  /** How often a Ready server is checked again (its version and database count). */
  recheckAfterMs: number;
  /** The WorkspaceDatabases (from the cache) that use the server `name`: provisioned on it, or naming it. */
  usersOf: (name: string) => WorkspaceDatabase[];
  /** Called when a server's readiness changed, so WorkspaceDatabases waiting on it are retried. */
  onReadinessChange?: (server: DatabaseServer, ready: boolean) => void;
}

/** Runs one pass for the DatabaseServer `name`. */
export async function reconcileServer(deps: ServerDeps, name: string, log: Log): Promise<PassResult> {
  let server = await deps.kube.getDatabaseServer(name);
  if (!server) {
    await deps.servers.forget(name);
    return {};
  }
  const users = deps.usersOf(name);
  const finalizers = server.metadata.finalizers ?? [];
  if (server.metadata.deletionTimestamp) {
    if (users.length === 0) {
      await deps.servers.forget(name);
      if (finalizers.includes(FINALIZER)) await deps.kube.setServerFinalizers(server, finalizers.filter((f) => f !== FINALIZER));
      log.info("no WorkspaceDatabase uses the server any more; finalized");
      return {};
    }
    const listed = users.slice(0, 5).map((w) => `${w.metadata.namespace}/${w.metadata.name}`).join(", ");
    const more = users.length > 5 ? ` and ${users.length - 5} more` : "";
    await writeServerStatus(deps, server, { ...(server.status ?? {}), workspaceDatabases: users.length }, {
      type: READY,
      status: "False",
      reason: Reasons.Deleting,
      message: `${users.length} WorkspaceDatabase(s) still use this server (${listed}${more}); it is deleted once they are`,
      observedGeneration: server.metadata.generation,
    });
    return { requeueAfter: IN_USE_RETRY_MS };
  }
  if (!finalizers.includes(FINALIZER)) server = await deps.kube.setServerFinalizers(server, [...finalizers, FINALIZER]);

  let condition: ConditionInput;
  let status: DatabaseServerStatus = { ...(server.status ?? {}), workspaceDatabases: users.length };
  let result: PassResult;
  let failure: ReconcileFailure | undefined;
  try {
    const sql = await deps.servers.connect(server);
    const info = await sql.serverInfo();
    const missing = await sql.missingAdminPrivileges();
    if (missing.length > 0) {
      throw new ReconcileFailure(
        Reasons.PermissionDenied,
        `the admin role lacks ${missing.join(", ")}; grant it (ALTER ROLE … ${missing.join(" ")}) or use another admin role`,
        { kind: "after", ms: 60_000 },
      );
    }
    status = { ...status, serverVersion: info.version, databases: info.databases, hardening: info.hardening };
    const gap = await sql.controlGap(provisionedOn(name, users));
    if (gap !== null) throw new ReconcileFailure(Reasons.PermissionDenied, controlGapMessage(gap, sql.adminRole), { kind: "after", ms: 60_000 });
    condition = { type: READY, status: "True", reason: Reasons.Connected, message: `connected to PostgreSQL ${info.version}`, observedGeneration: server.metadata.generation };
    result = { requeueAfter: deps.recheckAfterMs };
  } catch (err) {
    if (isFenced(err)) throw err;
    failure = toFailure(err);
    log.warn("server check failed", { reason: failure.reason, error: failure.message });
    condition = { type: READY, status: "False", reason: failure.reason, message: failure.message, observedGeneration: server.metadata.generation };
    result = failure.retry.kind === "after" ? { requeueAfter: failure.retry.ms } : {};
  }
  const changed = await writeServerStatus(deps, server, status, condition, failure);
  if (changed) {
    const previous = findCondition(server.status?.conditions, READY);
    if ((previous?.status === "True") !== (condition.status === "True")) deps.onReadinessChange?.(server, condition.status === "True");
  }
  // A failure retried with back-off goes back to the queue as an error.
  if (failure && failure.retry.kind === "backoff") throw failure;
  return result;
}

/** The databases and logins of the WorkspaceDatabases provisioned on server `name` (from their status). */
function provisionedOn(name: string, users: readonly WorkspaceDatabase[]): { databases: string[]; roles: string[] } {
  const databases: string[] = [];
  const roles: string[] = [];
  for (const ws of users) {
    const database = ws.status?.database;
    if (ws.status?.server !== name || database === undefined) continue;
    databases.push(database);
    roles.push(ws.status.credentials?.readWrite?.username ?? database, ws.status.credentials?.readOnly?.username ?? `${database}_ro`);
  }
  return { databases, roles };
}

/** Sets Ready, records an Event when it changed, patches status only if it differs; returns whether Ready changed. */
async function writeServerStatus(deps: ServerDeps, server: DatabaseServer, base: DatabaseServerStatus, condition: ConditionInput, failure?: ReconcileFailure): Promise<boolean> {
  const previous = findCondition(server.status?.conditions, READY);
  const status: DatabaseServerStatus = {
    ...base,
    observedGeneration: server.metadata.generation,
    conditions: setReadiness(server.status?.conditions, condition, deps.now(), { stalled: failure?.stalled ?? false }),
  };
  const changed = !previous || previous.status !== condition.status || previous.reason !== condition.reason || previous.message !== condition.message;
  if (changed) deps.kube.recordEvent(server, condition.status === "True" ? "Normal" : "Warning", failure?.reason ?? condition.reason, condition.message);
  if (!sameJson(status, server.status ?? {})) await deps.kube.patchDatabaseServerStatus(server.metadata.name, status);
  return changed;
}
