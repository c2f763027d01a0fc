// Pure planning: the statements that bring one observed workspace to its desired state; [] when in place.
import { PostgresError } from "./errors.ts";
import { formatOwnerMarker, parseOwnerMarker, sameOwner } from "./naming.ts";
import * as sql from "./sql.ts";
import type { DatabasePrivilege, DefaultPrivilegeKind, QualifiedName, SqlStatement } from "./sql.ts";
import type { DefaultPrivilegesState, DesiredWorkspace, InsideState, MissingGrant, RoleState, WorkspaceState } from "./state.ts";

/** Most objects named in one GRANT statement. */
export const GRANT_BATCH_SIZE = 100;

const READ_WRITE_DATABASE_PRIVILEGES: readonly DatabasePrivilege[] = ["CONNECT", "CREATE", "TEMPORARY"];
const DEFAULT_PRIVILEGE_KINDS: readonly { kind: DefaultPrivilegeKind; key: keyof DefaultPrivilegesState }[] = [
  { kind: "TABLES", key: "tables" },
  { kind: "SEQUENCES", key: "sequences" },
  { kind: "SCHEMAS", key: "schemas" },
];

/**
 * Returns, in execution order, the statements that make `state` match `desired`: empty when everything
 * is in place, so a resync of a healthy workspace issues no DDL. When the database is missing or could
 * not be inspected inside, the statements inside it assume a database fresh from the template; inspect
 * and plan again after applying to cover objects that were already there. Throws a PostgresError of kind
 * Conflict when the database's ownership marker names another WorkspaceDatabase.
 */
export function planWorkspace(state: WorkspaceState, desired: DesiredWorkspace): SqlStatement[] {
  const { database, readWrite, readOnly } = desired.names;
  const marker = formatOwnerMarker(desired.owner);
  const out: SqlStatement[] = [];
  const db = state.database;

  if (db === null) {
    out.push(sql.createDatabase(database), sql.commentOnDatabase(database, marker));
  } else {
    const recorded = parseOwnerMarker(db.comment);
    if (recorded !== null && !sameOwner(recorded, desired.owner)) {
      throw new PostgresError("Conflict", `database ${database} belongs to WorkspaceDatabase ${recorded.namespace}/${recorded.name}`);
    }
    if (db.owner !== state.admin) out.push(sql.alterDatabaseOwner(database, state.admin));
    if (db.comment !== marker) out.push(sql.commentOnDatabase(database, marker));
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

  out.push(...planLogin(state.readWrite, readWrite, desired.verifiers.readWrite, state.admin));
  out.push(...planLogin(state.readOnly, readOnly, desired.verifiers.readOnly, state.admin));
  if (!isOn(state.readOnly?.config["default_transaction_read_only"])) out.push(sql.alterRoleReadOnlyDefault(readOnly));
  const override = state.readOnly?.databaseConfig["default_transaction_read_only"];
  if (override !== undefined && !isOn(override)) out.push(sql.resetRoleReadOnlyInDatabase(readOnly, database));

  const rwMissing = READ_WRITE_DATABASE_PRIVILEGES.filter((p) => !(db?.readWritePrivileges.includes(p) ?? false));
  if (rwMissing.length > 0) out.push(sql.grantOnDatabase(database, rwMissing, readWrite));
  if (!(db?.readOnlyPrivileges.includes("CONNECT") ?? false)) out.push(sql.grantOnDatabase(database, ["CONNECT"], readOnly));
  const roExtra = (db?.readOnlyPrivileges ?? []).filter((p) => p !== "CONNECT");
  if (roExtra.length > 0) out.push(sql.revokeOnDatabase(database, roExtra, readOnly));

  out.push(...planInside(state.inside, desired, state.admin));
  return out;
}

function planLogin(role: RoleState | null, name: string, verifier: string, admin: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  if (role === null) out.push(sql.createLoginRole(name, verifier));
  else if (!role.canLogin) out.push(sql.enableLogin(name, verifier));
  if (role === null || !role.adminIsMember) out.push(sql.grantRoleMembership(name, admin));
  return out;
}

function planInside(inside: InsideState | null, desired: DesiredWorkspace, admin: string): SqlStatement[] {
  const { database, readWrite, readOnly } = desired.names;
  const out: SqlStatement[] = [];
  const pub = inside === null ? null : inside.publicSchema;
  if (inside === null || pub?.publicCanCreate === true) out.push(sql.revokeCreateOnSchemaFromPublic(database, "public"));
  if (inside === null || (pub !== null && (!pub.readWriteCanUse || !pub.readWriteCanCreate))) {
    out.push(sql.grantAllOnSchema(database, "public", readWrite));
  }

  for (const [creator, current] of [[readWrite, inside?.defaultPrivileges.readWrite], [admin, inside?.defaultPrivileges.admin]] as const) {
    for (const { kind, key } of DEFAULT_PRIVILEGE_KINDS) {
      if (current?.[key] !== true) out.push(sql.grantDefaultPrivileges(database, creator, kind, readOnly));
    }
  }

  if (inside === null) {
    out.push(sql.grantUsageOnSchemas(database, ["public"], readOnly));
  } else {
    const schemas = inside.schemasWithoutReadOnlyUsage.filter((s) => s.grantable).map((s) => s.name);
    for (const batch of batches(schemas)) out.push(sql.grantUsageOnSchemas(database, batch, readOnly));
    for (const batch of batches(grantable(inside.tablesWithoutReadOnlySelect))) {
      out.push(sql.grantSelectOnTables(database, batch, readOnly));
    }
    for (const batch of batches(grantable(inside.sequencesWithoutReadOnlySelect))) {
      out.push(sql.grantSelectOnSequences(database, batch, readOnly));
    }
  }

  const installed = new Set(inside?.extensions ?? []);
  for (const extension of desired.extensions) {
    if (!installed.has(extension)) out.push(sql.createExtension(database, extension));
  }
  return out;
}

function grantable(missing: readonly MissingGrant[]): QualifiedName[] {
  return missing.filter((m) => m.grantable).map((m) => ({ schema: m.schema, name: m.name }));
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
