// SQL text, built in one place: identifier and literal quoting, and every statement the operations issue.
import { isScramVerifier } from "./scram.ts";

/** One statement of a plan, with the database it must run in and a summary that is safe to log. */
export interface SqlStatement {
  /** The SQL text; may contain a SCRAM verifier, never a plaintext password. */
  sql: string;
  /** Database to run in: a workspace database's name, or null for the server's maintenance database. */
  database: string | null;
  /** What it does, in words, without any verifier (for logs and events). */
  summary: string;
}

/** Privileges on a database, as written in GRANT/REVOKE. */
export type DatabasePrivilege = "CONNECT" | "CREATE" | "TEMPORARY";

/** Per-database settings the operator manages whose value is one string. */
export type DatabaseSetting = "statement_timeout" | "idle_in_transaction_session_timeout";

/** Object kinds that ALTER DEFAULT PRIVILEGES covers for the read-only login. */
export type DefaultPrivilegeKind = "TABLES" | "SEQUENCES" | "SCHEMAS";

/** A schema-qualified relation name. */
export interface QualifiedName {
  schema: string;
  name: string;
}

/** Quotes an identifier: double quotes around it, inner double quotes doubled; throws on "" or NUL. */
export function quoteIdent(name: string): string {
  if (name === "") throw new Error("identifier must not be empty");
  if (name.includes("\0")) throw new Error("identifier must not contain NUL");
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quotes a string literal, safe whatever standard_conforming_strings is: '…' with single quotes
 * doubled, or E'…' with backslashes doubled too when the value contains a backslash. Throws on NUL.
 */
export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new Error("literal must not contain NUL");
  const quoted = value.replaceAll("'", "''");
  return value.includes("\\") ? `E'${quoted.replaceAll("\\", "\\\\")}'` : `'${quoted}'`;
}

/** `schema.name`, both quoted. */
export function quoteQualified(object: QualifiedName): string {
  return `${quoteIdent(object.schema)}.${quoteIdent(object.name)}`;
}

function verifierLiteral(verifier: string): string {
  if (!isScramVerifier(verifier)) throw new Error("password must be given as a SCRAM-SHA-256 verifier");
  return quoteLiteral(verifier);
}

function maintenance(sql: string, summary: string): SqlStatement {
  return { sql, database: null, summary };
}

function inDatabase(database: string, sql: string, summary: string): SqlStatement {
  return { sql, database, summary };
}

/**
 * `CREATE DATABASE … TEMPLATE template0` (the connected admin becomes its owner; nothing planted in
 * template1 is copied). Runs outside a transaction.
 */
export function createDatabase(database: string): SqlStatement {
  return maintenance(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE template0`, `create database ${database}`);
}

/** Makes `owner` the owner of `database`. */
export function alterDatabaseOwner(database: string, owner: string): SqlStatement {
  return maintenance(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${quoteIdent(owner)}`, `make ${owner} owner of database ${database}`);
}

/** Sets the database COMMENT (the ownership marker). */
export function commentOnDatabase(database: string, comment: string): SqlStatement {
  return maintenance(`COMMENT ON DATABASE ${quoteIdent(database)} IS ${quoteLiteral(comment)}`, `mark owner of database ${database}`);
}

/** Sets the database's connection limit (-1 = none). */
export function alterDatabaseConnectionLimit(database: string, limit: number): SqlStatement {
  return maintenance(`ALTER DATABASE ${quoteIdent(database)} WITH CONNECTION LIMIT ${connectionLimit(limit)}`, `set connection limit of ${database} to ${limit}`);
}

/** Sets a managed setting (`statement_timeout`, `idle_in_transaction_session_timeout`) on the database. */
export function alterDatabaseSet(database: string, setting: DatabaseSetting, value: string): SqlStatement {
  return maintenance(
    `ALTER DATABASE ${quoteIdent(database)} SET ${setting} = ${quoteLiteral(value)}`,
    `set ${setting} of ${database} to ${value}`,
  );
}

/** Sets the database's `search_path` to the given schemas, in order (`$user` allowed). */
export function alterDatabaseSearchPath(database: string, schemas: readonly string[]): SqlStatement {
  if (schemas.length === 0) throw new Error("no schemas given");
  return maintenance(
    `ALTER DATABASE ${quoteIdent(database)} SET search_path = ${schemas.map(quoteIdent).join(", ")}`,
    `set search_path of ${database} to ${schemas.join(", ")}`,
  );
}

/** Grants database privileges to a role. */
export function grantOnDatabase(database: string, privileges: readonly DatabasePrivilege[], role: string): SqlStatement {
  return maintenance(
    `GRANT ${privilegeList(privileges)} ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)}`,
    `grant ${privileges.join(", ")} on database ${database} to ${role}`,
  );
}

