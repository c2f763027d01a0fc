// What a DatabaseServer allows: which namespaces (spec.namespaceSelector) and how many connections; nothing created or torn down otherwise.
import type { DatabaseServer, WorkspaceDatabase } from "../api/types.ts";
import { Reasons } from "./conditions.ts";
import { SPEC_DEFAULTS, type WorkspaceDeps } from "./context.ts";
import { ReconcileFailure } from "./failure.ts";
import { describeSelector, selectorMatches } from "./selector.ts";

/** How often a refused object looks again (Namespace labels are not watched). */
const NOT_ALLOWED_RETRY_MS = 60_000;

/**
 * Throws a ReconcileFailure (NotAllowed) when `server` has a namespaceSelector that the object's
 * Namespace does not match. A workspace provisioned before is reported, not torn down: its database and
 * logins stay as they are (and its deletion still cleans up, which does not call this).
 */
export async function checkNamespaceAllowed(deps: WorkspaceDeps, server: DatabaseServer, obj: WorkspaceDatabase): Promise<void> {
  const selector = server.spec.namespaceSelector;
  if (selector === undefined) return;
  const namespace = obj.metadata.namespace ?? "";
  const labels = (await deps.kube.getNamespace(namespace))?.labels ?? {};
  if (selectorMatches(selector, labels)) return;
  const wanted = describeSelector(selector);
  const message = obj.status?.database !== undefined
    ? `namespace ${namespace} no longer matches the namespaceSelector of DatabaseServer "${server.metadata.name}" (${wanted}); database "${obj.status.database}" and its logins are kept untouched but no longer reconciled`
    : `DatabaseServer "${server.metadata.name}" accepts WorkspaceDatabases only from namespaces matching ${wanted}; namespace ${namespace} does not match, so nothing was created`;
  throw new ReconcileFailure(Reasons.NotAllowed, message, { kind: "after", ms: NOT_ALLOWED_RETRY_MS });
}

/**
 * Throws a ReconcileFailure (InvalidSpec) when the object asks for more connections than the server's
 * `maxConnectionLimit` allows: one tenant must not be able to fill the server's max_connections.
 */
export function checkConnectionLimit(server: DatabaseServer, obj: WorkspaceDatabase): void {
  const max = server.spec.maxConnectionLimit;
  const asked = obj.spec.connectionLimit ?? SPEC_DEFAULTS.connectionLimit;
  if (max === undefined || asked <= max) return;
  throw new ReconcileFailure(
    Reasons.InvalidSpec,
    `spec.connectionLimit ${asked} is above the maximum ${max} that DatabaseServer "${server.metadata.name}" allows; lower it (the platform team sets the maximum); nothing was changed`,
    { kind: "after", ms: NOT_ALLOWED_RETRY_MS },
  );
}
