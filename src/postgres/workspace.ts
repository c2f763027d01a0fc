// Operations on a whole workspace: inspect, apply a plan, converge.
import { classifyPgError, PostgresError } from "./errors.ts";
import { inspectInside } from "./inspect.ts";
import { planWorkspace } from "./plan.ts";
import { readSharedFacts, type SharedFacts } from "./shared.ts";
import type { SqlStatement } from "./sql.ts";
import type { DesiredWorkspace, WorkspaceNames, WorkspaceState } from "./state.ts";
import type { ServerAccess } from "./queryable.ts";

/** What convergeWorkspace did: the statements applied (all passes) and the final observed state. */
export interface ConvergeResult {
  applied: SqlStatement[];
  state: WorkspaceState;
}

/**
 * Observes one workspace: database and roles from the maintenance database (or from `shared`, read
 * earlier in the pass), privileges and extensions from inside the database — one query each.
 */
export async function inspectWorkspace(server: ServerAccess, names: WorkspaceNames, shared?: SharedFacts): Promise<WorkspaceState> {
  const facts = shared ?? (await readSharedFacts(server, [names])).get(names.database)!;
  const { admin, major, database, readWrite, readOnly } = facts;
  const inside = database?.adminCanConnect === true
    ? await server.withDatabase(names.database, (db) => inspectInside(db, names, admin))
    : null;
  return { admin, major, database, readWrite, readOnly, inside };
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
 * Inspects, plans and applies until the plan is empty, at most `maxPasses` times (default 3). The
 * first inspection may start from `shared` facts read earlier (when `fresh` is false they may be up
 * to a snapshot's age old: then a non-empty plan is re-planned from a fresh read before anything is
 * applied). A plan that created the database is complete by construction (it starts from template0,
 * whose contents are known), so it is not inspected again: the next resync verifies it. Throws
 * PostgresError "Transient" if the plan is still not empty after `maxPasses`.
 */
export async function convergeWorkspace(
  server: ServerAccess,
  desired: DesiredWorkspace,
  options: { maxPasses?: number; shared?: { facts: SharedFacts; fresh: boolean } } = {},
): Promise<ConvergeResult> {
  const maxPasses = options.maxPasses ?? 3;
  const applied: SqlStatement[] = [];
  let shared = options.shared;
  for (let pass = 0; pass < maxPasses; pass++) {
    let state = await inspectWorkspace(server, desired.names, shared?.facts);
    let plan = planWorkspace(state, desired);
    if (plan.length > 0 && shared?.fresh === false) {
      state = await inspectWorkspace(server, desired.names);
      plan = planWorkspace(state, desired);
    }
    shared = undefined;
    if (plan.length === 0) return { applied, state };
    await applyPlan(server, plan);
    applied.push(...plan);
    if (state.database === null) return { applied, state };
  }
  const state = await inspectWorkspace(server, desired.names);
  if (planWorkspace(state, desired).length === 0) return { applied, state };
  throw new PostgresError("Transient", `database ${desired.names.database} did not converge after ${maxPasses} passes`);
}
