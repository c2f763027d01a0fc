// Reconciles one DatabaseServer: connect with its admin Secret, check privileges, report version and size.
import type { DatabaseServer, DatabaseServerStatus } from "../api/types.ts";
import type { KubePort } from "../kube/client.ts";
import { READY, Reasons, findCondition, setCondition, type ConditionInput } from "./conditions.ts";
import { sameJson } from "./equal.ts";
import { ReconcileFailure, toFailure } from "./failure.ts";
import type { Log, PassResult } from "./ports.ts";
import type { ServerRegistry } from "./servers.ts";

/** What a DatabaseServer pass needs. */
export interface ServerDeps {
  kube: KubePort;
  servers: ServerRegistry;
  now: () => Date;
  /** How often a Ready server is checked again (its version and database count). */
  recheckAfterMs: number;
  /** Called when a server's readiness changed, so WorkspaceDatabases waiting on it are retried. */
  onReadinessChange?: (server: DatabaseServer, ready: boolean) => void;
}

/** Runs one pass for the DatabaseServer `name`. */
export async function reconcileServer(deps: ServerDeps, name: string, log: Log): Promise<PassResult> {
  const server = await deps.kube.getDatabaseServer(name);
  if (!server) {
    await deps.servers.forget(name);
    return {};
  }
  const previous = findCondition(server.status?.conditions, READY);
  let condition: ConditionInput;
  let status: DatabaseServerStatus = { ...(server.status ?? {}) };
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
    status = { ...status, serverVersion: info.version, databases: info.databases };
    condition = { type: READY, status: "True", reason: Reasons.Connected, message: `connected to PostgreSQL ${info.version}`, observedGeneration: server.metadata.generation };
    result = { requeueAfter: deps.recheckAfterMs };
  } catch (err) {
    failure = toFailure(err);
    log.warn("server check failed", { reason: failure.reason, error: failure.message });
    condition = { type: READY, status: "False", reason: failure.reason, message: failure.message, observedGeneration: server.metadata.generation };
    result = failure.retry.kind === "after" ? { requeueAfter: failure.retry.ms } : {};
  }
  status.observedGeneration = server.metadata.generation;
  status.conditions = setCondition(server.status?.conditions, condition, deps.now());
  const changed = !previous || previous.status !== condition.status || previous.reason !== condition.reason || previous.message !== condition.message;
  if (changed) {
    if (failure) await deps.kube.recordEvent(server, "Warning", failure.reason, failure.message).catch(() => undefined);
    else await deps.kube.recordEvent(server, "Normal", Reasons.Connected, condition.message).catch(() => undefined);
  }
  if (!sameJson(status, server.status ?? {})) {
    await deps.kube.patchDatabaseServerStatus(name, status);
  }
  if (changed && (previous?.status === "True") !== (condition.status === "True")) {
    deps.onReadinessChange?.(server, condition.status === "True");
  }
  // A failure retried with back-off goes back to the queue as an error.
  if (failure && failure.retry.kind === "backoff") throw failure;
  return result;
}
