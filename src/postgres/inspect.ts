// Read-only catalog queries that observe one workspace: database, logins, and privileges inside the database.
import type { DatabasePrivilege } from "./sql.ts";
import { EXTENSIONS_SCHEMA, type DatabaseState, type DefaultPrivilegesState, type InsideState, type MissingGrant, type RoleState, type WorkspaceNames } from "./state.ts";
import type { Queryable } from "./queryable.ts";

const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

const DATABASE_QUERY = `
SELECT pg_get_userbyid(d.datdba) AS owner,
       shobj_description(d.oid, 'pg_database') AS comment,
       d.datconnlimit AS connection_limit,
       coalesce((SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0), '{}') AS settings,
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE a.grantee = 0), '{}') AS public_privileges,
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a JOIN pg_roles r ON r.oid = a.grantee
                 WHERE r.rolname = $2), '{}') AS rw_privileges,
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a JOIN pg_roles r ON r.oid = a.grantee
                 WHERE r.rolname = $3), '{}') AS ro_privileges,
       has_database_privilege(d.oid, 'CONNECT') AS admin_can_connect
FROM pg_database d WHERE d.datname = $1`;

const ROLE_QUERY = `
SELECT shobj_description(r.oid, 'pg_authid') AS comment,
       r.rolcanlogin AS can_login,
       r.rolconnlimit AS connection_limit,
       coalesce(r.rolconfig, '{}') AS config,
       coalesce((SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                 WHERE s.setrole = r.oid AND d.datname = $2), '{}') AS database_config,
       pg_has_role(current_user, r.oid, 'USAGE') AS admin_is_member
FROM pg_roles r WHERE r.rolname = $1`;

const PUBLIC_SCHEMA_QUERY = `
SELECT EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
               WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS public_can_create,
       coalesce(has_schema_privilege((SELECT oid FROM pg_roles WHERE rolname = $1), n.oid, 'USAGE'), false) AS rw_can_use,
       coalesce(has_schema_privilege((SELECT oid FROM pg_roles WHERE rolname = $1), n.oid, 'CREATE'), false) AS rw_can_create
FROM pg_namespace n WHERE n.nspname = 'public'`;

const SCHEMAS_QUERY = `
SELECT n.nspname AS schema, n.nspname AS name, pg_has_role(current_user, n.nspowner, 'USAGE') AS grantable
FROM pg_namespace n
WHERE ${SYSTEM_SCHEMAS}
  AND NOT coalesce(has_schema_privilege((SELECT oid FROM pg_roles WHERE rolname = $1), n.oid, 'USAGE'), false)
ORDER BY n.nspname`;

const RELATIONS_QUERY = `
SELECT n.nspname AS schema, c.relname AS name, pg_has_role(current_user, c.relowner, 'USAGE') AS grantable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = ANY ($2::"char"[]) AND ${SYSTEM_SCHEMAS}
  AND NOT coalesce(has_table_privilege((SELECT oid FROM pg_roles WHERE rolname = $1), c.oid, 'SELECT'), false)
ORDER BY n.nspname, c.relname`;

const EXTENSIONS_QUERY = `
SELECT coalesce((SELECT json_agg(json_build_object('name', e.extname, 'schema', n.nspname) ORDER BY e.extname)
                 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace), '[]') AS extensions,
       (SELECT json_build_object(
                 'owner', pg_get_userbyid(n.nspowner),
                 'othersCanCreate', EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                                            WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner),
                 'readWriteCanUse', coalesce(has_schema_privilege((SELECT oid FROM pg_roles WHERE rolname = $1), n.oid, 'USAGE'), false))
        FROM pg_namespace n WHERE n.nspname = $2) AS schema`;

const DEFAULT_ACL_QUERY = `
SELECT d.defaclobjtype AS objtype
FROM pg_default_acl d JOIN pg_roles creator ON creator.oid = d.defaclrole, aclexplode(d.defaclacl) a
JOIN pg_roles grantee ON grantee.oid = a.grantee
WHERE d.defaclnamespace = 0 AND creator.rolname = $1 AND grantee.rolname = $2
  AND ((d.defaclobjtype IN ('r', 'S') AND a.privilege_type = 'SELECT') OR (d.defaclobjtype = 'n' AND a.privilege_type = 'USAGE'))`;

