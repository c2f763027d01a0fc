// Operations on login roles from the maintenance database: set a password from a verifier, end sessions, disable a login.
import { PostgresError } from "./errors.ts";
import * as sql from "./sql.ts";
import type { ServerAccess } from "./queryable.ts";

/** How long terminateSessions waits for terminated backends to go away. */
export const TERMINATE_WAIT_MS = 5_000;

/** Sets `role`'s password with `ALTER ROLE … PASSWORD '<verifier>'`; throws unless `verifier` is a SCRAM verifier. */
export async function setPassword(server: ServerAccess, role: string, verifier: string): Promise<void> {
  const statement = sql.alterRolePassword(role, verifier);
  await server.query(statement.summary, statement.sql);
}

/**
 * Terminates every session of `role` and waits (up to 5 s) until they are gone; returns how many were
 * signalled. Ending a role's sessions needs the admin to have its privileges: on PostgreSQL 14 a login
 * can revoke the admin's membership in itself, so that membership is granted again first when missing.
 * A NOINHERIT admin before 16 (a member without the login's privileges) ends them as the login, with
 * SET ROLE on a client of its own. Only ever called for a role proven to be the workspace's own.
 */
export async function terminateSessions(server: ServerAccess, role: string): Promise<number> {
  const context = `terminating sessions of ${role}`;
  const [facts] = await server.query<{ privileges: boolean; member: boolean; inherits: boolean; major: number; database: string }>(
    context,
    `SELECT pg_has_role(current_user, oid, 'USAGE') AS privileges, pg_has_role(current_user, oid, 'MEMBER') AS member,
            (SELECT rolinherit OR rolsuper FROM pg_roles WHERE rolname = current_user) AS inherits,
            current_setting('server_version_num')::int / 10000 AS major, current_database() AS database
     FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  const setRole = facts !== undefined && !facts.privileges && facts.major < 16 && !facts.inherits;
  if (facts !== undefined && !facts.privileges && !(setRole && facts.member)) {
    const grant = sql.grantRoleToAdmin(role, facts.major);
    await server.query(grant.summary, grant.sql);
  }
  // MATERIALIZED: pg_terminate_backend must only ever see this role's sessions, whatever the planner does.
  // Qualified: as the login (SET ROLE), nothing it may have created can stand in for a built-in.
  const terminate = `WITH s AS MATERIALIZED (SELECT pid FROM pg_catalog.pg_stat_activity WHERE usename = $1 AND pid <> pg_catalog.pg_backend_pid())
     SELECT pid FROM s WHERE pg_catalog.pg_terminate_backend(pid)`;
  const rows = setRole
    ? await server.withDatabase(facts.database, async (db) => {
      await db.query(`SET ROLE ${sql.quoteIdent(role)}`);
      return (await db.query<{ pid: number }>(terminate, [role])).rows;
    })
    : await server.query<{ pid: number }>(context, terminate, [role]);
  const pids = rows.map((r) => r.pid);
  const deadline = Date.now() + TERMINATE_WAIT_MS;
  while (pids.length > 0) {
    const left = await server.query<{ n: string }>(context, "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY ($1::int[])", [pids]);
    if (Number(left[0]?.n ?? 0) === 0) break;
    if (Date.now() > deadline) throw new PostgresError("Transient", `${context}: sessions still open after ${TERMINATE_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return pids.length;
}

/** Sets `role` NOLOGIN; returns false (and does nothing) when the role does not exist. */
export async function disableLogin(server: ServerAccess, role: string): Promise<boolean> {
  const exists = await server.query("looking up role", "SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
  if (exists.length === 0) return false;
  const statement = sql.disableLogin(role);
  await server.query(statement.summary, statement.sql);
  return true;
}
