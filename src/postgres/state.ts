// The shapes the planner works on: a workspace's names, its desired settings and its observed state.
import type { WorkspaceRef } from "./marker.ts";
import type { DatabasePrivilege } from "./sql.ts";

/** The three names of one workspace in PostgreSQL. */
export interface WorkspaceNames {
  database: string;
  readWrite: string;
  readOnly: string;
}

/** What a workspace should look like (from the WorkspaceDatabase spec, with defaults applied). */
export interface DesiredWorkspace {
  names: WorkspaceNames;
  /** The WorkspaceDatabase recorded as owner in the ownership markers (COMMENTs) of the database and both roles. */
  owner: WorkspaceRef;
  /** Connection limit of the database and of each login (-1 = none). */
  connectionLimit: number;
  /** `statement_timeout` of the database, e.g. `90min`. */
  statementTimeout: string;
  /** `idle_in_transaction_session_timeout` of the database, e.g. `5min`. */
  idleInTransactionSessionTimeout: string;
  /** Extensions created by the admin role when missing, in schema EXTENSIONS_SCHEMA. */
  extensions: readonly string[];
  /**
   * SCRAM verifiers of the Secrets' passwords, computed only when a login must be created or re-enabled
   * (a statement log may show them, never the password).
   */
  verifiers: { readWrite: () => string; readOnly: () => string };
}

/** The observed database (from the maintenance database's catalogs). */
export interface DatabaseState {
  owner: string;
  comment: string | null;
  connectionLimit: number;
  /** Database-wide settings (pg_db_role_setting with no role), name → value as stored. */
  settings: Readonly<Record<string, string>>;
  /** Privileges granted explicitly (from the ACL, defaults filled in) to PUBLIC, the read/write and the read-only login. */
  publicPrivileges: readonly DatabasePrivilege[];
  readWritePrivileges: readonly DatabasePrivilege[];
  readOnlyPrivileges: readonly DatabasePrivilege[];
  /** Whether the admin may connect to it (it may not yet when adopting someone else's database). */
  adminCanConnect: boolean;
}

/** An observed login role. */
export interface RoleState {
  /** Its COMMENT: the ownership marker. */
  comment: string | null;
  canLogin: boolean;
  /** The role's own connection limit (-1 = none). */
  connectionLimit: number;
  /** Role-wide settings (`ALTER ROLE … SET`), name → value. */
  config: Readonly<Record<string, string>>;
  /** Settings of this role in the workspace database only (`ALTER ROLE … IN DATABASE … SET`). */
  databaseConfig: Readonly<Record<string, string>>;
  /**
   * Whether the admin holds the membership the operator grants itself: on 16 and later one that
   * inherits the login's privileges; before 16 any membership (a NOINHERIT admin then acts as the
   * login with SET ROLE where it needs its privileges).
   */
  adminIsMember: boolean;
}

/** Global default privileges (pg_default_acl) of one creating role towards the read-only login. */
export interface DefaultPrivilegesState {
  tables: boolean;
  sequences: boolean;
  schemas: boolean;
}

/** A schema or relation the read-only login lacks access to; `grantable` when the admin may grant it. */
export interface MissingGrant {
  schema: string;
  name: string;
  grantable: boolean;
  /**
   * The owner to act as (SET ROLE) to grant it: set only when the admin is a member of the owner
   * without its privileges (a NOINHERIT admin on PostgreSQL 15 and earlier).
   */
  actAs?: string;
}

/** What is inside the workspace database. */
export interface InsideState {
  /** Facts about schema `public`, or null when it does not exist. */
  publicSchema: {
    publicCanCreate: boolean;
    /**
     * Whether the admin has the privileges of the schema's owner, so it may change its ACL: false on
     * PostgreSQL 14, where the bootstrap superuser owns `public` (reported in status.hardening).
     */
    adminControls: boolean;
    /** The owner to act as (SET ROLE) to change it: a NOINHERIT admin before 16 (pg_database_owner); null otherwise. */
    actAs: string | null;
    /** The read/write login's effective USAGE and CREATE (through PUBLIC too). */
    readWriteCanUse: boolean;
    readWriteCanCreate: boolean;
    /** Both granted to the read/write login itself, so revoking PUBLIC's CREATE takes nothing from it. */
    readWriteGranted: boolean;
  } | null;
  /** Non-system schemas on which the read-only login has no USAGE (`name` = schema name). */
  schemasWithoutReadOnlyUsage: MissingGrant[];
  /** Tables, views, materialized views and foreign tables on which the read-only login has no SELECT. */
  tablesWithoutReadOnlySelect: MissingGrant[];
  /** Sequences on which the read-only login has no SELECT. */
  sequencesWithoutReadOnlySelect: MissingGrant[];
  /** Default privileges FOR ROLE read/write and FOR ROLE admin. */
  defaultPrivileges: { readWrite: DefaultPrivilegesState; admin: DefaultPrivilegesState };
  /** Installed extensions and the schema each one is in. */
  extensions: { name: string; schema: string }[];
  /** Facts about the schema EXTENSIONS_SCHEMA, or null when it does not exist. */
  extensionsSchema: {
    owner: string;
    /** A role other than its owner (or PUBLIC) may create objects in it. */
    othersCanCreate: boolean;
    readWriteCanUse: boolean;
  } | null;
}

/** The schema extensions are created in: owned by the admin, no workspace login may create objects in it. */
export const EXTENSIONS_SCHEMA = "extensions";

/** Everything inspectWorkspace observed about one workspace; read-only catalog facts. */
export interface WorkspaceState {
  /** The connected admin role (`current_user`). */
  admin: string;
  /** The server's major version, e.g. 18. */
  major: number;
  database: DatabaseState | null;
  readWrite: RoleState | null;
  readOnly: RoleState | null;
  /** Null when the database does not exist or the admin cannot connect to it yet. */
  inside: InsideState | null;
}
