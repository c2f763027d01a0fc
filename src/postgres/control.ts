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
  /** The admin's INHERIT attribute (before 16 a membership gives privileges only to an INHERIT member). */
  adminInherits: boolean;
  /**
   * This server's workspace logins (carrying an ownership marker) on which the admin lacks ADMIN OPTION
   * (16+ only; empty before), each with the unprivileged roles that hold it (a former admin).
   */
  roles: { name: string; administeredBy: string[] }[];
  /**
   * This server's workspace databases (carrying an ownership marker) whose owner the admin neither is
   * nor has the privileges of; `ownerSafe` when the owner is an unprivileged role that may be granted.
   */
  databases: { name: string; owner: string; ownerSafe: boolean }[];
}

/** What the admin cannot manage, with the statement(s) a superuser runs once. */
export interface ControlGap {
  roles: string[];
  databases: string[];
  /** One line of SQL. */
  statement: string;
}

/** Beyond this many logins or databases the statement loops in a DO block instead of listing them. */
export const LISTED_MAX = 20;

const ROLE_MARKER = `${MARKER_PREFIX}v2 owner=% part=read-%`;
const DATABASE_MARKERS = `(shobj_description(d.oid, 'pg_database') LIKE '${MARKER_PREFIX}v2 owner=% part=database'
                        OR shobj_description(d.oid, 'pg_database') LIKE '${MARKER_PREFIX}owner: %')`;
// A role one may suggest granting to the admin: no superuser, no privileged attribute, no predefined role.
const UNPRIVILEGED = (r: string): string => `NOT ${r}.rolsuper AND NOT ${r}.rolreplication AND NOT ${r}.rolbypassrls AND ${r}.rolname !~ '^pg_'`;

// $1: this server's workspace databases, $2: their logins (from the WorkspaceDatabases' status), so
// that another installation's workspaces on the same cluster are never part of the gap. Databases
// owned by one of the workspace's own logins are being adopted (the workspace pass makes the admin
// their owner) and are left out. Only ever reports what the admin lacks; never changes anything.
//
// It costs time linear in the number of workspaces: the names are joined (not searched in an array
// per row), and the logins the admin holds ADMIN OPTION on are found with one walk of its memberships
// — what pg_has_role(…, 'MEMBER WITH ADMIN OPTION') does per login, which walked every membership of
// the admin for each login (3.3 s at 2,000 logins; past the statement timeout under load, the
// DatabaseServer went not Ready). As PostgreSQL 16+ decides it: a membership with admin_option held
// by the admin or by any role it is a member of, through any chain of memberships.
const CONTROL_QUERY = `
WITH RECURSIVE marked AS (
  SELECT r.oid, r.rolname FROM pg_roles r JOIN (SELECT DISTINCT unnest($2::text[])) AS s(name) ON r.rolname = s.name
  WHERE NOT r.rolsuper AND shobj_description(r.oid, 'pg_authid') LIKE '${ROLE_MARKER}'
), mine(oid) AS (
  SELECT oid FROM pg_roles WHERE rolname = current_user
  UNION
  SELECT a.roleid FROM pg_auth_members a JOIN mine m ON a.member = m.oid
), administered AS (
  SELECT DISTINCT a.roleid FROM pg_auth_members a JOIN mine m ON a.member = m.oid
  WHERE a.admin_option AND a.roleid <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
)
SELECT current_setting('server_version_num')::int / 10000 AS major,
       current_user AS admin,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       (SELECT rolinherit FROM pg_roles WHERE rolname = current_user) AS admin_inherits,
       CASE WHEN current_setting('server_version_num')::int < 160000 OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN '[]'::json ELSE coalesce((
         SELECT json_agg(json_build_object('name', m.rolname,
                  'administeredBy', coalesce((SELECT json_agg(x.rolname ORDER BY x.rolname)
                                              FROM pg_auth_members a JOIN pg_roles x ON x.oid = a.member
                                              WHERE a.roleid = m.oid AND a.admin_option AND ${UNPRIVILEGED("x")}
                                                AND x.rolname <> current_user), '[]'))
                         ORDER BY m.rolname)
         FROM marked m WHERE m.oid NOT IN (SELECT roleid FROM administered)), '[]') END AS roles,
       coalesce((SELECT json_agg(json_build_object('name', d.datname, 'owner', o.rolname, 'ownerSafe', ${UNPRIVILEGED("o")}) ORDER BY d.datname)
                 FROM pg_database d JOIN (SELECT DISTINCT unnest($1::text[])) AS s(name) ON d.datname = s.name JOIN pg_roles o ON o.oid = d.datdba
                 WHERE NOT d.datistemplate AND ${DATABASE_MARKERS}
                   AND NOT pg_has_role(current_user, d.datdba, 'USAGE')
                   AND d.datdba NOT IN (SELECT oid FROM marked)), '[]') AS databases`;

