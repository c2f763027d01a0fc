// Operations on a whole workspace: inspect, apply a plan, converge, read the ownership marker, drop.
import { classifyPgError, PostgresError } from "./errors.ts";
import { inspectDatabase, inspectInside, inspectRole, currentUser } from "./inspect.ts";
import { parseOwnerMarker, sameOwner } from "./naming.ts";
import type { OwnerReference } from "./naming.ts";
import { planWorkspace } from "./plan.ts";
import * as sql from "./sql.ts";
import type { SqlStatement } from "./sql.ts";
import type { DesiredWorkspace, WorkspaceNames, WorkspaceState } from "./state.ts";
import { terminateSessions } from "./login.ts";
import type { Queryable, ServerAccess } from "./queryable.ts";

/** Whether a database exists and, if so, its COMMENT and the owner that COMMENT records. */
export type DatabaseOwnership =
  | { exists: false }
  | { exists: true; comment: string | null; owner: OwnerReference | null };

/** What convergeWorkspace did: the statements applied (all passes) and the final observed state. */
export interface ConvergeResult {
  applied: SqlStatement[];
  state: WorkspaceState;
}

/** Observes one workspace: database and roles from the maintenance database, the rest from inside. */
export async function inspectWorkspace(server: ServerAccess, names: WorkspaceNames): Promise<WorkspaceState> {
  const context = `inspecting database ${names.database}`;
  const inMaintenance: Queryable = {
    query: async <R extends object>(text: string, values?: unknown[]) => ({ rows: await server.query<R>(context, text, values) }),
  };
  const admin = await currentUser(inMaintenance);
  const database = await inspectDatabase(inMaintenance, names);
  const readWrite = await inspectRole(inMaintenance, names.readWrite, names.database);
  const readOnly = await inspectRole(inMaintenance, names.readOnly, names.database);
  const inside = database?.adminCanConnect === true
    ? await server.withDatabase(names.database, (db) => inspectInside(db, names, admin))
    : null;
  return { admin, database, readWrite, readOnly, inside };
}

/**
 * Runs statements in order, each on its own (autocommit, so CREATE/DROP DATABASE work), grouping
 * consecutive statements for the same workspace database on one client. Stops at the first failure,
 * throwing a PostgresError whose message names the statement's summary. Returns how many ran.
 */
export async function applyPlan(server: ServerAccess, statements: readonly SqlStatement[]): Promise<number> {
  let done = 0;
  while (done < statements.length) {
    const first = statements[done]!;
    if (first.database === null) {
      await server.query(first.summary, first.sql);
      done++;
      continue;
    }
    const database = first.database;
    let end = done;
    while (end < statements.length && statements[end]!.database === database) end++;
    const group = statements.slice(done, end);
    await server.withDatabase(database, async (db) => {
      for (const statement of group) {
        try {
          await db.query(statement.sql);
        } catch (err) {
          throw classifyPgError(err, statement.summary);
        }
      }
    });
    done = end;
  }
  return done;
}

/**
 * Inspects, plans and applies until the plan is empty, at most `maxPasses` times (default 3: a fresh
 * database needs two). Throws PostgresError "Transient" if the plan is still not empty after that.
 */
export async function convergeWorkspace(server: ServerAccess, desired: DesiredWorkspace, maxPasses = 3): Promise<ConvergeResult> {
  const applied: SqlStatement[] = [];
  for (let pass = 0; pass < maxPasses; pass++) {
    const state = await inspectWorkspace(server, desired.names);
    const plan = planWorkspace(state, desired);
    if (plan.length === 0) return { applied, state };
    await applyPlan(server, plan);
    applied.push(...plan);
  }
  const state = await inspectWorkspace(server, desired.names);
  if (planWorkspace(state, desired).length === 0) return { applied, state };
  throw new PostgresError("Transient", `database ${desired.names.database} did not converge after ${maxPasses} passes`);
}

/** Reads whether `database` exists and which WorkspaceDatabase its COMMENT records. */
export async function databaseOwnerMarker(server: ServerAccess, database: string): Promise<DatabaseOwnership> {
  const rows = await server.query<{ comment: string | null }>(
    `reading the owner of database ${database}`,
    "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
    [database],
  );
  const row = rows[0];
  if (row === undefined) return { exists: false };
  return { exists: true, comment: row.comment, owner: parseOwnerMarker(row.comment) };
}

/**
 * Deletes a workspace: terminates the logins' sessions, `DROP DATABASE IF EXISTS … WITH (FORCE)`,
 * `DROP ROLE IF EXISTS` both logins. Idempotent. When `expectedOwner` is given and the database's
 * marker names someone else, throws PostgresError "Conflict" and drops nothing.
 */
export async function dropWorkspace(server: ServerAccess, names: WorkspaceNames, expectedOwner?: OwnerReference): Promise<void> {
  if (expectedOwner !== undefined) {
    const marker = await databaseOwnerMarker(server, names.database);
    if (marker.exists && marker.owner !== null && !sameOwner(marker.owner, expectedOwner)) {
      throw new PostgresError("Conflict", `database ${names.database} belongs to WorkspaceDatabase ${marker.owner.namespace}/${marker.owner.name}`);
    }
  }
  for (const role of [names.readWrite, names.readOnly]) {
    const exists = await server.query("looking up role", "SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
    if (exists.length > 0) await terminateSessions(server, role);
  }
  for (const statement of [sql.dropDatabase(names.database), sql.dropRole(names.readWrite), sql.dropRole(names.readOnly)]) {
    await server.query(statement.summary, statement.sql);
  }
}
