// The shared catalogs (pg_database, pg_authid, pg_auth_members, pg_shdepend) of many workspaces in one query.
import type { ClaimFacts, RoleFacts } from "./claim.ts";
import { parseSettings } from "./inspect.ts";
import type { ServerAccess } from "./queryable.ts";
import type { DatabasePrivilege } from "./sql.ts";
import type { DatabaseState, RoleState, WorkspaceNames } from "./state.ts";

/** Everything the maintenance database says about one workspace: who owns its parts, and their state. */
export interface SharedFacts {
  /** The connected admin role (`current_user`). */
  admin: string;
  /** The server's major version, e.g. 18. */
  major: number;
  claim: ClaimFacts;
  database: DatabaseState | null;
  readWrite: RoleState | null;
  readOnly: RoleState | null;
}

// Input: three aligned arrays (database, read/write login, read-only login), one entry per workspace.
// Each role is judged relative to its own workspace's database (settings there, dependencies elsewhere).
const SHARED_QUERY = `
WITH w AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS w(database, read_write, read_only)),
     r AS (SELECT w.read_write AS name, w.database FROM w UNION SELECT w.read_only, w.database FROM w)
SELECT current_user AS admin, current_setting('server_version_num')::int / 10000 AS major,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment, d.datistemplate AS is_template,
            d.datallowconn AS allow_connections, d.datname = current_database() AS is_maintenance,
            pg_get_userbyid(d.datdba) AS owner, pg_has_role(current_user, d.datdba, 'USAGE') AS admin_acts_as_owner,
            d.datconnlimit AS connection_limit,
            coalesce((SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0), '{}') AS settings,
            coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                      FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE a.grantee = 0), '{}') AS public_privileges,
            coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                      FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a JOIN pg_roles g ON g.oid = a.grantee
                      WHERE g.rolname = w.read_write), '{}') AS rw_privileges,
            coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                      FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a JOIN pg_roles g ON g.oid = a.grantee
                      WHERE g.rolname = w.read_only), '{}') AS ro_privileges,
            has_database_privilege(d.oid, 'CONNECT') AS admin_can_connect
     FROM w JOIN pg_database d ON d.datname = w.database) x) AS databases,
  (SELECT coalesce(json_agg(x), '[]') FROM (
     SELECT r.name, r.database, shobj_description(o.oid, 'pg_authid') AS comment, o.rolsuper AS superuser,
            o.rolcreaterole AS create_role, o.rolcreatedb AS create_db, o.rolreplication AS replication,
            o.rolbypassrls AS bypass_rls, o.rolname = current_user AS is_current_user, o.rolcanlogin AS can_login,
            o.rolconnlimit AS connection_limit, coalesce(o.rolconfig, '{}') AS config,
            coalesce((SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                      WHERE s.setrole = o.oid AND d.datname = r.database), '{}') AS database_config,
            pg_has_role(current_user, o.oid, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'USAGE' ELSE 'MEMBER' END) AS admin_is_member,
            coalesce((SELECT array_agg(DISTINCT g.rolname::text) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                      WHERE m.member = o.oid), '{}') AS member_of,
            coalesce((SELECT array_agg(DISTINCT g.rolname::text) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.member
                      WHERE m.roleid = o.oid AND g.rolname <> current_user), '{}') AS members,
            coalesce((SELECT array_agg(DISTINCT coalesce(od.datname::text, '(server-wide)')) FROM pg_shdepend s
                      LEFT JOIN pg_database od ON od.oid = s.dbid
                      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = o.oid
                        AND s.dbid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = r.database)
                        AND NOT (s.dbid = 0 AND s.classid = 'pg_database'::regclass
                                 AND s.objid IS NOT DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = r.database))), '{}') AS used_elsewhere
     FROM r JOIN pg_roles o ON o.rolname = r.name) x) AS roles`;

interface DatabaseRow {
  name: string;
  comment: string | null;
  is_template: boolean;
  allow_connections: boolean;
  is_maintenance: boolean;
  owner: string;
  admin_acts_as_owner: boolean;
  connection_limit: number;
  settings: string[];
  public_privileges: string[];
  rw_privileges: string[];
  ro_privileges: string[];
  admin_can_connect: boolean;
}

interface RoleRow {
  name: string;
  database: string;
  comment: string | null;
  superuser: boolean;
  create_role: boolean;
  create_db: boolean;
  replication: boolean;
  bypass_rls: boolean;
  is_current_user: boolean;
  can_login: boolean;
  connection_limit: number;
  config: string[];
  database_config: string[];
  admin_is_member: boolean;
  member_of: string[];
  members: string[];
  used_elsewhere: string[];
}