/** Revokes database privileges from a role, or from PUBLIC when `role` is null. `ALL` revokes every one. */
export function revokeOnDatabase(database: string, privileges: readonly DatabasePrivilege[] | "ALL", role: string | null): SqlStatement {
  const list = privileges === "ALL" ? "ALL" : privilegeList(privileges);
  const from = role === null ? "PUBLIC" : quoteIdent(role);
  return maintenance(
    `REVOKE ${list} ON DATABASE ${quoteIdent(database)} FROM ${from}`,
    `revoke ${privileges === "ALL" ? "ALL" : privileges.join(", ")} on database ${database} from ${role ?? "PUBLIC"}`,
  );
}

function privilegeList(privileges: readonly DatabasePrivilege[]): string {
  if (privileges.length === 0) throw new Error("no privileges given");
  return privileges.join(", ");
}

function connectionLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < -1) throw new RangeError("connection limit must be an integer >= -1");
  return limit;
}

/**
 * `CREATE ROLE … WITH LOGIN CONNECTION LIMIT n PASSWORD '<verifier>'` and its ownership marker
 * (`COMMENT ON ROLE`) in one transaction, so that no role of ours ever exists unmarked. Throws unless
 * `verifier` is a SCRAM-SHA-256 verifier.
 */
export function createLoginRole(role: string, verifier: string, limit: number, marker: string): SqlStatement {
  return maintenance(
    // Two statements in one simple query run as one implicit transaction (and leave no open block on error).
    `CREATE ROLE ${quoteIdent(role)} WITH LOGIN CONNECTION LIMIT ${connectionLimit(limit)} PASSWORD ${verifierLiteral(verifier)}; ` +
      `COMMENT ON ROLE ${quoteIdent(role)} IS ${quoteLiteral(marker)}`,
    `create login ${role}`,
  );
}

/** Sets the ownership marker of a role (`COMMENT ON ROLE`). */
export function commentOnRole(role: string, marker: string): SqlStatement {
  return maintenance(`COMMENT ON ROLE ${quoteIdent(role)} IS ${quoteLiteral(marker)}`, `mark owner of role ${role}`);
}

/** Sets a role's own connection limit (-1 = none). */
export function alterRoleConnectionLimit(role: string, limit: number): SqlStatement {
  return maintenance(`ALTER ROLE ${quoteIdent(role)} WITH CONNECTION LIMIT ${connectionLimit(limit)}`, `set connection limit of ${role} to ${limit}`);
}

/** Sets a role's password from a SCRAM-SHA-256 verifier (never a plaintext); throws otherwise. */
export function alterRolePassword(role: string, verifier: string): SqlStatement {
  return maintenance(`ALTER ROLE ${quoteIdent(role)} WITH PASSWORD ${verifierLiteral(verifier)}`, `set password of ${role}`);
}

/** Re-enables a login and sets its password from a SCRAM-SHA-256 verifier in one statement. */
export function enableLogin(role: string, verifier: string): SqlStatement {
  return maintenance(`ALTER ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD ${verifierLiteral(verifier)}`, `enable login ${role}`);
}

/** Disables a login (`NOLOGIN`); its data and privileges stay. */
export function disableLogin(role: string): SqlStatement {
  return maintenance(`ALTER ROLE ${quoteIdent(role)} WITH NOLOGIN`, `disable login ${role}`);
}

/** Makes the role's sessions read-only by default (`default_transaction_read_only = on`). */
export function alterRoleReadOnlyDefault(role: string): SqlStatement {
  return maintenance(`ALTER ROLE ${quoteIdent(role)} SET default_transaction_read_only = on`, `make sessions of ${role} read-only by default`);
}

/** Removes a per-database override of `default_transaction_read_only` for the role. */
export function resetRoleReadOnlyInDatabase(role: string, database: string): SqlStatement {
  return maintenance(
    `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(database)} RESET default_transaction_read_only`,
    `remove override of default_transaction_read_only for ${role} in ${database}`,
  );
}

/**
 * `GRANT role TO member`: membership, so `member` can act for `role`. On 16 and later exactly what the
 * admin needs: `INHERIT TRUE` (the login's privileges: end its sessions, set default privileges for it,
 * grant on what it owns — whatever the admin's own INHERIT attribute) and `SET FALSE` (it never needs
 * to become the login). Before 16 a membership inherits by the member's INHERIT attribute, and a
 * NOINHERIT admin acts with SET ROLE (`asRole`).
 */
export function grantRoleMembership(role: string, member: string, major: number): SqlStatement {
  const options = major >= 16 ? " WITH INHERIT TRUE, SET FALSE" : "";
  return maintenance(`GRANT ${quoteIdent(role)} TO ${quoteIdent(member)}${options}`, `grant membership in ${role} to ${member}`);
}

/**
 * `statement` run as `role` (`SET ROLE` before, `RESET ROLE` after, in one simple query: one implicit
 * transaction, so a failure rolls the SET ROLE back too); `statement` itself when `role` is undefined.
 * Only for statements without parameters that run on a client of their own.
 */
export function asRole(role: string | undefined, statement: SqlStatement): SqlStatement {
  if (role === undefined) return statement;
  return { ...statement, sql: `SET ROLE ${quoteIdent(role)}; ${statement.sql}; RESET ROLE`, summary: `${statement.summary} (as ${role})` };
}

