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
 * Only ever called for a role proven to be the workspace's own.
 */
export async function terminateSessions(server: ServerAccess, role: string): Promise<number> {
  const context = `terminating sessions of ${role}`;
  const [member] = await server.query<{ ok: boolean }>(context, "SELECT pg_has_role(current_user, oid, 'USAGE') AS ok FROM pg_roles WHERE rolname = $1", [role]);
  if (member !== undefined && !member.ok) {
    const grant = sql.grantRoleToAdmin(role);
    await server.query(grant.summary, grant.sql);
  }
  const rows = await server.query<{ pid: number }>(
    context,
    // MATERIALIZED: pg_terminate_backend must only ever see this role's sessions, whatever the planner does.
    `WITH s AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid())
     SELECT pid FROM s WHERE pg_terminate_backend(pid)`,
    [role],
  );
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
