// What only a superuser can lock down on a server, read from the maintenance database, each with the statements to run once.
import type { HardeningItem } from "../api/types.ts";
import { quoteIdent } from "./sql.ts";
import type { ServerAccess } from "./queryable.ts";

/** The facts the hardening report is computed from. */
export interface HardeningFacts {
  /** Major version, e.g. 15. */
  major: number;
  /** The admin role (current_user). */
  admin: string;
  /** Whether the admin is a superuser (then it hardens what it needs itself). */
  superuser: boolean;
  maintenanceDatabase: string;
  /** Privileges PUBLIC holds on the maintenance database (CONNECT, TEMPORARY). */
  maintenancePublicPrivileges: string[];
  /** PUBLIC may execute lo_create(oid) in the maintenance database (the server's default). */
  largeObjectsOpen: boolean;
  /** reserved_connections (16+; 0 before). */
  reservedConnections: number;
  /** The admin may use the reserved connection slots (16+). */
  adminMayUseReserved: boolean;
}

const FACTS_QUERY = `
SELECT current_setting('server_version_num')::int / 10000 AS major,
       current_user AS admin,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       current_database() AS maintenance_database,
       coalesce((SELECT array_agg(a.privilege_type ORDER BY a.privilege_type)
                 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                 WHERE d.datname = current_database() AND a.grantee = 0), '{}') AS maintenance_public_privileges,
       EXISTS (SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
               WHERE p.oid = 'lo_create(oid)'::regprocedure AND a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS large_objects_open,
       coalesce(current_setting('reserved_connections', true), '0')::int AS reserved_connections,
       coalesce((SELECT pg_has_role(current_user, oid, 'USAGE') FROM pg_roles WHERE rolname = 'pg_use_reserved_connections'), false) AS admin_may_use_reserved`;

/** Reads the hardening facts (one query on the maintenance database). */
export async function inspectHardening(server: ServerAccess): Promise<HardeningFacts> {
  const rows = await server.query<{
    major: number; admin: string; superuser: boolean; maintenance_database: string; maintenance_public_privileges: string[];
    large_objects_open: boolean; reserved_connections: number; admin_may_use_reserved: boolean;
  }>("reading what only a superuser can harden", FACTS_QUERY);
  const r = rows[0]!;
  return {
    major: r.major,
    admin: r.admin,
    superuser: r.superuser,
    maintenanceDatabase: r.maintenance_database,
    maintenancePublicPrivileges: r.maintenance_public_privileges,
    largeObjectsOpen: r.large_objects_open,
    reservedConnections: r.reserved_connections,
    adminMayUseReserved: r.admin_may_use_reserved,
  };
}

/**
 * What a non-superuser admin cannot lock down (DESIGN.md, Privileges), each with the statements a
 * superuser runs once. Empty for a superuser admin. Pure.
 */
export function hardeningItems(facts: HardeningFacts): HardeningItem[] {
  if (facts.superuser) return [];
  const admin = quoteIdent(facts.admin);
  const items: HardeningItem[] = [];
  if (facts.major <= 14) {
    items.push({
      name: "public-schema",
      message:
        "on PostgreSQL 14 the bootstrap superuser owns schema public of every database created from template0, as workspace databases are, " +
        "so the admin cannot revoke CREATE on it from PUBLIC: the read-only login (after turning default_transaction_read_only off) " +
        "can create objects in its workspace's public schema; once a superuser has run the statements in a workspace database, the operator keeps it revoked there",
      statements: [
        "-- in each workspace database, once after it is created; at its next pass the operator grants CREATE on public to the " +
          "read/write login in its own right (add GRANT ALL ON SCHEMA public TO \"<read/write login>\"; to skip the wait):",
        "ALTER SCHEMA public OWNER TO pg_database_owner;",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
      ],
    });
  }
  if (facts.largeObjectsOpen) {
    items.push({
      name: "large-objects",
      message:
        "any login, the read-only one included (after turning default_transaction_read_only off in its session), can create large objects " +
        "in its workspace database; the functions belong to the bootstrap superuser",
      statements: [
        "-- in template1 and in each workspace database:",
        "REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea) FROM PUBLIC;",
      ],
    });
  }
  const open = facts.maintenancePublicPrivileges.filter((p) => p === "CONNECT" || p === "TEMPORARY");
  if (open.length > 0) {
    const db = quoteIdent(facts.maintenanceDatabase);
    items.push({
      name: "maintenance-database",
      message:
        `every login of the server, workspace logins included, holds ${open.join(" and ")} on the maintenance database ${facts.maintenanceDatabase} ` +
        "through PUBLIC; only its owner can revoke that (the GRANT keeps the operator's admin role able to connect)",
      statements: [`REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM PUBLIC;`, `GRANT CONNECT ON DATABASE ${db} TO ${admin};`],
    });
  }
  if (facts.major >= 16 && (facts.reservedConnections === 0 || !facts.adminMayUseReserved)) {
    items.push({
      name: "reserved-connections",
      message:
        "a leaked password can fill the server's connection slots (up to each login's connection limit, for every workspace); " +
        "reserved connection slots for the admin role keep regeneration and clean-up working when the server is full",
      statements: [
        ...(facts.reservedConnections === 0 ? ["ALTER SYSTEM SET reserved_connections = 3;  -- takes effect after a restart"] : []),
        `GRANT pg_use_reserved_connections TO ${admin};`,
      ],
    });
  }
  return items;
}
