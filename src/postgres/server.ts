// A connection to one PostgreSQL server as its admin role: a bounded pool plus short-lived clients per database.
import pg from "pg";
import { checkAdminPrivileges, serverInfo } from "./admin.ts";
import { controlGap, inspectControl, type ControlGap } from "./control.ts";
import type { ServerInfo } from "./admin.ts";
import type { ClaimFacts } from "./claim.ts";
import { classifyPgError, PostgresError, tlsFailure } from "./errors.ts";
import { currentPriority } from "../runtime/lane.ts";
import { Limiter } from "./limiter.ts";
import { disableLogin, setPassword, terminateSessions } from "./login.ts";
import { probeLogin, type LoginOutcome } from "./login-probe.ts";
import { formatMarker, type MarkedPart, type WorkspaceRef } from "./marker.ts";
import { misplacedExtensions } from "./plan.ts";
import type { Queryable, ServerAccess } from "./queryable.ts";
import { ScramOnlyClient } from "./scram-only.ts";
import { readSharedFacts } from "./shared.ts";
import { SharedSnapshot, type SharedRead } from "./snapshot.ts";
import * as sql from "./sql.ts";
import type { DesiredWorkspace, WorkspaceNames } from "./state.ts";
import { dropDatabase, dropRole } from "./teardown.ts";
import { convergeWorkspace } from "./workspace.ts";
import type { ProvisionResult, ServerSql } from "../controllers/ports.ts";

/** How long the admin role's attributes are trusted before they are read again. */
export const PRIVILEGES_RECHECK_MS = 30_000;

/** libpq sslmode names. */
type SslModeName = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

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
  /** Where sslRootCert came from, for messages (e.g. `tls.caSecretRef ns/name`). */
  sslRootCertSource?: string;
}

/** Tuning of a ServerConnection. */
export interface ServerConnectionOptions {
  /** Most pooled connections to the maintenance database, and most simultaneous clients to workspace databases (default 4 each). */
  maxConnections?: number;
  /** Connect timeout in milliseconds (default 10000). */
  connectTimeoutMs?: number;
  /**
   * Server-side `statement_timeout` of every admin session in milliseconds (default 15000): no statement
   * of this process can run longer, even if the process is frozen (leader fencing, see README).
   */
  statementTimeoutMs?: number;
  /** Server-side `lock_timeout` of every admin session in milliseconds (default 5000). */
  lockTimeoutMs?: number;
  /** `application_name` of every session (default `workspacedb-operator`); the leader identity, so statement logs say who ran what. */
  applicationName?: string;
  /**
   * Called synchronously right before every statement is written to the server; throws to refuse it
   * (this replica no longer holds its lease). Default: never refuses.
   */
  fence?: () => void;
  /** Called with errors of idle pooled clients (e.g. the server restarted); they are dropped from the pool. */
  onIdleError?: (err: Error) => void;
  /**
   * How long a snapshot of the shared catalogs answers for settled workspaces (default 30 s); below the
   * resync period, so that each resync reads a new one and drift is seen at the next resync.
   */
  snapshotMaxAgeMs?: number;
  /** The settled workspaces expected on this server (from the caches), read into every snapshot. */
  expectedWorkspaces?: () => Iterable<WorkspaceNames>;
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
export class ServerConnection implements ServerAccess, ServerSql {
  /** The server this connection talks to. */
  readonly endpoint: ServerEndpoint;
  readonly #pool: pg.Pool;
  /** In front of the pool: a resync's statements never take its last connection (see limiter.ts). */
  readonly #admin: Limiter;
  readonly #perDatabase: Limiter;
  readonly #options: Required<Omit<ServerConnectionOptions, "onIdleError" | "snapshotMaxAgeMs" | "expectedWorkspaces">>;
  #privileges: { at: number; missing: string[] } | undefined;
  readonly #shared: SharedSnapshot;

