// Passwords: regeneration applied first and from the maintenance database, then drift checked by a SCRAM-only login.
import type { WorkspaceDatabase } from "../api/types.ts";
import { Reasons } from "./conditions.ts";
import type { WorkspaceDeps } from "./context.ts";
import type { CredentialOutcome } from "./credentials.ts";
import { ReconcileFailure } from "./failure.ts";
import type { Log, ServerSql } from "./ports.ts";

/** How long a server that asks for an insecure password method waits before the next look. */
const INSECURE_RETRY_MS = 300_000;

function label(outcome: CredentialOutcome): string {
  return outcome.access === "read-write" ? "read/write" : "read-only";
}

/**
 * True when the Secret holds a password that the role has not been given yet: this pass regenerated
 * or re-created it, or an earlier pass wrote it to the Secret but did not finish (status still records
 * the previous change). False on the first provisioning, where the role is created with it.
 */
export function pendingChange(obj: WorkspaceDatabase, outcome: CredentialOutcome): boolean {
  const key = outcome.access === "read-write" ? "readWrite" : "readOnly";
  const previous = obj.status?.credentials?.[key]?.passwordChangedAt;
  // passwordChangedAt has a resolution of one second: this pass's own change counts even if equal.
  return outcome.regenerated || (previous !== undefined && (outcome.recreated || previous !== outcome.passwordChangedAt));
}

/**
 * Gives an existing role the new password of its Secret and ends the sessions opened with the old one,
 * from the maintenance database only: nothing a tenant controls (a full connection limit in the
 * workspace database, a failing extension) can delay it. Returns true when it did.
 */
export async function rotate(deps: WorkspaceDeps, sql: ServerSql, obj: WorkspaceDatabase, outcome: CredentialOutcome, log: Log): Promise<void> {
  await sql.setPassword(outcome.username, await deps.verifier(outcome.password));
  if (obj.spec.rotation?.terminateSessions !== false) {
    const ended = await sql.terminateSessions(outcome.username);
    if (ended > 0) log.info("terminated sessions opened with the old password", { access: outcome.access, sessions: ended });
  }
  const why = outcome.recreated ? `Secret ${outcome.secretName} was re-created` : "regeneration requested";
  log.info("password regenerated", { access: outcome.access });
  deps.kube.recordEvent(obj, "Normal", "PasswordRegenerated", `${label(outcome)} password regenerated (${why}); the old password no longer works`);
}

/**
 * Checks that the role still accepts its Secret's password by logging in with SCRAM-SHA-256 only, and
 * resets it from the Secret when the server says the password is wrong (28P01). A login refused after
 * authentication (connection limit reached, no CONNECT, NOLOGIN) proves the password right; a refusal
 * before authentication (pg_hba, server full) proves nothing and changes nothing. A server that asks for
 * a cleartext or MD5 password gets none: ReconcileFailure InsecureAuthentication. `beforeWrite` runs
 * before a password is reset.
 */
export async function verifyLogin(deps: WorkspaceDeps, sql: ServerSql, obj: WorkspaceDatabase, database: string, outcome: CredentialOutcome, log: Log, beforeWrite: () => Promise<void> = async () => undefined): Promise<void> {
  const result = await sql.probeLogin(database, outcome.username, outcome.password);
  switch (result.kind) {
    case "accepted":
    case "refusedAfterAuthentication":
      return;
    case "inconclusive":
      log.info("login check proved nothing (refused before authentication); password left as it is", { access: outcome.access, code: result.code, reason: result.message });
      return;
    case "wrongPassword":
      // Ownership may have been judged from a snapshot: it is decided on a fresh read before writing.
      await beforeWrite();
      await sql.setPassword(outcome.username, await deps.verifier(outcome.password));
      log.info("password of role did not match its Secret; reset from the Secret", { access: outcome.access });
      deps.kube.recordEvent(obj, "Normal", "PasswordReset", `the ${label(outcome)} login's password did not match Secret ${outcome.secretName}; set it from the Secret`);
      return;
    case "insecure":
      throw new ReconcileFailure(
        Reasons.InsecureAuthentication,
        `the server asked for the ${label(outcome)} login's password with the ${result.method} method; workspace passwords are only ever proven with SCRAM-SHA-256, so none was sent: make pg_hba.conf use scram-sha-256 for "${outcome.username}"`,
        { kind: "after", ms: INSECURE_RETRY_MS },
      );
  }
}
