// Facts about the server and the admin role: version, database count, missing role attributes.
import type { HardeningItem } from "../api/types.ts";
import { hardeningItems, inspectHardening } from "./hardening.ts";
import type { ServerAccess } from "./queryable.ts";

/** Version and size of a server, for DatabaseServer status. */
export interface ServerInfo {
  /** `major.minor`, e.g. "15.18". */
  version: string;
  /** `server_version_num`, e.g. 150018. */
  versionNumber: number;
  /** Number of databases that carry a workspacedb ownership marker (the workspaces on this server, 0.1 markers included). */
  databases: number;
  /** What only a superuser can lock down (empty for a superuser admin). */
  hardening: HardeningItem[];
}

/** Role attributes the admin lacks; empty when it may do everything the operator needs. */
export interface AdminPrivileges {
  /** Attribute names such as "CREATEDB", "CREATEROLE"; [] for a superuser. */
  missing: string[];
  superuser: boolean;
}

/** Reads the server version, counts the workspace databases (those with an ownership marker) and lists what to harden. */
export async function serverInfo(server: ServerAccess): Promise<ServerInfo> {
  const rows = await server.query<{ version: string; num: string; databases: string }>(
    "reading server version",
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num,
            (SELECT count(*) FROM pg_database
              WHERE NOT datistemplate AND (shobj_description(oid, 'pg_database') LIKE 'workspacedb.io/owner: %'
                                           OR shobj_description(oid, 'pg_database') LIKE 'workspacedb.io/v2 owner=% part=database')) AS databases`,
  );
  const row = rows[0]!;
  return {
    version: /^\d+(\.\d+)?/.exec(row.version)?.[0] ?? row.version,
    versionNumber: Number(row.num),
    databases: Number(row.databases),
    hardening: hardeningItems(await inspectHardening(server)),
  };
}

/** Checks that the connected role has CREATEDB and CREATEROLE (or is a superuser). */
export async function checkAdminPrivileges(server: ServerAccess): Promise<AdminPrivileges> {
  const rows = await server.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
    "reading the admin role's attributes",
    "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user",
  );
  const row = rows[0]!;
  if (row.rolsuper) return { missing: [], superuser: true };
  const missing: string[] = [];
  if (!row.rolcreatedb) missing.push("CREATEDB");
  if (!row.rolcreaterole) missing.push("CREATEROLE");
  return { missing, superuser: false };
}
