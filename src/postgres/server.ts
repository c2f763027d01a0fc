// A connection to one PostgreSQL server as its admin role: a bounded pool plus short-lived clients per database.
import pg from "pg";
import { classifyPgError, PostgresError } from "./errors.ts";
import { Limiter } from "./limiter.ts";
import { checkAdminPrivileges, serverInfo } from "./admin.ts";
import type { AdminPrivileges, ServerInfo } from "./admin.ts";
import { checkLogin, disableLogin, setPassword, terminateSessions } from "./login.ts";
import { applyPlan, convergeWorkspace, databaseOwnerMarker, dropWorkspace, inspectWorkspace } from "./workspace.ts";
import type { ConvergeResult, DatabaseOwnership } from "./workspace.ts";
import type { OwnerReference } from "./naming.ts";
import type { Queryable, ServerAccess } from "./queryable.ts";
import type { SqlStatement } from "./sql.ts";
import type { DesiredWorkspace, WorkspaceNames, WorkspaceState } from "./state.ts";

/** Where a server is and how the admin role logs in. */
export interface ServerEndpoint {
  host: string;
  port: number;
  /** libpq sslmode: disable|allow|prefer|require|verify-ca|verify-full (see sslOption). */
  sslMode: string;
  maintenanceDatabase: string;
  user: string;
  password: string;
  /** PEM CA bundle for verify-ca / verify-full; Node's default CAs otherwise. */
  sslRootCert?: string;
}

/** Tuning of a ServerConnection. */
export interface ServerConnectionOptions {
  /** Most pooled connections to the maintenance database, and most simultaneous clients to workspace databases (default 4 each). */
  maxConnections?: number;
  /** Connect timeout in milliseconds (default 10000). */
  connectTimeoutMs?: number;
  /** `statement_timeout` of the admin's sessions in milliseconds (default 120000). */
  statementTimeoutMs?: number;
  /** `application_name` of every session (default `workspacedb-operator`). */
  applicationName?: string;
  /** Called with errors of idle pooled clients (e.g. the server restarted); they are dropped from the pool. */
  onIdleError?: (err: Error) => void;
}

/**
 * Maps libpq's sslmode to pg's `ssl` option. pg cannot fall back between TLS and plaintext, so `allow`
 * means plaintext and `prefer` means TLS without verification (a server without TLS then fails);
 * `require` encrypts without verifying; `verify-ca` checks the chain only; `verify-full` also the host name.
 */
export function sslOption(sslMode: string, ca?: string): pg.ClientConfig["ssl"] {
  switch (sslMode) {
    case "disable":
    case "allow":
      return false;
    case "prefer":
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...(ca === undefined ? {} : { ca }) };
    case "verify-full":
      return ca === undefined ? true : { rejectUnauthorized: true, ca };
    default:
      throw new Error(`unknown sslMode ${JSON.stringify(sslMode)}`);
  }
}

/** The admin's connection to one server; failures are PostgresErrors (plain Errors only for programming errors, e.g. a plaintext given as verifier). */
export class ServerConnection implements ServerAccess {
  /** The server this connection talks to. */
  readonly endpoint: ServerEndpoint;
  readonly #pool: pg.Pool;
  readonly #perDatabase: Limiter;
  readonly #options: Required<Omit<ServerConnectionOptions, "onIdleError">>;