interface DatabaseRow {
  owner: string;
  comment: string | null;
  connection_limit: number;
  settings: string[];
  public_privileges: string[];
  rw_privileges: string[];
  ro_privileges: string[];
  admin_can_connect: boolean;
}

interface RoleRow {
  comment: string | null;
  can_login: boolean;
  connection_limit: number;
  config: string[];
  database_config: string[];
  admin_is_member: boolean;
}

/** The connected role's name. */
export async function currentUser(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ name: string }>("SELECT current_user AS name");
  return rows[0]!.name;
}

/** Observes the database from the maintenance database; null when it does not exist. */
export async function inspectDatabase(db: Queryable, names: WorkspaceNames): Promise<DatabaseState | null> {
  const { rows } = await db.query<DatabaseRow>(DATABASE_QUERY, [names.database, names.readWrite, names.readOnly]);
  const row = rows[0];
  if (row === undefined) return null;
  return {
    owner: row.owner,
    comment: row.comment,
    connectionLimit: row.connection_limit,
    settings: parseSettings(row.settings),
    publicPrivileges: databasePrivileges(row.public_privileges),
    readWritePrivileges: databasePrivileges(row.rw_privileges),
    readOnlyPrivileges: databasePrivileges(row.ro_privileges),
    adminCanConnect: row.admin_can_connect,
  };
}

/** Observes a login role; null when it does not exist. `database` selects the per-database settings. */
export async function inspectRole(db: Queryable, role: string, database: string): Promise<RoleState | null> {
  const { rows } = await db.query<RoleRow>(ROLE_QUERY, [role, database]);
  const row = rows[0];
  if (row === undefined) return null;
  return {
    comment: row.comment,
    canLogin: row.can_login,
    connectionLimit: row.connection_limit,
    config: parseSettings(row.config),
    databaseConfig: parseSettings(row.database_config),
    adminIsMember: row.admin_is_member,
  };
}

/** Observes privileges, default privileges and extensions; `db` must be connected to the workspace database. */
export async function inspectInside(db: Queryable, names: WorkspaceNames, admin: string): Promise<InsideState> {
  const pub = await db.query<{ public_can_create: boolean; rw_can_use: boolean; rw_can_create: boolean }>(PUBLIC_SCHEMA_QUERY, [names.readWrite]);
  const schemas = await db.query<MissingGrant>(SCHEMAS_QUERY, [names.readOnly]);
  const tables = await db.query<MissingGrant>(RELATIONS_QUERY, [names.readOnly, "{r,p,v,m,f}"]);
  const sequences = await db.query<MissingGrant>(RELATIONS_QUERY, [names.readOnly, "{S}"]);
  const extensions = await db.query<{ extensions: InsideState["extensions"]; schema: InsideState["extensionsSchema"] }>(
    EXTENSIONS_QUERY,
    [names.readWrite, EXTENSIONS_SCHEMA],
  );
  const p = pub.rows[0];
  return {
    publicSchema: p === undefined ? null : {
      publicCanCreate: p.public_can_create,
      readWriteCanUse: p.rw_can_use,
      readWriteCanCreate: p.rw_can_create,
    },
    schemasWithoutReadOnlyUsage: schemas.rows,
    tablesWithoutReadOnlySelect: tables.rows,
    sequencesWithoutReadOnlySelect: sequences.rows,
    defaultPrivileges: {
      readWrite: await defaultPrivileges(db, names.readWrite, names.readOnly),
      admin: await defaultPrivileges(db, admin, names.readOnly),
    },
    extensions: extensions.rows[0]?.extensions ?? [],
    extensionsSchema: extensions.rows[0]?.schema ?? null,
  };
}

async function defaultPrivileges(db: Queryable, creator: string, grantee: string): Promise<DefaultPrivilegesState> {
  const { rows } = await db.query<{ objtype: string }>(DEFAULT_ACL_QUERY, [creator, grantee]);
  const types = new Set(rows.map((r) => r.objtype));
  return { tables: types.has("r"), sequences: types.has("S"), schemas: types.has("n") };
}

/** Turns `{name=value,…}` (setconfig/rolconfig) into a record. */
export function parseSettings(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

function databasePrivileges(names: readonly string[]): DatabasePrivilege[] {
  return names.filter((n): n is DatabasePrivilege => n === "CONNECT" || n === "CREATE" || n === "TEMPORARY");
}
