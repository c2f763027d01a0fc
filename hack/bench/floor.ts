// The floor of the provisioning benchmark: the least work that provisions one workspace, done by a plain script.
import type { WorkspaceDatabase } from "../../src/api/types.ts";
import { desiredSecret, type ConnectionEndpoint } from "../../src/controllers/secret.ts";
import type { Secret } from "../../src/kube/types.ts";
import { generatePassword } from "../../src/postgres/password.ts";
import { planWorkspace } from "../../src/postgres/plan.ts";
import { scramSha256Verifier } from "../../src/postgres/scram.ts";
import type { ServerConnection } from "../../src/postgres/server.ts";
import type { SqlStatement } from "../../src/postgres/sql.ts";
import type { DesiredWorkspace, WorkspaceState } from "../../src/postgres/state.ts";
import { applyPlan } from "../../src/postgres/workspace.ts";

/** What the floor writes to Kubernetes for one object: two Secrets and one status patch. */
export interface FloorKube {
  createSecret(secret: Secret): Promise<void>;
  patchStatus(obj: WorkspaceDatabase, status: WorkspaceDatabase["status"]): Promise<void>;
}

/** The state of a server of major `major` where the workspace does not exist yet. */
export function freshState(admin: string, major: number): WorkspaceState {
  return { admin, major, database: null, readWrite: null, readOnly: null, inside: null };
}

/**
 * The statements that provision a fresh workspace: exactly the operator's plan for a workspace that
 * does not exist yet (a unit test pins that the two stay the same, so the ratio cannot be gamed).
 */
export function floorStatements(admin: string, major: number, desired: DesiredWorkspace): SqlStatement[] {
  return planWorkspace(freshState(admin, major), desired);
}

/** Each connection's server major, read once (not a cost of the floor's passes). */
const majors = new WeakMap<ServerConnection, number>();

async function majorOf(sql: ServerConnection): Promise<number> {
  let major = majors.get(sql);
  if (major === undefined) {
    major = Math.floor((await sql.serverInfo()).versionNumber / 10_000);
    majors.set(sql, major);
  }
  return major;
}

/**
 * Provisions `obj` the minimal way: its fresh plan, one SCRAM login per login, two Secrets, one status
 * patch. The same names, markers and Secret contents as the operator, none of its checks.
 */
export async function floorProvision(sql: ServerConnection, kube: FloorKube, obj: WorkspaceDatabase, database: string, endpoint: ConnectionEndpoint): Promise<void> {
  const owner = { namespace: obj.metadata.namespace ?? "", name: obj.metadata.name };
  const passwords = { readWrite: generatePassword(), readOnly: generatePassword() };
  const verifiers = { readWrite: scramSha256Verifier(passwords.readWrite), readOnly: scramSha256Verifier(passwords.readOnly) };
  const names = { database, readWrite: database, readOnly: `${database}_ro` };
  const desired: DesiredWorkspace = {
    names,
    owner,
    connectionLimit: obj.spec.connectionLimit ?? 50,
    statementTimeout: obj.spec.statementTimeout ?? "90min",
    idleInTransactionSessionTimeout: obj.spec.idleInTransactionSessionTimeout ?? "5min",
    extensions: [],
    verifiers: { readWrite: () => verifiers.readWrite, readOnly: () => verifiers.readOnly },
  };
  await applyPlan(sql, floorStatements(sql.adminRole, await majorOf(sql), desired));
  for (const [role, password] of [[names.readWrite, passwords.readWrite], [names.readOnly, passwords.readOnly]] as const) {
    const outcome = await sql.probeLogin(database, role, password);
    if (outcome.kind !== "accepted") throw new Error(`floor: ${role} did not log in (${outcome.kind})`);
  }
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  for (const [access, username, password] of [["read-write", names.readWrite, passwords.readWrite], ["read-only", names.readOnly, passwords.readOnly]] as const) {
    await kube.createSecret(desiredSecret({ owner: obj, access, endpoint, database, username, password, passwordChangedAt: now, handled: {} }));
  }
  await kube.patchStatus(obj, {
    observedGeneration: obj.metadata.generation,
    database,
    conditions: [{ type: "Ready", status: "True", reason: "Provisioned", message: "floor", lastTransitionTime: now, observedGeneration: obj.metadata.generation }],
  });
}