  private constructor(endpoint: ServerEndpoint, options: ServerConnectionOptions) {
    this.endpoint = endpoint;
    this.#options = {
      maxConnections: options.maxConnections ?? 4,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      statementTimeoutMs: options.statementTimeoutMs ?? 120_000,
      applicationName: options.applicationName ?? "workspacedb-operator",
    };
    this.#perDatabase = new Limiter(this.#options.maxConnections);
    this.#pool = new pg.Pool({
      ...this.#adminConfig(endpoint.maintenanceDatabase),
      max: this.#options.maxConnections,
      idleTimeoutMillis: 30_000,
    });
    const onIdleError = options.onIdleError ?? (() => undefined);
    this.#pool.on("error", onIdleError);
  }

  /** Opens the pool and checks that the admin can log in; throws a classified PostgresError otherwise. */
  static async open(endpoint: ServerEndpoint, options: ServerConnectionOptions = {}): Promise<ServerConnection> {
    try {
      sslOption(endpoint.sslMode);
    } catch (err) {
      throw new PostgresError("InvalidSpec", `connecting to ${endpoint.host}:${endpoint.port}: unknown sslMode`, { cause: err });
    }
    const connection = new ServerConnection(endpoint, options);
    try {
      await connection.query("connecting", "SELECT 1");
      return connection;
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  /** Closes every pooled connection; the object is unusable afterwards. */
  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }

  /** Runs one query in the maintenance database. */
  async query<R extends object>(context: string, text: string, values?: unknown[]): Promise<R[]> {
    try {
      const result = await this.#pool.query<R>(text, values);
      return result.rows;
    } catch (err) {
      throw classifyPgError(err, context, [this.endpoint.password]);
    }
  }

  /** Runs `fn` with a fresh client connected as the admin to `database` (at most maxConnections at once); closed afterwards. */
  withDatabase<T>(database: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    return this.#perDatabase.run(() => this.#withDatabase(database, fn));
  }

  async #withDatabase<T>(database: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    const client = new pg.Client(this.#adminConfig(database));
    client.on("error", () => undefined); // surfaced by the pending query instead
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw classifyPgError(err, `connecting to database ${database}`, [this.endpoint.password]);
    }
    try {
      return await fn(client);
    } catch (err) {
      throw classifyPgError(err, `in database ${database}`, [this.endpoint.password]);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Connects as `user` with `password` and disconnects; throws the unclassified pg error on failure. */
  async tryLogin(database: string, user: string, password: string): Promise<void> {
    const client = new pg.Client(this.#clientConfig(database, user, password));
    client.on("error", () => undefined);
    try {
      await client.connect();
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Server version (e.g. "15.18") and number of non-template databases. */
  serverInfo(): Promise<ServerInfo> {
    return serverInfo(this);
  }

  /** Which of CREATEDB / CREATEROLE / LOGIN the admin lacks ([] for a superuser). */
  checkAdminPrivileges(): Promise<AdminPrivileges> {
    return checkAdminPrivileges(this);
  }

  /** Observes one workspace with read-only catalog queries. */
  inspectWorkspace(names: WorkspaceNames): Promise<WorkspaceState> {
    return inspectWorkspace(this, names);
  }

  /** Executes planned statements in order, each in its own database, outside transactions. */
  applyPlan(statements: readonly SqlStatement[]): Promise<number> {
    return applyPlan(this, statements);
  }

  /** Inspects, plans and applies until the plan is empty (at most `maxPasses`); returns what was applied. */
  convergeWorkspace(desired: DesiredWorkspace, maxPasses?: number): Promise<ConvergeResult> {
    return convergeWorkspace(this, desired, maxPasses);
  }

  /** Whether `database` exists and which WorkspaceDatabase its COMMENT names. */
  databaseOwnerMarker(database: string): Promise<DatabaseOwnership> {
    return databaseOwnerMarker(this, database);
  }

  /** Terminates sessions, drops the database (WITH FORCE) and both roles; see workspace.ts. */
  dropWorkspace(names: WorkspaceNames, expectedOwner?: OwnerReference): Promise<void> {
    return dropWorkspace(this, names, expectedOwner);
  }

  /** Sets a role's password from a SCRAM verifier (never the plaintext). */
  setPassword(role: string, verifier: string): Promise<void> {
    return setPassword(this, role, verifier);
  }

  /** True when `role` logs in to `database` with `password`; false on authentication failure or NOLOGIN. */
  checkLogin(database: string, role: string, password: string): Promise<boolean> {
    return checkLogin(this, database, role, password);
  }

  /** Ends every session of `role`; returns how many were ended. */
  terminateSessions(role: string): Promise<number> {
    return terminateSessions(this, role);
  }

  /** Sets `role` NOLOGIN; false when the role does not exist. */
  disableLogin(role: string): Promise<boolean> {
    return disableLogin(this, role);
  }

  // The admin's sessions resolve names in pg_catalog only: workspace logins can create objects in
  // `public`, and none of them may shadow a function or operator the admin's queries use.
  #adminConfig(database: string): pg.ClientConfig {
    return {
      ...this.#clientConfig(database, this.endpoint.user, this.endpoint.password),
      options: "-c search_path=pg_catalog",
      statement_timeout: this.#options.statementTimeoutMs,
    };
  }

  #clientConfig(database: string, user: string, password: string): pg.ClientConfig {
    return {
      host: this.endpoint.host,
      port: this.endpoint.port,
      database,
      user,
      password,
      ssl: sslOption(this.endpoint.sslMode, this.endpoint.sslRootCert),
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      application_name: this.#options.applicationName,
    };
  }
}
