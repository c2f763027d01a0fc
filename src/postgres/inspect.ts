// The catalog query that observes inside one workspace database: privileges, default privileges, extensions.
import { EXTENSIONS_SCHEMA, type DefaultPrivilegesState, type InsideState, type MissingGrant } from "./state.ts";
import type { WorkspaceNames } from "./state.ts";
import type { Queryable } from "./queryable.ts";

// Whether the admin may grant on an object of owner \`o\`: with the owner's privileges, or (a NOINHERIT
// admin before 16, member without them) by acting as the owner, whose name is then \`actAs\`.
const actAs = (o: string): string =>
  `CASE WHEN NOT pg_has_role(current_user, ${o}, 'USAGE') AND current_setting('server_version_num')::int < 160000
             AND pg_has_role(current_user, ${o}, 'MEMBER') THEN pg_get_userbyid(${o}) END`;
const grantableBy = (o: string): string => `'grantable', pg_has_role(current_user, ${o}, 'USAGE') OR (${actAs(o)}) IS NOT NULL, 'actAs', ${actAs(o)}`;

const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

// $1 read/write login, $2 read-only login, $3 the extensions schema, $4 the admin role: one round trip.
const INSIDE_QUERY = `
WITH rw AS (SELECT oid FROM pg_roles WHERE rolname = $1), ro AS (SELECT oid FROM pg_roles WHERE rolname = $2)
SELECT
  (SELECT json_build_object(
            'publicCanCreate', EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                                       WHERE a.grantee = 0 AND a.privilege_type = 'CREATE'),
            'adminControls', pg_has_role(current_user, n.nspowner, 'USAGE') OR (${actAs("n.nspowner")}) IS NOT NULL,
            'actAs', ${actAs("n.nspowner")},
            'readWriteCanUse', coalesce(has_schema_privilege((SELECT oid FROM rw), n.oid, 'USAGE'), false),
            'readWriteCanCreate', coalesce(has_schema_privilege((SELECT oid FROM rw), n.oid, 'CREATE'), false),
            'readWriteGranted', (SELECT count(DISTINCT a.privilege_type) FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                                 WHERE a.grantee = (SELECT oid FROM rw) AND a.privilege_type IN ('USAGE', 'CREATE')) = 2)
   FROM pg_namespace n WHERE n.nspname = 'public') AS public_schema,
  coalesce((SELECT json_agg(json_build_object('schema', n.nspname, 'name', n.nspname, ${grantableBy("n.nspowner")})
                            ORDER BY n.nspname)
            FROM pg_namespace n
            WHERE ${SYSTEM_SCHEMAS}
              AND NOT coalesce(has_schema_privilege((SELECT oid FROM ro), n.oid, 'USAGE'), false)), '[]') AS schemas,
  coalesce((SELECT json_agg(json_build_object('schema', n.nspname, 'name', c.relname, ${grantableBy("c.relowner")},
                                              'sequence', c.relkind = 'S')
                            ORDER BY n.nspname, c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${SYSTEM_SCHEMAS}
              AND NOT coalesce(has_table_privilege((SELECT oid FROM ro), c.oid, 'SELECT'), false)), '[]') AS relations,
  coalesce((SELECT json_agg(json_build_object('name', e.extname, 'schema', n.nspname) ORDER BY e.extname)
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace), '[]') AS extensions,
  (SELECT json_build_object(
            'owner', pg_get_userbyid(n.nspowner),
            'othersCanCreate', EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                                       WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner),
            'readWriteCanUse', coalesce(has_schema_privilege((SELECT oid FROM rw), n.oid, 'USAGE'), false))
   FROM pg_namespace n WHERE n.nspname = $3) AS extensions_schema,
  coalesce((SELECT json_agg(DISTINCT json_build_object('creator', creator.rolname, 'type', d.defaclobjtype)::text)
            FROM pg_default_acl d JOIN pg_roles creator ON creator.oid = d.defaclrole, aclexplode(d.defaclacl) a
            WHERE d.defaclnamespace = 0 AND creator.rolname IN ($1, $4) AND a.grantee = (SELECT oid FROM ro)
              AND ((d.defaclobjtype IN ('r', 'S') AND a.privilege_type = 'SELECT') OR (d.defaclobjtype = 'n' AND a.privilege_type = 'USAGE'))), '[]') AS default_privileges`;

/** A MissingGrant as the query returns it (actAs null when not needed). */
type GrantRow = Omit<MissingGrant, "actAs"> & { actAs: string | null };

interface InsideRow {
  public_schema: InsideState["publicSchema"];
  schemas: GrantRow[];
  relations: (GrantRow & { sequence: boolean })[];
  extensions: InsideState["extensions"];
  extensions_schema: InsideState["extensionsSchema"];
  /** JSON texts of {creator, type}. */
  default_privileges: string[];
}

/** Observes privileges, default privileges and extensions in one query; `db` must be connected to the workspace database. */
export async function inspectInside(db: Queryable, names: WorkspaceNames, admin: string): Promise<InsideState> {
  const { rows } = await db.query<InsideRow>(INSIDE_QUERY, [names.readWrite, names.readOnly, EXTENSIONS_SCHEMA, admin]);
  const row = rows[0]!;
  const defaults = row.default_privileges.map((text) => JSON.parse(text) as { creator: string; type: string });
  const defaultsOf = (creator: string): DefaultPrivilegesState => {
    const types = new Set(defaults.filter((d) => d.creator === creator).map((d) => d.type));
    return { tables: types.has("r"), sequences: types.has("S"), schemas: types.has("n") };
  };
  const missing = (r: GrantRow): MissingGrant =>
    ({ schema: r.schema, name: r.name, grantable: r.grantable, ...(r.actAs !== null ? { actAs: r.actAs } : {}) });
  return {
    publicSchema: row.public_schema,
    schemasWithoutReadOnlyUsage: row.schemas.map(missing),
    tablesWithoutReadOnlySelect: row.relations.filter((r) => !r.sequence).map(missing),
    sequencesWithoutReadOnlySelect: row.relations.filter((r) => r.sequence).map(missing),
    defaultPrivileges: { readWrite: defaultsOf(names.readWrite), admin: defaultsOf(admin) },
    extensions: row.extensions,
    extensionsSchema: row.extensions_schema,
  };
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
