// Pure planning: the statements that bring one observed workspace to its desired state; [] when in place.
import { PostgresError } from "./errors.ts";
import { formatMarker, marks, parseMarker, type MarkedPart } from "./marker.ts";
import * as sql from "./sql.ts";
import type { DatabasePrivilege, DefaultPrivilegeKind, QualifiedName, SqlStatement } from "./sql.ts";
import { EXTENSIONS_SCHEMA } from "./state.ts";
import type { DefaultPrivilegesState, DesiredWorkspace, InsideState, MissingGrant, RoleState, WorkspaceState } from "./state.ts";

/** Most objects named in one GRANT statement. */
export const GRANT_BATCH_SIZE = 100;

/** The database's search_path once extensions are requested: their schema comes last. */
export const SEARCH_PATH_WITH_EXTENSIONS = ["$user", "public", EXTENSIONS_SCHEMA] as const;

const READ_WRITE_DATABASE_PRIVILEGES: readonly DatabasePrivilege[] = ["CONNECT", "CREATE", "TEMPORARY"];
const DEFAULT_PRIVILEGE_KINDS: readonly { kind: DefaultPrivilegeKind; key: keyof DefaultPrivilegesState }[] = [
  { kind: "TABLES", key: "tables" },
  { kind: "SEQUENCES", key: "sequences" },
  { kind: "SCHEMAS", key: "schemas" },
];

/**
 * Returns, in execution order, the statements that make `state` match `desired`: empty when everything
 * is in place, so a resync of a healthy workspace issues no DDL. Logins are created before the database
 * (each with its ownership marker in the same transaction), so an unmarked database next to our marked
 * login can only be ours. When the database is missing or could not be inspected inside, the statements
 * inside it assume a database fresh from template0; inspect and plan again after applying to cover
 * objects that were already there. Throws a PostgresError of kind Conflict when a database or role
 * carries no marker of this workspace (the claim step marks what may be ours before planning), or when
 * the extensions schema can be written by someone else.
 */
export function planWorkspace(state: WorkspaceState, desired: DesiredWorkspace): SqlStatement[] {
  const { database, readWrite, readOnly } = desired.names;
  const out: SqlStatement[] = [];
  const db = state.database;

  out.push(...planLogin(state.readWrite, readWrite, "read-write", desired.verifiers.readWrite, desired, state.admin, state.major));
  out.push(...planLogin(state.readOnly, readOnly, "read-only", desired.verifiers.readOnly, desired, state.admin, state.major));
  if (!isOn(state.readOnly?.config["default_transaction_read_only"])) out.push(sql.alterRoleReadOnlyDefault(readOnly));
  const override = state.readOnly?.databaseConfig["default_transaction_read_only"];
  if (override !== undefined && !isOn(override)) out.push(sql.resetRoleReadOnlyInDatabase(readOnly, database));

  const marker = formatMarker(desired.owner, "database");
  if (db === null) {
    out.push(sql.createDatabase(database), sql.commentOnDatabase(database, marker));
  } else {
    if (!marks(parseMarker(db.comment), desired.owner, "database")) {
      throw new PostgresError("Conflict", `database ${database} does not carry the ownership marker of WorkspaceDatabase ${desired.owner.namespace}/${desired.owner.name}`);
    }
    if (db.owner !== state.admin) out.push(sql.alterDatabaseOwner(database, state.admin));
  }
  if (db === null || db.publicPrivileges.length > 0) out.push(sql.revokeOnDatabase(database, "ALL", null));
  if (db?.connectionLimit !== desired.connectionLimit) {
    out.push(sql.alterDatabaseConnectionLimit(database, desired.connectionLimit));
  }
  if (db?.settings["statement_timeout"] !== desired.statementTimeout) {
    out.push(sql.alterDatabaseSet(database, "statement_timeout", desired.statementTimeout));
  }
  if (db?.settings["idle_in_transaction_session_timeout"] !== desired.idleInTransactionSessionTimeout) {
    out.push(sql.alterDatabaseSet(database, "idle_in_transaction_session_timeout", desired.idleInTransactionSessionTimeout));
  }
  if (desired.extensions.length > 0 && !sameSearchPath(db?.settings["search_path"], SEARCH_PATH_WITH_EXTENSIONS)) {
    out.push(sql.alterDatabaseSearchPath(database, SEARCH_PATH_WITH_EXTENSIONS));
  }

  const rwMissing = READ_WRITE_DATABASE_PRIVILEGES.filter((p) => !(db?.readWritePrivileges.includes(p) ?? false));
  if (rwMissing.length > 0) out.push(sql.grantOnDatabase(database, rwMissing, readWrite));
  if (!(db?.readOnlyPrivileges.includes("CONNECT") ?? false)) out.push(sql.grantOnDatabase(database, ["CONNECT"], readOnly));
  const roExtra = (db?.readOnlyPrivileges ?? []).filter((p) => p !== "CONNECT");
  if (roExtra.length > 0) out.push(sql.revokeOnDatabase(database, roExtra, readOnly));

  out.push(...planInside(state.inside, desired, state.admin, state.readWrite !== null, state.major));
  return out;
}

