// Passwords: regeneration applied first and from the maintenance database, then drift checked by a SCRAM-only login.
import { recordsToken, regenerateTokenRecord } from "../api/regenerate.ts";
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

/** Everything the password decision of one login looks at. */
export interface PasswordFacts {
  /** Regenerate annotations on the object: this login's own one, and the one for both. */
  requested: { own?: string | undefined; all?: string | undefined };
  /** The login's Secret as it is, or undefined when it does not exist. */
  secret: {
    /** Its password; undefined or empty when the key is missing. */
    password?: string | undefined;
    /** When its password last changed (annotation). */
    changedAt?: string | undefined;
    /** Regenerate values already handled: own, both, and the last one (status reports it). */
    handled: { own?: string | undefined; all?: string | undefined; last?: string | undefined };
  } | undefined;
  /** When status says the role last got a password; undefined before the first provisioning. */
  roleChangedAt: string | undefined;
  /** Now, as the Secret's and status's timestamps write it. */
  now: string;
}

/** What the Secret of one login must hold, and whether its role must be given that password first. */
export interface PasswordDecision {
  /** Keep the Secret's password, or a new one: asked for by an annotation, or the Secret (key) is missing. */
  password: "keep" | "regenerate" | "missing";
  /** When the Secret's password changed (now for a new one, or the next second not yet used). */
  changedAt: string;
  /**
   * Regenerate values handled once the Secret is written (an absent annotation keeps its old value),
   * as regenerateTokenRecord() records them: a long value as its digest.
   */
  handled: { own: string | undefined; all: string | undefined; last: string | undefined };
  /**
   * The role (if it exists) must be given the Secret's password before anything else: a regeneration,
   * a Secret re-created after provisioning, or a new password an earlier pass wrote but did not give
   * to the role (status still records the previous change). Never on the first provisioning.
   */
  rotate: boolean;
}

/**
 * `now`, or the first second after it that is none of `taken`: a new password's timestamp always
 * differs from the role's and the old Secret's, so that after a crash `rotate` is decided exactly
 * (timestamps have a resolution of one second).
 */
function distinctFrom(now: string, taken: readonly (string | undefined)[]): string {
  let at = now;
  while (taken.includes(at)) {
    const next = Date.parse(at) + 1000;
    if (Number.isNaN(next)) return at;
    at = new Date(next).toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  return at;
}

/**
 * The whole password decision of one login, pure: a regenerate value not handled before gives a new
 * password (a value removed and set again is not new); a missing Secret or password gives a new one;
 * otherwise the Secret's password stays. A new password is written to the Secret before any role is
 * touched, so `rotate` can be decided again after a crash from what the Secret and status say.
 */
export function decidePassword(facts: PasswordFacts): PasswordDecision {
  const { requested, secret, roleChangedAt, now } = facts;
  const handled = secret?.handled ?? {};
  const ownNew = requested.own !== undefined && !recordsToken(handled.own, requested.own);
  const allNew = requested.all !== undefined && !recordsToken(handled.all, requested.all);
  const missing = secret === undefined || !secret.password;
  if (missing || ownNew || allNew) {
    const record = (value: string | undefined) => (value === undefined ? undefined : regenerateTokenRecord(value));
    // Status reports the value that asked for it (own annotation first), else whichever is set.
    const last = record(ownNew ? requested.own : allNew ? requested.all : (requested.own ?? requested.all));
    return {
      password: missing ? "missing" : "regenerate",
      changedAt: distinctFrom(now, [roleChangedAt, secret?.changedAt]),
      handled: { own: record(requested.own) ?? handled.own, all: record(requested.all) ?? handled.all, last },
      rotate: !missing || roleChangedAt !== undefined,
    };
  }
  const changedAt = secret.changedAt ?? now;
  return {
    password: "keep",
    changedAt,
    handled: { own: handled.own, all: handled.all, last: handled.last ?? handled.own },
    // passwordChangedAt has a resolution of one second: compared for equality only.
    rotate: roleChangedAt !== undefined && roleChangedAt !== changedAt,
  };
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
  const why = outcome.change === "missing" ? `Secret ${outcome.secretName} was re-created` : "regeneration requested";
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
      deps.onDrift?.("password");
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
