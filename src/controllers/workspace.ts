// Reconciles one WorkspaceDatabase: a linear chain of steps from ownership to status.
import {
  FINALIZER,
  type CredentialStatus,
  type DatabaseServer,
  type WorkspaceDatabase,
  type WorkspaceDatabaseStatus,
} from "../api/types.ts";
import type { KubePort } from "../kube/client.ts";
import { isFenced } from "../runtime/fence.ts";
import { checkConnectionLimit, checkNamespaceAllowed } from "./access.ts";
import { READY, RECONCILING, Reasons, STALLED, findCondition, setCondition, setReadiness, type ConditionInput } from "./conditions.ts";
import { SPEC_DEFAULTS, endpointOf, serverName, workspaceNames, workspaceRef, type WorkspaceDeps } from "./context.ts";
import { ensureCredentialSecret, type CredentialOutcome } from "./credentials.ts";
import { finalizeWorkspace } from "./deletion.ts";
import { sameJson } from "./equal.ts";
import { ReconcileFailure, toFailure } from "./failure.ts";
import { claimWorkspace } from "./ownership.ts";
import type { ClaimFacts, DesiredWorkspace, Log, PassResult, ProvisionResult, ServerSql } from "./ports.ts";
import { rotate, verifyLogin } from "./rotation.ts";
import { workspaceSettled } from "./triggers.ts";
import type { Priority } from "../runtime/queue.ts";

/**
 * Runs one pass for `namespace/name`; failures end up on the Ready condition and as Warning Events.
 * `priority` is the lane of the pass: only a `low` one (a resync) may judge a settled workspace from
 * the server's snapshot, so a regeneration never waits for a snapshot being read.
 */
export async function reconcileWorkspace(deps: WorkspaceDeps, namespace: string, name: string, log: Log, priority: Priority = "high"): Promise<PassResult> {
  const obj = await deps.kube.getWorkspaceDatabase(namespace, name);
  if (!obj) return {};
  try {
    return obj.metadata.deletionTimestamp ? await finalizeWorkspace(deps, obj, log) : await provisionWorkspace(deps, obj, log, priority);
  } catch (err) {
    // Another replica may lead now: write nothing more.
    if (isFenced(err)) throw err;
    const failure = toFailure(err);
    log.warn("reconcile failed", { reason: failure.reason, error: failure.message });
    await reportFailure(deps, obj, failure);
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
    conditions: setReadiness(obj.status?.conditions, condition, deps.now(), { stalled: failure.stalled }),
  };
  if (!previous || previous.reason !== condition.reason || previous.message !== condition.message) {
    deps.kube.recordEvent(obj, "Warning", condition.reason, condition.message);
  }
  // Optional while deleting: a namespace being torn down must not wait on a status write.
  await writeStatus(deps.kube, obj, status).catch((err: unknown) => {
    if (!deleting) throw err;
  });
}

/** Patches status only when it differs from what the object already says. */
async function writeStatus(kube: KubePort, obj: WorkspaceDatabase, status: WorkspaceDatabaseStatus): Promise<void> {
  if (sameJson(obj.status ?? {}, status)) return;
  await kube.patchWorkspaceDatabaseStatus(obj.metadata.namespace ?? "", obj.metadata.name, status);
  obj.status = status;
}

async function ensureFinalizer(deps: WorkspaceDeps, obj: WorkspaceDatabase): Promise<WorkspaceDatabase> {
  const finalizers = obj.metadata.finalizers ?? [];
  if (finalizers.includes(FINALIZER)) return obj;
  return deps.kube.setFinalizers(obj, [...finalizers, FINALIZER]);
}

async function checkAdmin(sql: ServerSql, server: DatabaseServer): Promise<void> {
  // Without CREATEDB/CREATEROLE a pass would stop half-way (a database but no logins): create nothing.
  const missing = await sql.missingAdminPrivileges();
  if (missing.length > 0) {
    throw new ReconcileFailure(
      Reasons.PermissionDenied,
      `the admin role of DatabaseServer "${server.metadata.name}" lacks ${missing.join(", ")}; nothing was created (see the DatabaseServer's status)`,
      { kind: "after", ms: 60_000 },
    );
  }
}

