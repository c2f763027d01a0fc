// What the reconcilers need from PostgreSQL, in their own words; src/postgres/server.ts provides it.
import type { DatabaseServer } from "../api/types.ts";
import type { ServerInfo } from "../postgres/admin.ts";
import type { ClaimFacts } from "../postgres/claim.ts";
import type { ControlGap } from "../postgres/control.ts";
import type { LoginOutcome } from "../postgres/login-probe.ts";
import type { MarkedPart, WorkspaceRef } from "../postgres/marker.ts";
import type { ServerEndpoint } from "../postgres/server.ts";
import type { SharedRead } from "../postgres/snapshot.ts";
import type { DesiredWorkspace, WorkspaceNames } from "../postgres/state.ts";

export type { ClaimFacts, DesiredWorkspace, LoginOutcome, MarkedPart, ServerEndpoint, ServerInfo, SharedRead, WorkspaceNames, WorkspaceRef };

/** What one provisioning pass did. */
export interface ProvisionResult {
  /** Statements applied (0 when everything was already in place). */
  statements: number;
  /** Requested extensions that sit in another schema (created there by 0.1): left alone, reported. */
  misplacedExtensions: { name: string; schema: string }[];
}

/** One DatabaseServer's admin connection, as the reconcilers use it. Every method acts on what it is given; ownership is decided by the caller. */
export interface ServerSql {
  /** The admin role the operator connects as. */
  readonly adminRole: string;
  serverInfo(): Promise<ServerInfo>;
  /** Privileges the admin role lacks (e.g. `CREATEDB`); empty when it has all it needs. */
  missingAdminPrivileges(): Promise<string[]>;
  /**
   * Of `scope` (this server's workspace databases and logins), those the admin cannot manage (an upgrade
   * to 16+, a changed admin role), with a superuser's fix; null when none.
   */
  controlGap(scope: { databases: readonly string[]; roles: readonly string[] }): Promise<ControlGap | null>;
  /** Markers and privileged attributes of the database and both roles, read now (one catalog query). */
  claimFacts(names: WorkspaceNames): Promise<ClaimFacts>;
  /**
   * Markers, attributes and state of the database and both roles: read now, or (`allowSnapshot`) from
   * a snapshot of the server's shared catalogs (at most half a resync period old) — then nothing may be written on them.
   */
  sharedFacts(names: WorkspaceNames, allowSnapshot: boolean): Promise<SharedRead>;
  /** Leaves a deleted workspace out of later snapshots. */
  forgetWorkspace(database: string): void;
  /** Writes the ownership markers of `parts` (in the order given) for `owner`. */
  mark(owner: WorkspaceRef, names: WorkspaceNames, parts: readonly MarkedPart[]): Promise<void>;
  /** Brings the workspace to `desired`, starting from `shared` when given (re-read before any change if not fresh). */
  provision(desired: DesiredWorkspace, shared?: SharedRead): Promise<ProvisionResult>;
  /** Logs in as `role` to `database` with `password` (SCRAM-SHA-256 only) and says what that proved. */
  probeLogin(database: string, role: string, password: string): Promise<LoginOutcome>;
  /** Sets a role's password from its SCRAM verifier, from the maintenance database. */
  setPassword(role: string, verifier: string): Promise<void>;
  /** Ends every session of `role`; returns how many were ended. */
  terminateSessions(role: string): Promise<number>;
  /** Sets NOLOGIN; false (and nothing done) when the role does not exist. */
  disableLogin(role: string): Promise<boolean>;
  /** Drops a database (with force); refuses (SQLSTATE 55006, naming them) while sessions the admin cannot end are in it. */
  dropDatabase(database: string): Promise<void>;
  dropRole(role: string): Promise<void>;
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
