// The ownership step of a pass: decide from the markers whether the names are ours, adopt or migrate, else Conflict.
import { ANNOTATION_ADOPT, type DatabaseServer, type WorkspaceDatabase } from "../api/types.ts";
import { decideClaim, ownedParts, type ClaimHow } from "../postgres/claim.ts";
import { PostgresError } from "../postgres/errors.ts";
import { parseMarker } from "../postgres/marker.ts";
import { Reasons } from "./conditions.ts";
import { workspaceRef, type WorkspaceDeps } from "./context.ts";
import { ReconcileFailure } from "./failure.ts";
import type { Log, MarkedPart, ServerSql, SharedRead, WorkspaceNames } from "./ports.ts";

/** How long a Conflict waits before the next look (a person has to act; edits of the object come sooner). */
const CONFLICT_RETRY_MS = 120_000;

/** The databases a Namespace's annotation allows its WorkspaceDatabases to adopt. */
export function adoptableDatabases(annotations: Readonly<Record<string, string>>): Set<string> {
  return new Set((annotations[ANNOTATION_ADOPT] ?? "").split(/[\s,]+/).filter((d) => d !== ""));
}

/** How a workspace is ours, the shared facts that decided it, and whether markers were written since. */
export interface Claimed {
  how: ClaimHow;
  shared: SharedRead;
  marked: boolean;
}

/**
 * Decides whether `obj` may use `names` on `server` and writes the markers that makes it so (roles
 * before the database). Nothing is written on a conflict: the ReconcileFailure (Conflict) thrown names
 * who owns what, or what the platform team must do to allow an adoption. With `allowSnapshot` the
 * facts may come from the server's snapshot; markers are only ever written after a fresh read. Events
 * say when it was adopted or migrated from 0.1.
 */
export async function claimWorkspace(deps: WorkspaceDeps, sql: ServerSql, server: DatabaseServer, obj: WorkspaceDatabase, names: WorkspaceNames, log: Log, allowSnapshot = false): Promise<Claimed> {
  const owner = workspaceRef(obj);
  const shared = await sql.sharedFacts(names, allowSnapshot);
  const facts = shared.facts.claim;
  const named = obj.spec.databaseName === names.database;
  // Only an unmarked database (or one marked by 0.1) needs the Namespace and the admin roles: read them only then.
  const dbMarker = facts.database === null ? undefined : parseMarker(facts.database.comment);
  const unmarked = dbMarker === null;
  const needsAdoptionFacts = unmarked || dbMarker?.format === "0.1";
  const adoptionAllowed = named && unmarked
    ? adoptableDatabases((await deps.kube.getNamespace(owner.namespace))?.annotations ?? {}).has(names.database)
    : false;
  const adminRoles = needsAdoptionFacts ? await deps.servers.adminRoles() : new Set<string>();
  const claim = decideClaim(facts, { owner, names, named, adoptionAllowed, adminRoles, adminRole: sql.adminRole });
  if (claim.kind === "conflict") {
    throw new ReconcileFailure(Reasons.Conflict, `${claim.message}; nothing was changed`, { kind: "after", ms: CONFLICT_RETRY_MS });
  }
  if (claim.mark.length > 0 && !shared.fresh) return claimWorkspace(deps, sql, server, obj, names, log, false);
  if (claim.mark.length > 0) {
    await markParts(sql, owner, names, claim.mark, server);
    log.info("wrote ownership markers", { parts: claim.mark, how: claim.how });
  }
  if (claim.how === "adopted") {
    deps.kube.recordEvent(obj, "Normal", "Adopted", `adopted existing database "${names.database}" on server "${server.metadata.name}"; its data was left as it was`);
  } else if (claim.how === "migrated") {
    deps.kube.recordEvent(obj, "Normal", "Migrated", `marked logins "${names.readWrite}" and "${names.readOnly}" of database "${names.database}" (provisioned by 0.1) as owned by this object; no password changed`);
  }
  return { how: claim.how, shared, marked: claim.mark.length > 0 };
}

/** The parts of `names` that exist, and those of them that markers prove belong to `obj` (for deletion). */
export async function provenOwned(deps: WorkspaceDeps, sql: ServerSql, obj: WorkspaceDatabase, names: WorkspaceNames): Promise<{ owned: Set<MarkedPart>; present: Set<MarkedPart> }> {
  const facts = await sql.claimFacts(names);
  const legacy = facts.database !== null && parseMarker(facts.database.comment)?.format === "0.1";
  const present = new Set<MarkedPart>([
    ...(facts.database !== null ? (["database"] as const) : []),
    ...(facts.readWrite !== null ? (["read-write"] as const) : []),
    ...(facts.readOnly !== null ? (["read-only"] as const) : []),
  ]);
  return { owned: ownedParts(facts, workspaceRef(obj), legacy ? await deps.servers.adminRoles() : new Set(), names, sql.adminRole), present };
}

async function markParts(sql: ServerSql, owner: { namespace: string; name: string }, names: WorkspaceNames, parts: readonly MarkedPart[], server: DatabaseServer): Promise<void> {
  try {
    await sql.mark(owner, names, parts);
  } catch (err) {
    if (err instanceof PostgresError && err.kind === "PermissionDenied") {
      const roles = parts.filter((p) => p !== "database").map((p) => `"${p === "read-write" ? names.readWrite : names.readOnly}"`);
      const fix = roles.length > 0
        ? `; on PostgreSQL 16 and later a superuser must run once: GRANT ${roles.join(", ")} TO "${sql.adminRole}" WITH ADMIN OPTION, INHERIT TRUE`
        : `; the database belongs to a role the admin is not a member of: a superuser runs once ALTER DATABASE "${names.database}" OWNER TO "${sql.adminRole}"`;
      throw new ReconcileFailure(
        Reasons.PermissionDenied,
        `the admin role of DatabaseServer "${server.metadata.name}" may not mark ${parts.join(", ")} of "${names.database}" as owned (${err.message})${fix}`,
        { kind: "after", ms: 60_000 },
        { cause: err },
      );
    }
    throw err;
  }
}