function planLogin(role: RoleState | null, name: string, part: MarkedPart, verifier: () => string, desired: DesiredWorkspace, admin: string, major: number): SqlStatement[] {
  const out: SqlStatement[] = [];
  if (role === null) {
    out.push(sql.createLoginRole(name, verifier(), desired.connectionLimit, formatMarker(desired.owner, part)));
  } else {
    if (!marks(parseMarker(role.comment), desired.owner, part)) {
      throw new PostgresError("Conflict", `role ${name} does not carry the ownership marker of WorkspaceDatabase ${desired.owner.namespace}/${desired.owner.name}`);
    }
    if (!role.canLogin) out.push(sql.enableLogin(name, verifier()));
    if (role.connectionLimit !== desired.connectionLimit) out.push(sql.alterRoleConnectionLimit(name, desired.connectionLimit));
  }
  if (role === null || !role.adminIsMember) out.push(sql.grantRoleMembership(name, admin, major));
  return out;
}

function planInside(inside: InsideState | null, desired: DesiredWorkspace, admin: string, readWriteExists: boolean, major: number): SqlStatement[] {
  const { database, readWrite, readOnly } = desired.names;
  const out: SqlStatement[] = [];
  const pub = inside === null ? null : inside.publicSchema;
  if (inside === null) {
    // A new database (from template0): before 16 public belongs to pg_database_owner (15) or the bootstrap
    // superuser (14), and a NOINHERIT admin, its owner, has pg_database_owner's privileges only through SET ROLE.
    // On 14 both statements only warn (nothing granted or revoked): public stays open to PUBLIC, which
    // later passes judge from the ACL without retrying, and status.hardening reports ("public-schema").
    const as = major < 16 ? "pg_database_owner" : undefined;
    out.push(sql.asRole(as, sql.revokeCreateOnSchemaFromPublic(database, "public")), sql.asRole(as, sql.grantAllOnSchema(database, "public", readWrite)));
  } else if (pub !== null && pub.adminControls) {
    const as = pub.actAs ?? undefined;
    if (pub.publicCanCreate) out.push(sql.asRole(as, sql.revokeCreateOnSchemaFromPublic(database, "public")));
    if (!pub.readWriteGranted) out.push(sql.asRole(as, sql.grantAllOnSchema(database, "public", readWrite)));
  } else if (pub !== null && readWriteExists && !(pub.readWriteCanUse && pub.readWriteCanCreate)) {
    // On 14 the bootstrap superuser owns public: PUBLIC keeps CREATE there (status.hardening says how
    // a superuser hands it to pg_database_owner), judged from the ACL rather than retried. A login
    // created by this plan has no privileges to judge yet: the next pass looks again.
    throw new PostgresError(
      "PermissionDenied",
      `the read/write login may not create in schema public of ${database}, whose owner the admin is not a member of; ` +
        `a superuser runs once, in that database: ALTER SCHEMA public OWNER TO pg_database_owner`,
    );
  }

  for (const [creator, current] of [[readWrite, inside?.defaultPrivileges.readWrite], [admin, inside?.defaultPrivileges.admin]] as const) {
    for (const { kind, key } of DEFAULT_PRIVILEGE_KINDS) {
      if (current?.[key] !== true) out.push(sql.grantDefaultPrivileges(database, creator, kind, readOnly));
    }
  }

  if (inside === null) {
    out.push(sql.grantUsageOnSchemas(database, ["public"], readOnly));
  } else {
    // Grouped by the role to act as (none: the admin's own privileges), in the order first seen.
    for (const [as, missing] of byActor(inside.schemasWithoutReadOnlyUsage)) {
      for (const batch of batches(missing.map((m) => m.name))) out.push(sql.asRole(as, sql.grantUsageOnSchemas(database, batch, readOnly)));
    }
    for (const [as, missing] of byActor(inside.tablesWithoutReadOnlySelect)) {
      for (const batch of batches(missing.map(qualified))) out.push(sql.asRole(as, sql.grantSelectOnTables(database, batch, readOnly)));
    }
    for (const [as, missing] of byActor(inside.sequencesWithoutReadOnlySelect)) {
      for (const batch of batches(missing.map(qualified))) out.push(sql.asRole(as, sql.grantSelectOnSequences(database, batch, readOnly)));
    }
  }

  out.push(...planExtensions(inside, desired, admin));
  return out;
}

