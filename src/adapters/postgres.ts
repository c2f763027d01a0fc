// Adapts the PostgreSQL layer (src/postgres) to the port the reconcilers use (controllers/ports.ts).
import type { DesiredWorkspace, ServerEndpoint, ServerSql } from "../controllers/ports.ts";
import { ServerConnection, type ServerConnectionOptions } from "../postgres/server.ts";

/** Opens the admin pool of a server (checking that the admin logs in) and wraps it as a ServerSql. */
export async function openServerSql(endpoint: ServerEndpoint, options: ServerConnectionOptions): Promise<ServerSql> {
  const conn = await ServerConnection.open(endpoint, options);
  return {
    serverInfo: () => conn.serverInfo(),
    missingAdminPrivileges: async () => (await conn.checkAdminPrivileges()).missing,
    async databaseOwnership(database) {
      const ownership = await conn.databaseOwnerMarker(database);
      return ownership.exists ? { exists: true, owner: ownership.owner } : { exists: false, owner: null };
    },
    async provision(desired: DesiredWorkspace) {
      const result = await conn.convergeWorkspace({
        names: desired.names,
        owner: desired.owner,
        connectionLimit: desired.connectionLimit,
        statementTimeout: desired.statementTimeout,
        idleInTransactionSessionTimeout: desired.idleInTransactionSessionTimeout,
        extensions: desired.extensions,
        // Used only when a login must be created or re-enabled; a statement log may show them.
        verifiers: { readWrite: desired.verifiers.readWrite(), readOnly: desired.verifiers.readOnly() },
      });
      return result.applied.length;
    },
    checkLogin: (database, role, password) => conn.checkLogin(database, role, password),
    setPassword: (role, verifier) => conn.setPassword(role, verifier),
    terminateSessions: (role) => conn.terminateSessions(role),
    async disableLogin(role) {
      await conn.disableLogin(role);
    },
    dropWorkspace: (names) => conn.dropWorkspace(names),
    close: () => conn.close(),
  };
}
