// Who owns a workspace's database and roles: the catalog facts (read by shared.ts) and the pure decisions on them.
import { marks, parseMarker, sameWorkspace, type MarkedPart, type Marker, type WorkspaceRef } from "./marker.ts";
import type { WorkspaceNames } from "./state.ts";

/** The database as the claim sees it. */
export interface DatabaseFacts {
  comment: string | null;
  isTemplate: boolean;
  allowConnections: boolean;
  /** It is the server's maintenance database (the one the operator is connected to). */
  isMaintenance: boolean;
  /** Its owner. */
  owner: string;
  /** The admin role has the privileges of the owner (is it, or an inheriting member of it). */
  adminActsAsOwner: boolean;
}

/** A role as the claim sees it: its marker and everything that would make it privileged. */
export interface RoleFacts {
  comment: string | null;
  superuser: boolean;
  createRole: boolean;
  createDb: boolean;
  replication: boolean;
  bypassRls: boolean;
  /** It is the role the operator is connected as. */
  isCurrentUser: boolean;
  /** Roles it is a member of (rds_superuser, pg_read_all_data, another workspace's login, …). */
  memberOf: readonly string[];
  canLogin: boolean;
  /** Roles that are members of it, the admin role left out (they would act with what it is given). */
  members: readonly string[];
  /**
   * Databases other than the workspace's own where it owns something or holds a privilege (from
   * pg_shdepend; "(server-wide)" for another database or tablespace).
   */
  usedElsewhere: readonly string[];
}

/** The database and the two roles of one workspace name; null where absent. */
export interface ClaimFacts {
  database: DatabaseFacts | null;
  readWrite: RoleFacts | null;
  readOnly: RoleFacts | null;
}

/** What the decision needs besides the facts. */
export interface ClaimRequest {
  owner: WorkspaceRef;
  names: WorkspaceNames;
  /** `spec.databaseName` names this database (adoption is never implicit). */
  named: boolean;
  /** The object's Namespace carries the annotation `workspacedb.io/adopt` naming this database. */
  adoptionAllowed: boolean;
  /** Admin roles of every DatabaseServer: never adopted, whatever their attributes. */
  adminRoles: ReadonlySet<string>;
  /** The role the operator is connected as. */
  adminRole: string;
}

/** How the workspace came to be ours. */
export type ClaimHow = "owned" | "adopted" | "migrated";

/**
 * The decision: either every existing part is (or may now become) ours, with the parts that need a
 * marker written now (roles before the database), or a conflict that must leave everything untouched.
 */
export type Claim =
  | { kind: "ours"; how: ClaimHow; mark: MarkedPart[] }
  | { kind: "conflict"; message: string };

/** Annotation on a Namespace, set by the platform team, naming databases its WorkspaceDatabases may adopt. */
export const ADOPT_ANNOTATION = "workspacedb.io/adopt";

/**
 * Why a role that carries no marker may never be adopted, or null when it may: it is some server's
 * admin role, cannot log in (a group role), holds an attribute beyond LOGIN/INHERIT, belongs to a
 * role, has members (other than the admin), or owns or holds anything outside its own database.
 */
export function unadoptableRole(name: string, role: RoleFacts, adminRoles: ReadonlySet<string>): string | null {
  if (role.isCurrentUser || adminRoles.has(name)) return `role "${name}" is the admin role of a DatabaseServer`;
  if (!role.canLogin) return `role "${name}" is not a login (NOLOGIN: a group role)`;
  const attributes = [
    role.superuser && "SUPERUSER",
    role.createRole && "CREATEROLE",
    role.createDb && "CREATEDB",
    role.replication && "REPLICATION",
    role.bypassRls && "BYPASSRLS",
  ].filter((a): a is string => a !== false);
  if (attributes.length > 0) return `role "${name}" has ${attributes.join(", ")}`;
  if (role.memberOf.length > 0) return `role "${name}" is a member of ${role.memberOf.map((r) => `"${r}"`).join(", ")}`;
  if (role.members.length > 0) return `role "${name}" has members (${role.members.map((r) => `"${r}"`).join(", ")})`;
  if (role.usedElsewhere.length > 0) return `role "${name}" owns objects or holds privileges outside its database (in ${role.usedElsewhere.map((d) => `"${d}"`).join(", ")})`;
  return null;
}

const ROLE_PARTS = [
  { part: "read-write", key: "readWrite", name: (n: WorkspaceNames) => n.readWrite },
  { part: "read-only", key: "readOnly", name: (n: WorkspaceNames) => n.readOnly },
] as const;

function describeOwner(marker: Marker): string {
  return `WorkspaceDatabase ${marker.owner.namespace}/${marker.owner.name}`;
}

/**
 * Decides whether a WorkspaceDatabase may use the database and roles its names point at (DESIGN.md,
 * Naming): parts marked for it are its own; parts marked for anyone else, or an unmarked role without
 * a database of its own name, are a conflict; an unmarked database is adopted only when named in the
 * spec, allowed by the Namespace annotation, not a template or the maintenance database, and its
 * unmarked roles pass `unadoptableRole`; a database carrying this object's 0.1 marker has its
 * unmarked roles marked under the same role test (migration). Pure.
 */
