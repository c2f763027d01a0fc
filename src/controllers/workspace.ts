// Reconciles one WorkspaceDatabase: database, two logins, two Secrets, status — a linear chain of steps.
import {
  FINALIZER,
  type Access,
  type CredentialStatus,
  type WorkspaceDatabase,
  type WorkspaceDatabaseStatus,
} from "../api/types.ts";
import type { KubePort } from "../kube/client.ts";
import { READY, Reasons, findCondition, setCondition, type ConditionInput } from "./conditions.ts";
import { ensureCredentialSecret, type CredentialOutcome } from "./credentials.ts";
import { finalizeWorkspace } from "./deletion.ts";
import { sameJson } from "./equal.ts";
import { ReconcileFailure, toFailure } from "./failure.ts";
import type { Log, PassResult, ServerSql, WorkspaceNames } from "./ports.ts";
import { SPEC_DEFAULTS, endpointOf, serverName, workspaceNames, type WorkspaceDeps } from "./context.ts";

/** Runs one pass for `namespace/name`; failures end up on the Ready condition and as Warning Events. */
export async function reconcileWorkspace(deps: WorkspaceDeps, namespace: string, name: string, log: Log): Promise<PassResult> {
  const obj = await deps.kube.getWorkspaceDatabase(namespace, name);
  if (!obj) return {};
  try {
    const result = obj.metadata.deletionTimestamp ? await finalizeWorkspace(deps, obj, log) : await provisionWorkspace(deps, obj, log);
    return result;
  } catch (err) {
    const failure = toFailure(err);
    log.warn("reconcile failed", { reason: failure.reason, error: failure.message });
    await reportFailure(deps, obj, failure);
    deps.observe?.(obj, false);
    if (failure.retry.kind === "after") return { requeueAfter: failure.retry.ms };
    if (failure.retry.kind === "never") return {};
    throw failure;
  }
}

async function reportFailure(deps: WorkspaceDeps, obj: WorkspaceDatabase, failure: ReconcileFailure): Promise<void> {
  const deleting = obj.metadata.deletionTimestamp !== undefined;
  const condition: ConditionInput = {
    type: READY,
    status: failure.reason === Reasons.Provisioning ? "Unknown" : "False",
    reason: deleting ? Reasons.Deleting : failure.reason,
    message: deleting ? `cannot finish deletion: ${failure.message}` : failure.message,
    observedGeneration: obj.metadata.generation,
  };
  const previous = findCondition(obj.status?.conditions, READY);
  const status: WorkspaceDatabaseStatus = {
    ...(obj.status ?? {}),
    observedGeneration: obj.metadata.generation,
    conditions: setCondition(obj.status?.conditions, condition, deps.now()),
  };
  if (!previous || previous.reason !== condition.reason || previous.message !== condition.message) {
    await deps.kube.recordEvent(obj, "Warning", deleting ? Reasons.Deleting : failure.reason, condition.message).catch(() => undefined);
  }
  await writeStatus(deps.kube, obj, status);
}

/** Patches status only when it differs from what the object already says. */
async function writeStatus(kube: KubePort, obj: WorkspaceDatabase, status: WorkspaceDatabaseStatus): Promise<void> {
  if (sameJson(obj.status ?? {}, status)) return;
  await kube.patchWorkspaceDatabaseStatus(obj.metadata.namespace ?? "", obj.metadata.name, status);
}

async function ensureFinalizer(deps: WorkspaceDeps, obj: WorkspaceDatabase): Promise<WorkspaceDatabase> {
  const finalizers = obj.metadata.finalizers ?? [];
  if (finalizers.includes(FINALIZER)) return obj;
  return deps.kube.setFinalizers(obj, [...finalizers, FINALIZER]);
}

