// Deleting what a workspace owns: its database (never while a session the admin cannot end is in it) and its logins.
import { PostgresError } from "./errors.ts";
import type { ServerAccess } from "./queryable.ts";
import * as sql from "./sql.ts";

/** A session in a database that the admin role may not terminate (a superuser's, a DBA's, a monitoring agent's). */
export interface ForeignSession {
  pid: number;
  user: string;
  application: string;
}

const BLOCKERS_QUERY = `
SELECT a.pid, coalesce(a.usename::text, '') AS "user", coalesce(a.application_name, '') AS application
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
-- Other roles' sessions show no backend_type to a non-superuser; background workers have no role.
WHERE a.datname = $1 AND a.pid <> pg_backend_pid() AND a.usesysid IS NOT NULL AND coalesce(a.backend_type, 'client backend') = 'client backend'
  AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
  AND (coalesce(r.rolsuper, true)
       OR NOT (pg_has_role(current_user, r.oid, 'USAGE') OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE')))
ORDER BY a.pid`;

/** Sessions in `database` that `DROP DATABASE … WITH (FORCE)` run as the admin could not end. */
export async function foreignSessions(server: ServerAccess, database: string): Promise<ForeignSession[]> {
  return server.query<ForeignSession>(`listing sessions in database ${database}`, BLOCKERS_QUERY, [database]);
}

function blockedMessage(database: string, sessions: readonly ForeignSession[]): string {
  const shown = sessions.slice(0, 5).map((s) => `${s.user || "unknown role"} (pid ${s.pid}${s.application ? `, application "${s.application}"` : ""})`);
  const more = sessions.length > shown.length ? ` and ${sessions.length - shown.length} more` : "";
  return (
    `database "${database}" cannot be dropped while sessions the admin role may not end are connected: ${shown.join(", ")}${more}; ` +
    `they must disconnect (a superuser can end them: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.replaceAll("'", "''")}')`
  );
}

/**
 * `DROP DATABASE IF EXISTS … WITH (FORCE)`, after checking that every session in it is one the admin
 * may end. Throws a PostgresError with code 55006 (object in use) naming the other sessions otherwise,
 * so the caller can report who is connected and retry later.
 */
export async function dropDatabase(server: ServerAccess, database: string): Promise<void> {
  const blockers = await foreignSessions(server, database);
  if (blockers.length > 0) throw new PostgresError("Transient", blockedMessage(database, blockers), { code: "55006" });
  const statement = sql.dropDatabase(database);
  try {
    await server.query(statement.summary, statement.sql);
  } catch (err) {
    if (!(err instanceof PostgresError && err.kind === "PermissionDenied")) throw err;
    // A session that arrived between the check and the drop.
    const late = await foreignSessions(server, database);
    if (late.length > 0) throw new PostgresError("Transient", blockedMessage(database, late), { code: "55006", cause: err });
    // No session of anyone else: an autovacuum worker, which WITH (FORCE) may not signal as a
    // non-superuser. A plain DROP DATABASE cancels autovacuum itself (waiting up to 5 s) and refuses,
    // rather than ending them, if a client connected meanwhile.
    const plain = sql.dropDatabase(database, false);
    try {
      await server.query(plain.summary, plain.sql);
    } catch (retryErr) {
      if (retryErr instanceof PostgresError && retryErr.code === "55006") {
        throw new PostgresError("Transient", `database "${database}" is in use by a session that connected while it was being dropped; retrying`, { code: "55006", cause: retryErr });
      }
      throw retryErr;
    }
  }
}

const DEPENDENT_DATABASES_QUERY = `
WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
SELECT DISTINCT d.datname AS database, current_database() AS maintenance,
       NOT pg_has_role(current_user, r.oid, 'USAGE') AND current_setting('server_version_num')::int < 160000
         AND pg_has_role(current_user, r.oid, 'MEMBER') AS set_role
FROM r, pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = r.oid`;

/**
 * Drops a role (absent is fine). What others granted it elsewhere (another tenant can grant a login
 * privileges in its own database, to block this DROP ROLE) and whatever it made outside its own
 * database (a large object in the maintenance database) would make DROP ROLE fail with 2BP01: first
 * `DROP OWNED BY` it in every database where pg_shdepend shows something (the maintenance database for
 * server-wide grants). Only ever called for a role proven to be the workspace's own.
 */
export async function dropRole(server: ServerAccess, role: string): Promise<void> {
  const rows = await server.query<{ database: string | null; set_role: boolean; maintenance: string }>(`listing what depends on role ${role}`, DEPENDENT_DATABASES_QUERY, [role]);
  // DROP OWNED BY needs the role's privileges: a NOINHERIT admin before 16 acts as the role.
  const dropOwned = sql.asRole(rows[0]?.set_role === true ? role : undefined, sql.dropOwnedBy(role));
  for (const { database, maintenance } of rows) {
    await server.withDatabase(database ?? maintenance, (db) => db.query(dropOwned.sql));
  }
  const statement = sql.dropRole(role);
  await server.query(statement.summary, statement.sql);
}