  private constructor(endpoint: ServerEndpoint, options: ServerConnectionOptions) {
    this.endpoint = endpoint;
    this.#options = {
      maxConnections: options.maxConnections ?? 4,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      statementTimeoutMs: options.statementTimeoutMs ?? 15_000,
      lockTimeoutMs: options.lockTimeoutMs ?? 5_000,
      applicationName: options.applicationName ?? "workspacedb-operator",
      fence: options.fence ?? (() => undefined),
    };
    this.#admin = new Limiter(this.#options.maxConnections);
    this.#perDatabase = new Limiter(this.#options.maxConnections);
    this.#shared = new SharedSnapshot((workspaces) => readSharedFacts(this, workspaces), {
      maxAgeMs: options.snapshotMaxAgeMs ?? 30_000,
      ...(options.expectedWorkspaces === undefined ? {} : { expected: options.expectedWorkspaces }),
    });
    this.#pool = new pg.Pool({
      ...this.#adminConfig(endpoint.maintenanceDatabase),
      // The admin's password goes out only inside SCRAM, to a server that proves it knows the verifier.
      Client: ScramOnlyClient,
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
      await connection.query("checking the admin login", "SELECT 1");
      return connection;
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  /** A failed connection attempt: a TLS failure says which check failed; anything else is classified. */
  #connectFailure(err: unknown, context: string): PostgresError {
    const { host, sslMode, sslRootCert, sslRootCertSource } = this.endpoint;
    const tls = tlsFailure(err, { host, sslMode, caSource: sslRootCert === undefined ? undefined : (sslRootCertSource ?? "the given CA") });
    return tls === undefined ? classifyPgError(err, context, [this.endpoint.password]) : new PostgresError(tls.kind, `${context}: ${tls.message}`, { cause: tls, ...(tls.code === undefined ? {} : { code: tls.code }) });
  }

  /** Closes every pooled connection; the object is unusable afterwards. */
  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }

  /** The admin role the operator connects as. */
  get adminRole(): string {
    return this.endpoint.user;
  }

  /**
   * Runs one query in the maintenance database (fenced: refused once this replica lost its lease); a
   * resync pass's queries (low priority) wait while all but one pooled connection are busy.
   */
  query<R extends object>(context: string, text: string, values?: unknown[]): Promise<R[]> {
    return this.#admin.run(() => this.#query<R>(context, text, values), currentPriority());
  }

  async #query<R extends object>(context: string, text: string, values?: unknown[]): Promise<R[]> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw this.#connectFailure(err, `${context}: connecting to ${this.endpoint.host}:${this.endpoint.port}`);
    }
    let failure: unknown;
    try {
      // Fence and write in the same synchronous run: nothing can be sent after the fence closed.
      this.#options.fence();
      const result = await client.query<R>(text, values);
      return result.rows;
    } catch (err) {
      failure = err;
      throw err instanceof PostgresError ? err : classifyPgError(err, context, [this.endpoint.password]);
    } finally {
      // As pg's Pool.query: a client that saw an error is discarded.
      client.release(failure instanceof Error ? failure : undefined);
    }
  }

  /**
   * Runs `fn` with a fresh client connected as the admin to `database` (at most maxConnections at once,
   * one of them kept for high-priority work); closed afterwards.
   */
  withDatabase<T>(database: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    return this.#perDatabase.run(() => this.#withDatabase(database, fn), currentPriority());
  }

  async #withDatabase<T>(database: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    const client = new ScramOnlyClient(this.#adminConfig(database));
    client.on("error", () => undefined); // surfaced by the pending query instead
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw this.#connectFailure(err, `connecting to database ${database} on ${this.endpoint.host}:${this.endpoint.port}`);
    }
    const fence = this.#options.fence;
    const fenced: Queryable = {
      query: <R extends object>(text: string, values?: unknown[]) => {
        fence();
        return client.query<R>(text, values);
      },
    };
    try {
      return await fn(fenced);
    } catch (err) {
      throw classifyPgError(err, `in database ${database}`, [this.endpoint.password]);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Server version, workspace database count and what only a superuser can harden. */
  serverInfo(): Promise<ServerInfo> {
    return serverInfo(this);
  }

  /** Of `scope`, the workspace logins and databases the admin cannot manage, read now (one query); null when it manages them all. */
  async controlGap(scope: { databases: readonly string[]; roles: readonly string[] }): Promise<ControlGap | null> {
    return controlGap(await inspectControl(this, scope));
  }

  /**
   * Which of CREATEDB / CREATEROLE the admin lacks ([] for a superuser). A complete set is trusted for
   * PRIVILEGES_RECHECK_MS (every pass asks, and role attributes hardly ever change); a lack is read
   * again at every ask, so the pass after a superuser's grant sees it (those passes are retries, a
   * minute apart, or asked for by a person).
   */
  async missingAdminPrivileges(): Promise<string[]> {
    const now = Date.now();
    const known = this.#privileges;
    if (known !== undefined && known.missing.length === 0 && now - known.at < PRIVILEGES_RECHECK_MS) return known.missing;
    const missing = (await checkAdminPrivileges(this)).missing;
    this.#privileges = { at: now, missing };
    return missing;
  }

  /** Markers and attributes of a workspace's database and roles, read now. */
  async claimFacts(names: WorkspaceNames): Promise<ClaimFacts> {
    return (await this.#shared.read(names, false)).facts.claim;
  }

  /**
   * Markers, attributes and state of a workspace's database and roles: read now, or (`allowSnapshot`)
   * from this server's snapshot of every workspace seen, at most `snapshotMaxAgeMs` old (see snapshot.ts).
   */
  sharedFacts(names: WorkspaceNames, allowSnapshot: boolean): Promise<SharedRead> {
    return this.#shared.read(names, allowSnapshot);
  }

  /** Leaves a deleted workspace out of later snapshots. */
  forgetWorkspace(database: string): void {
    this.#shared.forget(database);
  }

  /**
   * Writes ownership markers, in the order given. Only a database's owner may comment on it: an adopted
   * database owned by one of the workspace's own logins (marked just before) gets the admin as a member
   * of that login first, as every workspace has it anyway.
   */
  async mark(owner: WorkspaceRef, names: WorkspaceNames, parts: readonly MarkedPart[]): Promise<void> {
    for (const part of parts) {
      if (part === "database") {
        const [db] = await this.query<{ owner: string; member: boolean; major: number }>(
          `reading the owner of database ${names.database}`,
          `SELECT pg_get_userbyid(datdba) AS owner, pg_has_role(current_user, datdba, 'USAGE') AS member,
                  current_setting('server_version_num')::int / 10000 AS major
           FROM pg_database WHERE datname = $1`,
          [names.database],
        );
        if (db !== undefined && !db.member && (db.owner === names.readWrite || db.owner === names.readOnly)) {
          const grant = sql.grantRoleMembership(db.owner, this.endpoint.user, db.major);
          await this.query(grant.summary, grant.sql);
        }
      }
      const statement = part === "database"
        ? sql.commentOnDatabase(names.database, formatMarker(owner, part))
        : sql.commentOnRole(part === "read-write" ? names.readWrite : names.readOnly, formatMarker(owner, part));
      await this.query(statement.summary, statement.sql);
    }
  }

  /** Inspects (starting from `shared` when given), plans and applies until the workspace is in place. */
  async provision(desired: DesiredWorkspace, shared?: SharedRead): Promise<ProvisionResult> {
    const result = await convergeWorkspace(this, desired, shared === undefined ? {} : { shared });
    return { statements: result.applied.length, misplacedExtensions: misplacedExtensions(result.state.inside, desired) };
  }

  /** Logs in as `role` with SCRAM-SHA-256 only; see login-probe.ts. */
  probeLogin(database: string, role: string, password: string): Promise<LoginOutcome> {
    return probeLogin({
      host: this.endpoint.host,
      port: this.endpoint.port,
      database,
      user: role,
      password,
      sslMode: this.endpoint.sslMode as SslModeName,
      ...(this.endpoint.sslRootCert === undefined ? {} : { ca: this.endpoint.sslRootCert }),
      applicationName: this.#options.applicationName,
      connectTimeoutMs: this.#options.connectTimeoutMs,
    });
  }

  /** Sets a role's password from a SCRAM verifier (never the plaintext). */
  setPassword(role: string, verifier: string): Promise<void> {
    return setPassword(this, role, verifier);
  }

  /** Ends every session of `role`; returns how many were ended. */
  terminateSessions(role: string): Promise<number> {
    return terminateSessions(this, role);
  }

  /** Sets `role` NOLOGIN; false (and nothing done) when the role does not exist. */
  disableLogin(role: string): Promise<boolean> {
    return disableLogin(this, role);
  }

  /** Drops a database unless a session the admin cannot end is in it. */
  dropDatabase(database: string): Promise<void> {
    return dropDatabase(this, database);
  }

  /** Drops a role (absent is fine). */
  dropRole(role: string): Promise<void> {
    return dropRole(this, role);
  }

  // The admin's sessions resolve names in pg_catalog only: workspace logins can create objects in
  // `public`, and none of them may shadow a function or operator the admin's queries use.
  #adminConfig(database: string): pg.ClientConfig {
    return {
      ...this.#clientConfig(database, this.endpoint.user, this.endpoint.password),
      options: "-c search_path=pg_catalog",
      // Sent in the startup packet: enforced by the server even if this process is frozen.
      statement_timeout: this.#options.statementTimeoutMs,
      lock_timeout: this.#options.lockTimeoutMs,
      idle_in_transaction_session_timeout: this.#options.statementTimeoutMs,
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