async function checkOwnership(sql: ServerSql, obj: WorkspaceDatabase, names: WorkspaceNames): Promise<"ours" | "new" | "adopt"> {
  const ownership = await sql.databaseOwnership(names.database);
  const ns = obj.metadata.namespace ?? "";
  if (!ownership.exists) return "new";
  if (ownership.owner) {
    if (ownership.owner.namespace === ns && ownership.owner.name === obj.metadata.name) return "ours";
    throw new ReconcileFailure(
      Reasons.Conflict,
      `database "${names.database}" belongs to WorkspaceDatabase ${ownership.owner.namespace}/${ownership.owner.name}; choose another spec.databaseName`,
      { kind: "after", ms: 120_000 },
    );
  }
  // CREATE DATABASE and its COMMENT cannot share a transaction: a crash between the two leaves
  // our database unmarked. Status records the name before the database is created, so it is ours.
  if (obj.status?.database === names.database) return "ours";
  if (obj.spec.databaseName === names.database) return "adopt";
  throw new ReconcileFailure(
    Reasons.Conflict,
    `database "${names.database}" already exists and is not managed by workspacedb-operator; set spec.databaseName: ${names.database} to adopt it`,
    { kind: "after", ms: 120_000 },
  );
}

async function provisionWorkspace(deps: WorkspaceDeps, original: WorkspaceDatabase, log: Log): Promise<PassResult> {
  const obj = await ensureFinalizer(deps, original);
  const server = await deps.servers.resolve(serverName(obj));
  const sql = await deps.servers.connect(server);
  // Without CREATEDB/CREATEROLE a pass would stop half-way (a database but no logins): create nothing.
  const missing = await sql.missingAdminPrivileges();
  if (missing.length > 0) {
    throw new ReconcileFailure(
      Reasons.PermissionDenied,
      `the admin role of DatabaseServer "${server.metadata.name}" lacks ${missing.join(", ")}; nothing was created (see the DatabaseServer's status)`,
      { kind: "after", ms: 60_000 },
    );
  }
  const names = workspaceNames(obj);
  const ownership = await checkOwnership(sql, obj, names);
  const endpoint = endpointOf(server);
  const now = deps.now();
  if (ownership === "new" && obj.status?.database !== names.database) {
    await recordIntent(deps, obj, server.metadata.name, names.database, now);
  }

  const context = { kube: deps.kube, owner: obj, endpoint, database: names.database, now, newPassword: deps.newPassword };
  const readWrite = await ensureCredentialSecret(context, "read-write", names.readWrite);
  const readOnly = await ensureCredentialSecret(context, "read-only", names.readOnly);

  const statements = await sql.provision({
    names,
    owner: { namespace: obj.metadata.namespace ?? "", name: obj.metadata.name },
    connectionLimit: obj.spec.connectionLimit ?? SPEC_DEFAULTS.connectionLimit,
    statementTimeout: obj.spec.statementTimeout ?? SPEC_DEFAULTS.statementTimeout,
    idleInTransactionSessionTimeout: obj.spec.idleInTransactionSessionTimeout ?? SPEC_DEFAULTS.idleInTransactionSessionTimeout,
    extensions: obj.spec.extensions ?? [],
    verifiers: { readWrite: () => deps.verifier(readWrite.password), readOnly: () => deps.verifier(readOnly.password) },
  });
  if (statements > 0) log.info("applied SQL changes", { statements, database: names.database });
  if (ownership === "adopt") {
    await deps.kube.recordEvent(obj, "Normal", "Adopted", `adopted existing database "${names.database}" on server "${server.metadata.name}"; its data was left as it was`);
  }

  for (const outcome of [readWrite, readOnly]) {
    await alignLogin(deps, sql, obj, names.database, outcome, log);
  }

  const status: WorkspaceDatabaseStatus = {
    ...(obj.status ?? {}),
    observedGeneration: obj.metadata.generation,
    server: server.metadata.name,
    database: names.database,
    credentials: { readWrite: credentialStatus(readWrite), readOnly: credentialStatus(readOnly) },
    conditions: setCondition(
      obj.status?.conditions,
      {
        type: READY,
        status: "True",
        reason: Reasons.Provisioned,
        message: `database "${names.database}" on server "${server.metadata.name}" is ready; credentials in Secrets ${readWrite.secretName} and ${readOnly.secretName}`,
        observedGeneration: obj.metadata.generation,
      },
      now,
    ),
  };
  const previous = findCondition(obj.status?.conditions, READY);
  if (!previous || previous.status !== "True") {
    await deps.kube.recordEvent(obj, "Normal", Reasons.Provisioned, `database "${names.database}" is ready on server "${server.metadata.name}"`);
  }
  await writeStatus(deps.kube, obj, status);
  deps.observe?.({ ...obj, status }, true);
  return {};
}

