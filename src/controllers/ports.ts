// What the reconcilers need from PostgreSQL, in their own words; src/postgres provides it.
import type { DatabaseServer } from "../api/types.ts";
import type { ServerEndpoint } from "../postgres/server.ts";
import type { WorkspaceNames } from "../postgres/state.ts";

/** The database and the two logins of one workspace, and a server's admin endpoint: the SQL layer's own types. */
export type { ServerEndpoint, WorkspaceNames };

/** The state a workspace must be in (see DESIGN.md, Privileges). */
export interface DesiredWorkspace {
  names: WorkspaceNames;
  owner: { namespace: string; name: string };
  connectionLimit: number;
  statementTimeout: string;
  idleInTransactionSessionTimeout: string;
  extensions: string[];
  /** SCRAM verifiers used when a login has to be created. */
  verifiers: { readWrite: () => string; readOnly: () => string };
}

/** Who a database belongs to, according to its ownership marker. */
export interface DatabaseOwnership {
  exists: boolean;
  /** The marker's owner; null when the database is absent or carries no marker. */
  owner: { namespace: string; name: string } | null;
}

/** One DatabaseServer's admin connection, as the reconcilers use it. */
export interface ServerSql {
  serverInfo(): Promise<{ version: string; databases: number }>;
  /** Privileges the admin role lacks (e.g. `CREATEDB`); empty when it has all it needs. */
  missingAdminPrivileges(): Promise<string[]>;
  databaseOwnership(database: string): Promise<DatabaseOwnership>;
  /** Brings the workspace to `desired`; returns how many statements ran (0 when already there). */
  provision(desired: DesiredWorkspace): Promise<number>;
  /** True when `role` logs in to `database` with `password`; false when the password is refused. */
  checkLogin(database: string, role: string, password: string): Promise<boolean>;
  setPassword(role: string, verifier: string): Promise<void>;
  terminateSessions(role: string): Promise<number>;
  /** Sets NOLOGIN; a role that does not exist is fine. */
  disableLogin(role: string): Promise<void>;
  /** Ends sessions, drops the database (with force) and both logins; absent ones are fine. */
  dropWorkspace(names: WorkspaceNames): Promise<void>;
  close(): Promise<void>;
}

/** Opens a ServerSql for an endpoint (the composition root passes the real one). */
export type ServerSqlFactory = (endpoint: ServerEndpoint, server: DatabaseServer) => Promise<ServerSql>;

/** The logging the reconcilers do (winston's Logger satisfies it). */
export interface Log {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

/** What a reconcile pass asks of the work queue when it succeeds. */
export interface PassResult {
  requeueAfter?: number;
}
