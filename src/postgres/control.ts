// What workspaces own on a server that the admin role cannot manage, and the one statement a superuser runs to fix it.
//
// Two situations produce such gaps, both after a change the operator did not make:
// - the server was upgraded from 15 or earlier to 16 or later: since 16 a CREATEROLE role manages only
//   roles on which it holds ADMIN OPTION, which 16+ grants at CREATE ROLE time, so logins created
//   on 15 have none after the upgrade;
// - the DatabaseServer's admin Secret now names another role than the one that created the logins
//   and owns the databases.
import { MARKER_PREFIX } from "./marker.ts";
import { quoteIdent, quoteLiteral } from "./sql.ts";
import type { ServerAccess } from "./queryable.ts";

/** The facts the statement is computed from (one query on the maintenance database). */
export interface ControlFacts {
  /** Major version, e.g. 18. */
  major: number;
  /** The connected admin role. */
  admin: string;
  superuser: boolean;
  /** Logins carrying an ownership marker on which the admin lacks ADMIN OPTION (16+ only; empty before). */
  roles: { name: string; administeredBy: string[] }[];
  /** Databases carrying an ownership marker whose owner the admin neither is nor has the privileges of. */
  databases: { name: string; owner: string }[];
}

/** What the admin cannot manage, with the statement(s) a superuser runs once. */
export interface ControlGap {
  roles: string[];
  databases: string[];
  /** One line of SQL. */
  statement: string;
}

/** Above this many roles the statement grants them with a DO block instead of listing them. */
export const LISTED_ROLES_MAX = 20;

// Databases owned by one of the workspace's own logins are being adopted (the workspace pass makes
// the admin their owner) and are left out. Roles granted to the admin by a superuser or by itself
// with ADMIN OPTION count as managed.
const CONTROL_QUERY = `
WITH marked AS (
  SELECT r.oid, r.rolname FROM pg_roles r
  WHERE shobj_description(r.oid, 'pg_authid') LIKE '${MARKER_PREFIX}v2 owner=% part=read-%'
)
SELECT current_setting('server_version_num')::int / 10000 AS major,
       current_user AS admin,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       CASE WHEN current_setting('server_version_num')::int < 160000 THEN '[]'::json ELSE coalesce((
         SELECT json_agg(json_build_object('name', m.rolname,
                  'administeredBy', coalesce((SELECT json_agg(x.rolname ORDER BY x.rolname)
                                              FROM pg_auth_members a JOIN pg_roles x ON x.oid = a.member
                                              WHERE a.roleid = m.oid AND a.admin_option AND NOT x.rolsuper
                                                AND x.rolname <> current_user), '[]'))
                         ORDER BY m.rolname)
         FROM marked m WHERE NOT pg_has_role(current_user, m.oid, 'MEMBER WITH ADMIN OPTION')), '[]') END AS roles,
       coalesce((SELECT json_agg(json_build_object('name', d.datname, 'owner', pg_get_userbyid(d.datdba)) ORDER BY d.datname)
                 FROM pg_database d
                 WHERE NOT d.datistemplate
                   AND (shobj_description(d.oid, 'pg_database') LIKE '${MARKER_PREFIX}v2 owner=% part=database'
                        OR shobj_description(d.oid, 'pg_database') LIKE '${MARKER_PREFIX}owner: %')
                   AND NOT pg_has_role(current_user, d.datdba, 'USAGE')
                   AND d.datdba NOT IN (SELECT oid FROM marked)), '[]') AS databases`;

/** Reads the control facts. */
export async function inspectControl(server: ServerAccess): Promise<ControlFacts> {
  const rows = await server.query<{ major: number; admin: string; superuser: boolean; roles: ControlFacts["roles"]; databases: ControlFacts["databases"] }>(
    "reading which workspace logins and databases the admin role manages",
    CONTROL_QUERY,
  );
  const r = rows[0]!;
  return { major: r.major, admin: r.admin, superuser: r.superuser, roles: r.roles, databases: r.databases };
}

/**
 * The gap and its one-line fix, or null when the admin manages everything workspaces own. When one
 * other role administers every login in the gap and owns every database in it (the previous admin),
 * the fix makes the admin a member of that role; otherwise it grants what is missing directly. Pure.
 */
export function controlGap(facts: ControlFacts): ControlGap | null {
  if (facts.superuser || (facts.roles.length === 0 && facts.databases.length === 0)) return null;
  const admin = quoteIdent(facts.admin);
  const inherit = facts.major >= 16 ? " WITH INHERIT TRUE" : "";
  const roles = facts.roles.map((r) => r.name);
  const databases = facts.databases.map((d) => d.name);

  let previous: Set<string> | undefined;
  const narrow = (candidates: readonly string[]): void => {
    previous = new Set(previous === undefined ? candidates : candidates.filter((c) => previous!.has(c)));
  };
  for (const role of facts.roles) narrow(role.administeredBy);
  for (const database of facts.databases) narrow([database.owner]);
  const [formerAdmin] = [...(previous ?? [])].sort();
  if (formerAdmin !== undefined) {
    return { roles, databases, statement: `GRANT ${quoteIdent(formerAdmin)} TO ${admin}${inherit};` };
  }

  const statements: string[] = [];
  if (roles.length > LISTED_ROLES_MAX && !facts.admin.includes("$")) {
    // The admin's name is a literal inside the dollar-quoted body: one without "$" cannot end it.
    statements.push(
      "DO $$DECLARE r regrole; BEGIN FOR r IN SELECT oid::regrole FROM pg_roles WHERE shobj_description(oid, 'pg_authid') " +
        `LIKE '${MARKER_PREFIX}v2 owner=% part=read-%' LOOP EXECUTE format('GRANT %s TO %I WITH ADMIN OPTION', r, ${quoteLiteral(facts.admin)}); END LOOP; END$$;`,
    );
  } else if (roles.length > 0) {
    statements.push(`GRANT ${roles.map(quoteIdent).join(", ")} TO ${admin} WITH ADMIN OPTION;`);
  }
  const owners = [...new Set(facts.databases.map((d) => d.owner))].sort();
  if (owners.length > 0) statements.push(`GRANT ${owners.map(quoteIdent).join(", ")} TO ${admin}${inherit};`);
  return { roles, databases, statement: statements.join(" ") };
}

/** The sentence for DatabaseServer's Ready condition. */
export function controlGapMessage(gap: ControlGap, admin: string): string {
  const parts: string[] = [];
  if (gap.roles.length > 0) parts.push(`${gap.roles.length} workspace login(s) (${listed(gap.roles)}) on which it lacks ADMIN OPTION`);
  if (gap.databases.length > 0) parts.push(`${gap.databases.length} workspace database(s) (${listed(gap.databases)}) owned by a role whose privileges it lacks`);
  return (
    `the admin role "${admin}" cannot manage ${parts.join(" and ")}: they were created before an upgrade to PostgreSQL 16 or later ` +
    `(which grants ADMIN OPTION only at CREATE ROLE) or by another admin role; workspace logins keep working, but rotation and repairs fail ` +
    `until a superuser runs once: ${gap.statement}`
  );
}

function listed(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((n) => `"${n}"`).join(", ");
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}