export function decideClaim(facts: ClaimFacts, request: ClaimRequest): Claim {
  const { owner, names } = request;
  const conflict = (message: string): Claim => ({ kind: "conflict", message });
  const dbMarker = facts.database === null ? null : parseMarker(facts.database.comment);

  // A part marked for another WorkspaceDatabase (or marked as another part) is never ours.
  for (const { part, key, name } of ROLE_PARTS) {
    const marker = parseMarker(facts[key]?.comment ?? null);
    if (marker !== null && !marks(marker, owner, part)) {
      return conflict(`role "${name(names)}" belongs to ${describeOwner(marker)}; choose another spec.databaseName`);
    }
  }
  if (dbMarker !== null && (!sameWorkspace(dbMarker.owner, owner) || dbMarker.part !== "database")) {
    return conflict(`database "${names.database}" belongs to ${describeOwner(dbMarker)}; choose another spec.databaseName`);
  }

  const unmarkedRoles = ROLE_PARTS.filter(({ key }) => facts[key] !== null && parseMarker(facts[key].comment) === null);
  const rolesOurs = ROLE_PARTS.every(({ key }) => facts[key] === null || parseMarker(facts[key].comment) !== null);
  const roleProblem = (): string | null => {
    for (const { key, name } of unmarkedRoles) {
      const why = unadoptableRole(name(names), facts[key]!, request.adminRoles);
      if (why !== null) return why;
    }
    return null;
  };
  const unmarkedNames = unmarkedRoles.map(({ name }) => `"${name(names)}"`).join(" and ");

  if (facts.database === null) {
    if (!rolesOurs) {
      return conflict(`role ${unmarkedNames} already exists, was not created by workspacedb-operator and has no database of its name; it is never taken over: choose another spec.databaseName`);
    }
    return { kind: "ours", how: "owned", mark: [] };
  }

  if (dbMarker !== null && dbMarker.format === "current") {
    if (!rolesOurs) {
      return conflict(`role ${unmarkedNames} of database "${names.database}" carries no ownership marker (re-created by hand?); it is never taken over: drop or rename it`);
    }
    return { kind: "ours", how: "owned", mark: [] };
  }

  const rolesToMark = unmarkedRoles.map(({ part }) => part);
  if (dbMarker !== null) {
    // Marked by 0.1 for this object: its roles were not marked then.
    const why = roleProblem();
    if (why !== null) return conflict(`${why}; it is never taken over (database "${names.database}" was provisioned by workspacedb-operator 0.1)`);
    return { kind: "ours", how: rolesToMark.length > 0 ? "migrated" : "owned", mark: [...rolesToMark, "database"] };
  }

  // An unmarked database, owned by the admin, next to roles this object created: our own database,
  // created just before a crash prevented its COMMENT (roles are created, with their markers, first).
  const ownRoles = ROLE_PARTS.filter(({ key }) => facts[key] !== null && parseMarker(facts[key].comment) !== null);
  if (ownRoles.some((r) => r.part === "read-write") && rolesOurs && facts.database.owner === request.adminRole) {
    return { kind: "ours", how: "owned", mark: ["database"] };
  }

  // Adoption.
  const db = facts.database;
  if (db.isMaintenance || db.isTemplate || !db.allowConnections || names.database === "template0" || names.database === "template1") {
    const what = db.isMaintenance ? "the server's maintenance database" : db.isTemplate || names.database.startsWith("template") ? "a template database" : "a database that does not allow connections";
    return conflict(`database "${names.database}" is ${what}; it is never adopted`);
  }
  if (!request.named) {
    return conflict(`database "${names.database}" already exists and is not managed by workspacedb-operator; to adopt it, set spec.databaseName: ${names.database} and have the platform team annotate namespace ${owner.namespace} with ${ADOPT_ANNOTATION}: ${names.database}`);
  }
  if (!request.adoptionAllowed) {
    return conflict(`database "${names.database}" already exists and is not managed by workspacedb-operator; adopting it needs the annotation ${ADOPT_ANNOTATION}: ${names.database} on namespace ${owner.namespace} (set by the platform team)`);
  }
  const why = roleProblem();
  if (why !== null) return conflict(`${why}; only plain logins (no attribute beyond LOGIN/INHERIT, no membership either way, nothing outside their database) are adopted`);
  if (!db.adminActsAsOwner && db.owner !== names.readWrite && db.owner !== names.readOnly) {
    return conflict(`database "${names.database}" is owned by role "${db.owner}", which is neither one of its logins nor a role the admin acts as; a superuser runs once ALTER DATABASE "${names.database}" OWNER TO "${request.adminRole}" to allow adopting it`);
  }
  return { kind: "ours", how: "adopted", mark: [...rolesToMark, "database"] };
}

/**
 * The parts that markers prove belong to `owner`, for deletion: current markers naming it; the
 * database of its 0.1 marker and that database's unmarked roles that pass the role test; an unmarked
 * database owned by the admin next to its own marked read/write login (see decideClaim). Pure.
 */
export function ownedParts(facts: ClaimFacts, owner: WorkspaceRef, adminRoles: ReadonlySet<string>, names: WorkspaceNames, adminRole: string): Set<MarkedPart> {
  const out = new Set<MarkedPart>();
  const dbMarker = facts.database === null ? null : parseMarker(facts.database.comment);
  const legacy = dbMarker !== null && dbMarker.format === "0.1" && sameWorkspace(dbMarker.owner, owner);
  for (const { part, key, name } of ROLE_PARTS) {
    const role = facts[key];
    if (role === null) continue;
    const marker = parseMarker(role.comment);
    if (marks(marker, owner, part)) out.add(part);
    else if (marker === null && legacy && unadoptableRole(name(names), role, adminRoles) === null) out.add(part);
  }
  if (facts.database !== null) {
    if (marks(dbMarker, owner, "database") || legacy) out.add("database");
    else if (dbMarker === null && facts.database.owner === adminRole && marks(parseMarker(facts.readWrite?.comment ?? null), owner, "read-write")) out.add("database");
  }
  return out;
}