/** Reads the control facts of the workspaces `scope` (this server's databases and logins). */
export async function inspectControl(server: ServerAccess, scope: { databases: readonly string[]; roles: readonly string[] }): Promise<ControlFacts> {
  const rows = await server.query<{
    major: number; admin: string; superuser: boolean; admin_inherits: boolean; roles: ControlFacts["roles"]; databases: ControlFacts["databases"];
  }>(
    "reading which workspace logins and databases the admin role manages",
    CONTROL_QUERY,
    [scope.databases, scope.roles],
  );
  const r = rows[0]!;
  return { major: r.major, admin: r.admin, superuser: r.superuser, adminInherits: r.admin_inherits, roles: r.roles, databases: r.databases };
}

/**
 * The gap and its one-line fix, or null when the admin manages everything workspaces own. When one
 * unprivileged role administers every login in the gap and owns every database in it (the previous
 * admin), the fix makes the admin a member of that role (16+: inheriting, without SET, so the admin can
 * never become it); otherwise it grants ADMIN OPTION on the logins and hands the databases to the admin
 * directly — never membership in a superuser or privileged role. Pure.
 */
export function controlGap(facts: ControlFacts): ControlGap | null {
  if (facts.superuser || (facts.roles.length === 0 && facts.databases.length === 0)) return null;
  const admin = quoteIdent(facts.admin);
  const roles = facts.roles.map((r) => r.name);
  const databases = facts.databases.map((d) => d.name);

  // Before 16 a membership gives a NOINHERIT admin no privileges of the former admin: no use there.
  if (facts.major >= 16 || facts.adminInherits) {
    let candidates: Set<string> | undefined;
    const narrow = (names: readonly string[]): void => {
      candidates = new Set(candidates === undefined ? names : names.filter((c) => candidates!.has(c)));
    };
    for (const role of facts.roles) narrow(role.administeredBy);
    for (const database of facts.databases) narrow(database.ownerSafe ? [database.owner] : []);
    const [formerAdmin] = [...(candidates ?? [])].sort();
    if (formerAdmin !== undefined) {
      const options = facts.major >= 16 ? " WITH INHERIT TRUE, SET FALSE" : "";
      return { roles, databases, statement: `GRANT ${quoteIdent(formerAdmin)} TO ${admin}${options};` };
    }
  }

  const statements: string[] = [];
  // Beyond LISTED_MAX the statement loops over every marked login or database of the cluster that the
  // admin lacks (the names would not fit a condition message); the admin's name goes into the DO body as
  // a literal, and a name with "$" could end the dollar quote: those are listed instead.
  const loop = !facts.admin.includes("$");
  if (roles.length > LISTED_MAX && loop) {
    statements.push(
      "DO $$DECLARE r regrole; BEGIN FOR r IN SELECT oid::regrole FROM pg_roles WHERE NOT rolsuper " +
        `AND shobj_description(oid, 'pg_authid') LIKE '${ROLE_MARKER}' AND NOT pg_has_role(${quoteLiteral(facts.admin)}, oid, 'MEMBER WITH ADMIN OPTION') ` +
        `AND NOT pg_has_role(oid, ${quoteLiteral(facts.admin)}, 'MEMBER') ` +
        `LOOP EXECUTE format('GRANT %s TO %I WITH ADMIN OPTION', r, ${quoteLiteral(facts.admin)}); END LOOP; END$$;`,
    );
  } else if (roles.length > 0) {
    statements.push(`GRANT ${roles.map(quoteIdent).join(", ")} TO ${admin} WITH ADMIN OPTION;`);
  }
  if (databases.length > LISTED_MAX && loop) {
    statements.push(
      "DO $$DECLARE db name; BEGIN FOR db IN SELECT d.datname FROM pg_database d WHERE NOT d.datistemplate " +
        `AND ${DATABASE_MARKERS.replace(/\s+/g, " ")} AND NOT pg_has_role(${quoteLiteral(facts.admin)}, d.datdba, 'USAGE') ` +
        `LOOP EXECUTE format('ALTER DATABASE %I OWNER TO %I', db, ${quoteLiteral(facts.admin)}); END LOOP; END$$;`,
    );
  } else {
    for (const database of databases) statements.push(`ALTER DATABASE ${quoteIdent(database)} OWNER TO ${admin};`);
  }
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