/** `GRANT role TO CURRENT_USER`: the connected admin becomes a member of `role` again (options as grantRoleMembership). */
export function grantRoleToAdmin(role: string, major: number): SqlStatement {
  const options = major >= 16 ? " WITH INHERIT TRUE, SET FALSE" : "";
  return maintenance(`GRANT ${quoteIdent(role)} TO CURRENT_USER${options}`, `grant membership in ${role} to the admin`);
}

/** `DROP DATABASE IF EXISTS … WITH (FORCE)` (PostgreSQL 13+): ends remaining sessions. Runs outside a transaction. */
export function dropDatabase(database: string, force = true): SqlStatement {
  return maintenance(`DROP DATABASE IF EXISTS ${quoteIdent(database)}${force ? " WITH (FORCE)" : ""}`, `drop database ${database}`);
}

/** `DROP OWNED BY`: drops what the role owns in the current database and revokes what it was granted there (and server-wide). */
export function dropOwnedBy(role: string): SqlStatement {
  return maintenance(`DROP OWNED BY ${quoteIdent(role)}`, `drop what ${role} owns or was granted`);
}

/** `DROP ROLE IF EXISTS`. */
export function dropRole(role: string): SqlStatement {
  return maintenance(`DROP ROLE IF EXISTS ${quoteIdent(role)}`, `drop role ${role}`);
}

/** Revokes CREATE on a schema from PUBLIC (runs in the workspace database). */
export function revokeCreateOnSchemaFromPublic(database: string, schema: string): SqlStatement {
  return inDatabase(database, `REVOKE CREATE ON SCHEMA ${quoteIdent(schema)} FROM PUBLIC`, `revoke CREATE on schema ${schema} from PUBLIC in ${database}`);
}

/** Grants ALL (USAGE, CREATE) on a schema to a role (runs in the workspace database). */
export function grantAllOnSchema(database: string, schema: string, role: string): SqlStatement {
  return inDatabase(database, `GRANT ALL ON SCHEMA ${quoteIdent(schema)} TO ${quoteIdent(role)}`, `grant ALL on schema ${schema} to ${role} in ${database}`);
}

/** Grants USAGE on schemas to a role (runs in the workspace database). */
export function grantUsageOnSchemas(database: string, schemas: readonly string[], role: string): SqlStatement {
  if (schemas.length === 0) throw new Error("no schemas given");
  return inDatabase(
    database,
    `GRANT USAGE ON SCHEMA ${schemas.map(quoteIdent).join(", ")} TO ${quoteIdent(role)}`,
    `grant USAGE on ${schemas.length} schema(s) to ${role} in ${database}`,
  );
}

/** Grants SELECT on tables, views, materialized views or foreign tables to a role (workspace database). */
export function grantSelectOnTables(database: string, tables: readonly QualifiedName[], role: string): SqlStatement {
  if (tables.length === 0) throw new Error("no tables given");
  return inDatabase(
    database,
    `GRANT SELECT ON TABLE ${tables.map(quoteQualified).join(", ")} TO ${quoteIdent(role)}`,
    `grant SELECT on ${tables.length} table(s) to ${role} in ${database}`,
  );
}

/** Grants SELECT on sequences to a role (workspace database). */
export function grantSelectOnSequences(database: string, sequences: readonly QualifiedName[], role: string): SqlStatement {
  if (sequences.length === 0) throw new Error("no sequences given");
  return inDatabase(
    database,
    `GRANT SELECT ON SEQUENCE ${sequences.map(quoteQualified).join(", ")} TO ${quoteIdent(role)}`,
    `grant SELECT on ${sequences.length} sequence(s) to ${role} in ${database}`,
  );
}

/**
 * `ALTER DEFAULT PRIVILEGES FOR ROLE <creator> GRANT SELECT ON TABLES|SEQUENCES / USAGE ON SCHEMAS TO <role>`,
 * for the whole workspace database (not limited to a schema).
 */
export function grantDefaultPrivileges(database: string, creator: string, kind: DefaultPrivilegeKind, role: string): SqlStatement {
  const privilege = kind === "SCHEMAS" ? "USAGE" : "SELECT";
  return inDatabase(
    database,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(creator)} GRANT ${privilege} ON ${kind} TO ${quoteIdent(role)}`,
    `grant ${privilege} on future ${kind.toLowerCase()} of ${creator} to ${role} in ${database}`,
  );
}

/** `CREATE SCHEMA` owned by the connected admin (runs in the workspace database). */
export function createSchema(database: string, schema: string): SqlStatement {
  return inDatabase(database, `CREATE SCHEMA ${quoteIdent(schema)}`, `create schema ${schema} in ${database}`);
}

/**
 * `CREATE EXTENSION IF NOT EXISTS … SCHEMA …` in the workspace database, into a schema no workspace
 * login can write: a trusted extension's script runs with superuser rights and must not resolve names
 * a login planted.
 */
export function createExtension(database: string, extension: string, schema: string): SqlStatement {
  return inDatabase(
    database,
    `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(extension)} SCHEMA ${quoteIdent(schema)}`,
    `create extension ${extension} in schema ${schema} of ${database}`,
  );
}