/**
 * The provisioning chain: finalizer → server (and namespaceSelector) → admin privileges → ownership
 * (markers; Conflict changes nothing) → Secrets (a new password is written to its Secret first) →
 * regenerated passwords given to the roles and old sessions ended, from the maintenance database →
 * names and credentials recorded in status → database, logins and privileges → each login checked
 * against its Secret → status.
 */
async function provisionWorkspace(deps: WorkspaceDeps, original: WorkspaceDatabase, log: Log, priority: Priority): Promise<PassResult> {
  const obj = await ensureFinalizer(deps, original);
  const server = await deps.servers.resolve(serverName(obj));
  await checkNamespaceAllowed(deps, server, obj);
  checkConnectionLimit(server, obj);
  const sql = await deps.servers.connect(server);
  await checkAdmin(sql, server);
  const names = workspaceNames(obj);
  const now = deps.now();
  // A settled workspace (Ready for its current spec) may be judged from the server's snapshot of its
  // shared catalogs during a resync; anything to write is decided again on a fresh read first. Work a
  // person waits for reads fresh: it never waits for a snapshot of every workspace to be read.
  const settled = isSettled(obj, server.metadata.name, names.database);
  let claimed = await claimWorkspace(deps, sql, server, obj, names, log, settled && priority === "low");
  const freshen = async (): Promise<void> => {
    if (!claimed.shared.fresh) claimed = await claimWorkspace(deps, sql, server, obj, names, log, false);
  };

  const context = { kube: deps.kube, owner: obj, endpoint: endpointOf(server, deps.servers.ca(server.metadata.name)), database: names.database, now, newPassword: deps.newPassword };
  // The two Secrets are independent: written side by side (one API round trip for a new workspace).
  // A Secret step that fails (a password set by hand too long to apply, the API refusing a write)
  // stops its own login only: the other one's new password still reaches its role below, then the
  // pass reports the failure.
  const [readWriteStep, readOnlyStep] = await Promise.all([
    settleCredential(() => ensureCredentialSecret(context, "read-write", names.readWrite)),
    settleCredential(() => ensureCredentialSecret(context, "read-only", names.readOnly)),
  ]);
  const failed = [readWriteStep, readOnlyStep].filter((o): o is StepFailed => o instanceof StepFailed);
  // Another replica may lead now: nothing more is written, not even a rotation.
  const fenced = failed.find((f) => isFenced(f.error));
  if (fenced !== undefined) throw fenced.error;
  if (failed.length === 2) log.warn("the read-only Secret step failed too", { error: toFailure(failed[1]!.error).message });

  // Rotation first, before and independent of every other step.
  const rotated: CredentialOutcome[] = [];
  const settledSteps = [readWriteStep, readOnlyStep].filter((o): o is CredentialOutcome => !(o instanceof StepFailed));
  if (settledSteps.some((o) => o.rotate)) await freshen();
  const facts = claimed.shared.facts.claim;
  const rotating = settledSteps.filter((o) => o.rotate && (o.access === "read-write" ? facts.readWrite : facts.readOnly) !== null);
  if (rotating.length > 0) await markRegenerating(deps, obj, rotating, now);
  // What was rotated is recorded before a failure is reported, so that no later pass rotates (and
  // ends sessions) again.
  const afterRotation = async (failure: unknown): Promise<unknown> => {
    if (rotated.length > 0) await recordProgress(deps, obj, server.metadata.name, names.database, credentialsStatus(obj, ...rotated), now);
    return failure;
  };
  for (const outcome of rotating) {
    await rotate(deps, sql, obj, outcome, log);
    deps.loginChecks.checked(server.metadata.name, outcome.username, outcome.secretVersion);
    rotated.push(outcome);
  }
  if (readWriteStep instanceof StepFailed) throw await afterRotation(readWriteStep.error);
  if (readOnlyStep instanceof StepFailed) throw await afterRotation(readOnlyStep.error);
  const readWrite = readWriteStep;
  const readOnly = readOnlyStep;
  // Before anything is created on the server, status records where (deletion cleans up from there), and
  // which passwords the roles have (so a later failing step never makes a retry rotate again).
  await recordProgress(deps, obj, server.metadata.name, names.database, credentialsStatus(obj, readWrite, readOnly), now);

  const result = await sql.provision({
    names,
    owner: workspaceRef(obj),
    connectionLimit: obj.spec.connectionLimit ?? SPEC_DEFAULTS.connectionLimit,
    statementTimeout: obj.spec.statementTimeout ?? SPEC_DEFAULTS.statementTimeout,
    idleInTransactionSessionTimeout: obj.spec.idleInTransactionSessionTimeout ?? SPEC_DEFAULTS.idleInTransactionSessionTimeout,
    extensions: obj.spec.extensions ?? [],
    verifiers: await preparedVerifiers(deps, facts, readWrite, readOnly),
  }, claimed.marked ? undefined : claimed.shared);
  if (result.statements > 0) log.info("applied SQL changes", { statements: result.statements, database: names.database });
  // On a workspace Ready for its spec, anything to apply or a Secret to make again was changed by someone else.
  if (settled && result.statements > 0) deps.onDrift?.("sql");
  if (settled) for (const step of [readWrite, readOnly]) if (step.change === "missing") deps.onDrift?.("secret");

  const quiet = settled && result.statements === 0;
  for (const outcome of [readWrite, readOnly]) {
    if (rotated.includes(outcome) || !deps.loginChecks.due(server.metadata.name, outcome.username, outcome.secretVersion, quiet)) continue;
    await verifyLogin(deps, sql, obj, names.database, outcome, log, freshen);
    deps.loginChecks.checked(server.metadata.name, outcome.username, outcome.secretVersion);
  }

  const status: WorkspaceDatabaseStatus = {
    ...(obj.status ?? {}),
    observedGeneration: obj.metadata.generation,
    server: server.metadata.name,
    database: names.database,
    credentials: credentialsStatus(obj, readWrite, readOnly),
    conditions: setReadiness(
      obj.status?.conditions,
      { type: READY, status: "True", reason: Reasons.Provisioned, message: readyMessage(server, names.database, readWrite, readOnly, result), observedGeneration: obj.metadata.generation },
      now,
    ),
  };
  const previous = findCondition(obj.status?.conditions, READY);
  if (!previous || previous.status !== "True") {
    deps.kube.recordEvent(obj, "Normal", Reasons.Provisioned, `database "${names.database}" is ready on server "${server.metadata.name}"`);
  }
  await writeStatus(deps.kube, obj, status);
  return {};
}

