// What a WorkspaceDatabase pass works from: its dependencies, names, server and endpoint.
import type { DatabaseServer, WorkspaceDatabase } from "../api/types.ts";
import type { KubePort } from "../kube/client.ts";
import { checkDatabaseName, deriveDatabaseName, readOnlyRoleName } from "../postgres/naming.ts";
import { Reasons } from "./conditions.ts";
import { ReconcileFailure } from "./failure.ts";
import type { WorkspaceNames, WorkspaceRef } from "./ports.ts";
import type { LoginChecks } from "./login-checks.ts";
import type { DriftKind } from "../runtime/metrics.ts";
import type { ConnectionEndpoint } from "./secret.ts";
import type { ServerRegistry } from "./servers.ts";

/** Defaults of optional spec fields (the CRD applies the same ones at admission). */
export const SPEC_DEFAULTS = {
  connectionLimit: 50,
  statementTimeout: "90min",
  idleInTransactionSessionTimeout: "5min",
} as const;

/** Everything a WorkspaceDatabase pass needs, passed in by the composition root. */
export interface WorkspaceDeps {
  kube: KubePort;
  servers: ServerRegistry;
  now: () => Date;
  newPassword: () => string;
  /** SCRAM-SHA-256 verifier of a password (computed off the event loop): the only form a password is sent to PostgreSQL in. */
  verifier: (password: string) => Promise<string>;
  /** Which passes prove passwords by logging in (always after a change; periodically within a budget). */
  loginChecks: LoginChecks;
  /** Counts a repair of something changed behind the operator's back (the drift metric). */
  onDrift?: (kind: DriftKind) => void;
}

/**
 * The names a WorkspaceDatabase uses: explicit, then recorded in status, then derived. Throws a
 * ReconcileFailure (InvalidSpec) for a name that could be another database's read-only login.
 */
export function workspaceNames(obj: WorkspaceDatabase): WorkspaceNames {
  const database = obj.spec.databaseName ?? obj.status?.database ?? deriveDatabaseName(obj.metadata.namespace ?? "", obj.metadata.name);
  const problem = checkDatabaseName(database);
  if (problem !== null) {
    throw new ReconcileFailure(Reasons.InvalidSpec, `${problem}: "${database}"; nothing was created`, { kind: "never" });
  }
  return { database, readWrite: database, readOnly: readOnlyRoleName(database) };
}

/** The WorkspaceDatabase as ownership markers record it. */
export function workspaceRef(obj: WorkspaceDatabase): WorkspaceRef {
  return { namespace: obj.metadata.namespace ?? "", name: obj.metadata.name };
}

/** The server a WorkspaceDatabase uses: once recorded in status it sticks, even if the default moves. */
export function serverName(obj: WorkspaceDatabase): string | undefined {
  return obj.spec.serverRef?.name ?? obj.status?.server;
}

/** The endpoint written into Secrets for a server. */
export function endpointOf(server: DatabaseServer, ca?: string): ConnectionEndpoint {
  const s = server.spec;
  return {
    host: s.host,
    port: s.port ?? 5432,
    sslMode: s.sslMode ?? "prefer",
    ...(s.externalHost ? { externalHost: s.externalHost, externalPort: s.externalPort ?? s.port ?? 5432 } : {}),
    ...(ca === undefined ? {} : { ca }),
  };
}
