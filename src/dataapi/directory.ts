// The workspaces the data API reads, from the operator's caches: Ready ones only, with the read-only
// login's address and password taken from the server and the Secret the operator wrote.
import { ScramOnlyClient } from "../postgres/scram-only.ts";
import type { DatabaseServer, WorkspaceDatabase } from "../api/types.ts";
import { READY, findCondition } from "../controllers/conditions.ts";
import { controlledBy, secretName, secretValue } from "../controllers/secret.ts";
import type { Secret } from "../kube/types.ts";
import type { Queryable } from "../postgres/queryable.ts";
import { sslOption } from "../postgres/server.ts";
import type { ReadOnlyLogin, SessionRunner, WorkspaceDirectory } from "./tables.ts";

/** The caches the directory reads (informers' `get`/`list`). */
export interface DirectoryCaches {
  workspaces: { list(): WorkspaceDatabase[]; get(key: string): WorkspaceDatabase | undefined };
  servers: { get(name: string): DatabaseServer | undefined };
  secrets: { get(key: string): Secret | undefined };
  /** The CA (PEM) in a DatabaseServer's tls.caSecretRef, undefined when it cannot be read. */
  readCa?: (namespace: string, name: string) => Promise<string | undefined>;
}

function isReady(ws: WorkspaceDatabase): boolean {
  return ws.metadata.deletionTimestamp === undefined && ws.status?.database !== undefined && ws.status.server !== undefined &&
    findCondition(ws.status.conditions, READY)?.status === "True";
}

/** A {@link WorkspaceDirectory} over the operator's caches. */
export function cachedDirectory(caches: DirectoryCaches): WorkspaceDirectory {
  return {
    async readyWorkspaces(namespace) {
      const out: Array<[string, string]> = [];
      for (const ws of caches.workspaces.list()) {
        const ns = ws.metadata.namespace ?? "";
        if ((namespace === undefined || ns === namespace) && isReady(ws)) out.push([ns, ws.metadata.name]);
      }
      return out.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
    },
    async readOnlyLogin(namespace, name): Promise<ReadOnlyLogin | undefined> {
      const ws = caches.workspaces.get(`${namespace}/${name}`);
      if (ws === undefined || !isReady(ws)) return undefined;
      const server = caches.servers.get(ws.status?.server ?? "");
      const secret = caches.secrets.get(`${namespace}/${secretName(name, "read-only")}`);
      if (server === undefined || secret === undefined || !controlledBy(secret, ws)) return undefined;
      const user = ws.status?.credentials?.readOnly?.username ?? secretValue(secret, "username");
      const password = secretValue(secret, "password");
      if (user === undefined || password === undefined) return undefined;
      const caRef = server.spec.tls?.caSecretRef;
      const ca = caRef === undefined ? undefined : await caches.readCa?.(caRef.namespace, caRef.name);
      return {
        ...(ca === undefined ? {} : { ca }),
        host: server.spec.host,
        port: server.spec.port ?? 5432,
        sslMode: server.spec.sslMode ?? "prefer",
        database: ws.status?.database ?? "",
        user,
        password,
      };
    },
  };
}

/** Options of {@link pgSessions}. */
export interface SessionOptions {
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  applicationName: string;
}

/**
 * Sessions of read-only logins: one connection per request, read-only transactions, a server-side
 * statement_timeout and lock_timeout, closed afterwards.
 */
export function pgSessions(options: SessionOptions): SessionRunner {
  return async <T>(login: ReadOnlyLogin, fn: (db: Queryable) => Promise<T>): Promise<T> => {
    // SCRAM-SHA-256 only, as every session of the operator (postgres/scram-only.ts).
    const client = new ScramOnlyClient({
      host: login.host,
      port: login.port,
      database: login.database,
      user: login.user,
      password: login.password,
      ssl: sslOption(login.sslMode, login.ca),
      application_name: options.applicationName,
      connectionTimeoutMillis: options.connectTimeoutMs,
      statement_timeout: options.statementTimeoutMs,
      lock_timeout: Math.min(options.statementTimeoutMs, 2_000),
      // A deadline of our own too: tenant code that runs during a query (a policy, a view) could
      // lift the server-side timeout; the server then notices the closed connection within a second.
      query_timeout: options.statementTimeoutMs + 2_000,
      // Read-only transactions; only pg_catalog on the search_path, so no function or operator a
      // tenant created can stand in for a built-in one.
      options: "-c default_transaction_read_only=on -c search_path=pg_catalog,pg_temp -c client_connection_check_interval=1000",
    });
    client.on("error", () => undefined); // surfaced by the pending query instead
    try {
      await client.connect();
      return await fn({ query: <R extends object>(text: string, values?: unknown[]) => client.query<R>(text, values) });
    } finally {
      await client.end().catch(() => undefined);
    }
  };
}