/** The extensions schema (created by the admin, USAGE for both logins) and the missing extensions. */
function planExtensions(inside: InsideState | null, desired: DesiredWorkspace, admin: string): SqlStatement[] {
  if (desired.extensions.length === 0) return [];
  const { database, readWrite, readOnly } = desired.names;
  const out: SqlStatement[] = [];
  const schema = inside?.extensionsSchema ?? null;
  if (schema === null) {
    out.push(sql.createSchema(database, EXTENSIONS_SCHEMA), sql.grantUsageOnSchemas(database, [EXTENSIONS_SCHEMA], readWrite));
    // The read-only login gets USAGE on every schema through the generic grants on the next inspection.
    out.push(sql.grantUsageOnSchemas(database, [EXTENSIONS_SCHEMA], readOnly));
  } else {
    if (schema.owner !== admin || schema.othersCanCreate) {
      const why = schema.owner !== admin ? `is owned by ${schema.owner}` : "lets another role create objects in it";
      throw new PostgresError(
        "Conflict",
        `schema ${EXTENSIONS_SCHEMA} in database ${database} ${why}; extensions are only created in a schema no workspace login can write: drop or rename that schema`,
      );
    }
    if (!schema.readWriteCanUse) out.push(sql.grantUsageOnSchemas(database, [EXTENSIONS_SCHEMA], readWrite));
  }
  const installed = new Set((inside?.extensions ?? []).map((e) => e.name));
  for (const extension of desired.extensions) {
    if (!installed.has(extension)) out.push(sql.createExtension(database, extension, EXTENSIONS_SCHEMA));
  }
  return out;
}

/** Requested extensions installed in a schema other than the extensions schema (left there, reported). */
export function misplacedExtensions(inside: InsideState | null, desired: DesiredWorkspace): { name: string; schema: string }[] {
  const wanted = new Set(desired.extensions);
  return (inside?.extensions ?? []).filter((e) => wanted.has(e.name) && e.schema !== EXTENSIONS_SCHEMA);
}

function sameSearchPath(stored: string | undefined, want: readonly string[]): boolean {
  if (stored === undefined) return false;
  const parts = stored.split(",").map((p) => p.trim().replace(/^"(.*)"$/, "$1"));
  return parts.length === want.length && parts.every((p, i) => p === want[i]);
}

/** The grantable entries of `missing`, grouped by the role to act as (undefined: the admin itself). */
function byActor(missing: readonly MissingGrant[]): Map<string | undefined, MissingGrant[]> {
  const out = new Map<string | undefined, MissingGrant[]>();
  for (const m of missing) {
    if (!m.grantable) continue;
    const group = out.get(m.actAs);
    if (group === undefined) out.set(m.actAs, [m]);
    else group.push(m);
  }
  return out;
}

function qualified(m: MissingGrant): QualifiedName {
  return { schema: m.schema, name: m.name };
}

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += GRANT_BATCH_SIZE) out.push(items.slice(i, i + GRANT_BATCH_SIZE));
  return out;
}

/** True for the spellings PostgreSQL accepts as boolean on. */
function isOn(value: string | undefined): boolean {
  return value !== undefined && ["on", "true", "yes", "1", "t", "y"].includes(value.toLowerCase());
}