/** Ready for its current generation, on `server`, with `database` recorded: a resync pass is expected to change nothing. */
function isSettled(obj: WorkspaceDatabase, server: string, database: string): boolean {
  return workspaceSettled(obj) && obj.status?.server === server && obj.status?.database === database;
}

/**
 * The verifiers the plan may need — only for a login that must be created or re-enabled (NOLOGIN after
 * a Retain deletion) — computed ahead, off the event loop. A login that changed between the claim and
 * the plan (a race with a person) fails the pass, and the next pass prepares what it needs.
 */
async function preparedVerifiers(deps: WorkspaceDeps, facts: ClaimFacts, readWrite: CredentialOutcome, readOnly: CredentialOutcome): Promise<DesiredWorkspace["verifiers"]> {
  const prepare = async (role: ClaimFacts["readWrite"], outcome: CredentialOutcome): Promise<() => string> => {
    const verifier = role === null || !role.canLogin ? await deps.verifier(outcome.password) : undefined;
    return () => {
      if (verifier === undefined) throw new Error(`login ${outcome.username} changed during the pass; retrying`);
      return verifier;
    };
  };
  const [rw, ro] = await Promise.all([prepare(facts.readWrite, readWrite), prepare(facts.readOnly, readOnly)]);
  return { readWrite: rw, readOnly: ro };
}