/** Writes the database name into status before the database exists (see checkOwnership). */
async function recordIntent(deps: WorkspaceDeps, obj: WorkspaceDatabase, server: string, database: string, now: Date): Promise<void> {
  const status: WorkspaceDatabaseStatus = {
    ...(obj.status ?? {}),
    observedGeneration: obj.metadata.generation,
    server,
    database,
    conditions: setCondition(
      obj.status?.conditions,
      { type: READY, status: "False", reason: Reasons.Provisioning, message: `creating database "${database}" on server "${server}"`, observedGeneration: obj.metadata.generation },
      now,
    ),
  };
  await deps.kube.patchWorkspaceDatabaseStatus(obj.metadata.namespace ?? "", obj.metadata.name, status);
  obj.status = status;
}

function credentialStatus(outcome: CredentialOutcome): CredentialStatus {
  return {
    secretName: outcome.secretName,
    username: outcome.username,
    passwordChangedAt: outcome.passwordChangedAt,
    // Absent means "none handled yet": a merge patch cannot store null, so it is left out.
    ...(outcome.handledToken !== undefined ? { regenerateToken: outcome.handledToken } : {}),
  };
}

function label(access: Access): string {
  return access === "read-write" ? "read/write" : "read-only";
}

/**
 * Makes the role's password the Secret's. A password that changed since the last completed pass
 * (regeneration, re-created Secret) also ends the sessions opened with the old one.
 */
async function alignLogin(deps: WorkspaceDeps, sql: ServerSql, obj: WorkspaceDatabase, database: string, outcome: CredentialOutcome, log: Log): Promise<void> {
  const key = outcome.access === "read-write" ? "readWrite" : "readOnly";
  const previousChange = obj.status?.credentials?.[key]?.passwordChangedAt;
  // This pass's own regeneration or re-creation counts too: passwordChangedAt has a resolution of one
  // second, so a second change within the same second would otherwise keep the old sessions and Event.
  const changeToFinish =
    outcome.regenerated ||
    (previousChange !== undefined && (outcome.recreated || previousChange !== outcome.passwordChangedAt));
  const loginWorks = await sql.checkLogin(database, outcome.username, outcome.password);
  if (!loginWorks) {
    await sql.setPassword(outcome.username, deps.verifier(outcome.password));
    if (!changeToFinish && !outcome.recreated) {
      log.info("password of role did not match its Secret; reset from the Secret", { access: outcome.access });
      await deps.kube.recordEvent(obj, "Normal", "PasswordReset", `the ${label(outcome.access)} login's password did not match Secret ${outcome.secretName}; set it from the Secret`);
    }
  }
  if (!changeToFinish) return;
  if (obj.spec.rotation?.terminateSessions !== false) {
    const ended = await sql.terminateSessions(outcome.username);
    if (ended > 0) log.info("terminated sessions opened with the old password", { access: outcome.access, sessions: ended });
  }
  const why = outcome.recreated ? `Secret ${outcome.secretName} was re-created` : "regeneration requested";
  log.info("password regenerated", { access: outcome.access });
  await deps.kube.recordEvent(obj, "Normal", "PasswordRegenerated", `${label(outcome.access)} password regenerated (${why}); the old password no longer works`);
}