/**
 * Reads the shared facts of every workspace in `workspaces` with one query on the maintenance
 * database; keyed by database name (a name listed twice gets one entry).
 */
export async function readSharedFacts(server: ServerAccess, workspaces: readonly WorkspaceNames[]): Promise<Map<string, SharedFacts>> {
  const context = workspaces.length === 1
    ? `reading database ${workspaces[0]!.database} and its logins`
    : `reading the databases and logins of ${workspaces.length} workspaces`;
  const rows = await server.query<{ admin: string; major: number; databases: DatabaseRow[]; roles: RoleRow[] }>(context, SHARED_QUERY, [
    workspaces.map((w) => w.database),
    workspaces.map((w) => w.readWrite),
    workspaces.map((w) => w.readOnly),
  ]);
  const row = rows[0]!;
  const same = new Canonical();
  const databases = new Map(row.databases.map((d) => [d.name, d]));
  const roles = new Map(row.roles.map((r) => [`${r.database}\u0000${r.name}`, r]));
  const out = new Map<string, SharedFacts>();
  for (const names of workspaces) {
    const db = databases.get(names.database);
    const rw = roles.get(`${names.database}\u0000${names.readWrite}`);
    const ro = roles.get(`${names.database}\u0000${names.readOnly}`);
    out.set(names.database, {
      admin: row.admin,
      major: row.major,
      claim: {
        database: db === undefined ? null : {
          comment: same.text(db.comment),
          isTemplate: db.is_template,
          allowConnections: db.allow_connections,
          isMaintenance: db.is_maintenance,
          owner: same.text(db.owner),
          adminActsAsOwner: db.admin_acts_as_owner,
        },
        readWrite: rw === undefined ? null : roleFacts(rw, same),
        readOnly: ro === undefined ? null : roleFacts(ro, same),
      },
      database: db === undefined ? null : {
        owner: same.text(db.owner),
        comment: same.text(db.comment),
        connectionLimit: db.connection_limit,
        settings: same.value(parseSettings(db.settings)),
        publicPrivileges: same.value(databasePrivileges(db.public_privileges)),
        readWritePrivileges: same.value(databasePrivileges(db.rw_privileges)),
        readOnlyPrivileges: same.value(databasePrivileges(db.ro_privileges)),
        adminCanConnect: db.admin_can_connect,
      },
      readWrite: rw === undefined ? null : roleState(rw, same),
      readOnly: ro === undefined ? null : roleState(ro, same),
    });
  }
  return out;
}

function roleFacts(r: RoleRow, same: Canonical): RoleFacts {
  return {
    comment: same.text(r.comment),
    superuser: r.superuser,
    createRole: r.create_role,
    createDb: r.create_db,
    replication: r.replication,
    bypassRls: r.bypass_rls,
    isCurrentUser: r.is_current_user,
    memberOf: same.value(r.member_of),
    canLogin: r.can_login,
    members: same.value(r.members),
    usedElsewhere: same.value(r.used_elsewhere),
  };
}

function roleState(r: RoleRow, same: Canonical): RoleState {
  return {
    comment: same.text(r.comment),
    canLogin: r.can_login,
    connectionLimit: r.connection_limit,
    config: same.value(parseSettings(r.config)),
    databaseConfig: same.value(parseSettings(r.database_config)),
    adminIsMember: r.admin_is_member,
  };
}

function databasePrivileges(names: readonly string[]): DatabasePrivilege[] {
  return names.filter((n): n is DatabasePrivilege => n === "CONNECT" || n === "CREATE" || n === "TEMPORARY");
}

/**
 * One instance of each equal value in one read: a snapshot holds the facts of thousands of workspaces,
 * and most of their lists are empty or alike (the same settings, the same privileges, the same owner).
 * Shared values are frozen, so that no caller can change one workspace's facts through another's.
 */
class Canonical {
  readonly #texts = new Map<string, string>();
  readonly #values = new Map<string, unknown>();

  text<T extends string | null>(value: T): T {
    if (value === null) return value;
    const seen = this.#texts.get(value);
    if (seen !== undefined) return seen as T;
    this.#texts.set(value, value);
    return value;
  }

  value<T extends object>(value: T): Readonly<T> {
    const key = JSON.stringify(value);
    const seen = this.#values.get(key);
    if (seen !== undefined) return seen as Readonly<T>;
    Object.freeze(value);
    this.#values.set(key, value);
    return value;
  }
}