function readyMessage(server: DatabaseServer, database: string, readWrite: CredentialOutcome, readOnly: CredentialOutcome, result: ProvisionResult): string {
  let message = `database "${database}" on server "${server.metadata.name}" is ready; credentials in Secrets ${readWrite.secretName} and ${readOnly.secretName}`;
  if (result.misplacedExtensions.length > 0) {
    const list = result.misplacedExtensions.map((e) => `${e.name} (in schema ${e.schema})`).join(", ");
    message += `; extensions ${list} were left where an earlier version created them: a superuser or the database owner can move them with ALTER EXTENSION … SET SCHEMA extensions`;
  }
  return message;
}

/**
 * Writes server, database and credentials into status when they changed; a new object also gets
 * Ready=False Provisioning (an object that already has a Ready condition keeps it, so a pass that keeps
 * failing the same way writes nothing).
 */
async function recordProgress(deps: WorkspaceDeps, obj: WorkspaceDatabase, server: string, database: string, credentials: WorkspaceDatabaseStatus["credentials"], now: Date): Promise<void> {
  const reported = findCondition(obj.status?.conditions, READY) !== undefined;
  const status: WorkspaceDatabaseStatus = {
    ...(obj.status ?? {}),
    server,
    database,
    credentials,
    ...(reported
      ? {}
      : {
        observedGeneration: obj.metadata.generation,
        conditions: setReadiness(
          obj.status?.conditions,
          { type: READY, status: "False", reason: Reasons.Provisioning, message: `creating database "${database}" on server "${server}"`, observedGeneration: obj.metadata.generation },
          now,
        ),
      }),
  };
  await writeStatus(deps.kube, obj, status);
}

/**
 * Before a login is given the new password its Secret already has: Reconciling=True (kstatus
 * InProgress) until the pass ends, so a tool waiting on the object after asking for a regeneration
 * waits for it; Ready stays as it is. Written once per regeneration, never by a pass that changes nothing.
 */
async function markRegenerating(deps: WorkspaceDeps, obj: WorkspaceDatabase, outcomes: readonly CredentialOutcome[], now: Date): Promise<void> {
  // A regeneration that keeps failing on something only a person can fix stays Stalled: its retries
  // must not flip the object between Failed and InProgress (the pass that succeeds clears it).
  if (findCondition(obj.status?.conditions, STALLED)?.status === "True") return;
  const logins = outcomes.map((o) => `${o.access === "read-write" ? "read/write" : "read-only"} login "${o.username}"`).join(" and ");
  const secrets = outcomes.map((o) => o.secretName).join(" and ");
  const conditions = setCondition(
    obj.status?.conditions ?? [],
    { type: RECONCILING, status: "True", reason: Reasons.Regenerating, message: `giving the ${logins} the new password of Secret ${secrets}`, observedGeneration: obj.metadata.generation },
    now,
  );
  await writeStatus(deps.kube, obj, { ...(obj.status ?? {}), conditions });
}

/** Status's credentials with these logins' outcomes (a login not given keeps what status says). */
function credentialsStatus(obj: WorkspaceDatabase, ...outcomes: CredentialOutcome[]): WorkspaceDatabaseStatus["credentials"] {
  const credentials = { ...(obj.status?.credentials ?? {}) };
  for (const outcome of outcomes) credentials[outcome.access === "read-write" ? "readWrite" : "readOnly"] = credentialStatus(outcome);
  return credentials;
}

/** A Secret step that failed, with what it threw. */
class StepFailed {
  readonly error: unknown;

  constructor(error: unknown) {
    this.error = error;
  }
}

/** The Secret step of one login, or how it failed (kept, so that the other login's step still counts). */
async function settleCredential(step: () => Promise<CredentialOutcome>): Promise<CredentialOutcome | StepFailed> {
  try {
    return await step();
  } catch (err) {
    return new StepFailed(err);
  }
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
