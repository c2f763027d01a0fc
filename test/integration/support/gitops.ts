// What GitOps tools read from our objects: every watch event of an object's life, its kstatus result
// (sigs.k8s.io/cli-utils, through hack/tools/kstatus) and its Argo CD health (our Lua checks run by
// gopher-lua, through hack/tools/argo-health), and the objects recorded for the Lua checks' tests.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Watch } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import { groundBinary } from "../../support/bin.ts";

/** A condition as the objects carry it. */
export interface ObservedCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** The parts of a workspacedb.io object the status tools read. */
export interface ObservedObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; generation?: number; deletionTimestamp?: string; resourceVersion?: string; [key: string]: unknown };
  spec?: unknown;
  status?: { observedGeneration?: number; conditions?: ObservedCondition[]; [key: string]: unknown };
}

/** kstatus's result for one object. */
export interface KstatusResult {
  status?: "InProgress" | "Failed" | "Current" | "Terminating" | "NotFound" | "Unknown";
  message?: string;
  error?: string;
}

/** Argo CD's health of one object. */
export interface ArgoHealth {
  status?: "Healthy" | "Progressing" | "Degraded" | "Suspended" | "Missing" | "Unknown";
  message?: string;
  error?: string;
}

/** The folder of the Argo CD health check of `kind` (Argo CD's resource_customizations layout). */
export function argoCheckDir(kind: "WorkspaceDatabase" | "DatabaseServer"): string {
  return join(REPO_ROOT, "config", "argocd", "resource_customizations", "workspacedb.io", kind);
}

/** Every watch event (ADDED, MODIFIED, DELETED) of the objects under one collection path, in order. */
export class History {
  readonly events: { type: string; object: ObservedObject }[] = [];
  #abort: AbortController | undefined;
  #stopped = false;
  #lastVersion: string | undefined;
  readonly #path: string;

  private constructor(path: string) {
    this.#path = path;
  }

  /** Starts watching `path` (a collection, e.g. /apis/workspacedb.io/v1alpha1/databaseservers). */
  static async start(path: string): Promise<History> {
    const history = new History(path);
    await history.#watch();
    return history;
  }

  async #watch(): Promise<void> {
    const params = this.#lastVersion === undefined ? {} : { resourceVersion: this.#lastVersion, allowWatchBookmarks: false };
    this.#abort = await new Watch(getGround().kubeConfig).watch(
      this.#path,
      params,
      (type: string, object: ObservedObject) => {
        if (type === "BOOKMARK" || type === "ERROR") return;
        this.events.push({ type, object: structuredClone(object) });
        this.#lastVersion = object.metadata.resourceVersion;
      },
      () => {
        // A watch the API server ended is resumed where it stopped, so no event is missed.
        if (!this.#stopped) void this.#watch().catch(() => undefined);
      },
    );
  }

  /** The objects named `name`, one per event, oldest first. */
  of(name: string): ObservedObject[] {
    return this.events.filter((e) => e.object.metadata.name === name).map((e) => e.object);
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }
}

/** Runs one of hack/tools' checkers over objects, one JSON line each way. */
async function runChecker<T>(args: string[], objects: readonly ObservedObject[]): Promise<T[]> {
  const binary = groundBinary(args[0] ?? "");
  const output = await new Promise<string>((resolve, reject) => {
    const child = execFile(binary, args.slice(1), { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${args.join(" ")}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
    child.stdin?.end(objects.map((o) => JSON.stringify(o)).join("\n") + "\n");
  });
  const lines = output.trim().split("\n").filter((l) => l !== "");
  if (lines.length !== objects.length) throw new Error(`${args[0]} answered ${lines.length} lines for ${objects.length} objects`);
  return lines.map((l) => JSON.parse(l) as T);
}

/** kstatus (cli-utils status.Compute) of each object. */
export function kstatus(objects: readonly ObservedObject[]): Promise<KstatusResult[]> {
  return runChecker<KstatusResult>(["kstatus"], objects);
}

/** Argo CD's health of each object, from our Lua check of its kind. */
export function argoHealth(objects: readonly ObservedObject[]): Promise<ArgoHealth[]> {
  const kind = objects[0]?.kind === "DatabaseServer" ? "DatabaseServer" : "WorkspaceDatabase";
  return runChecker<ArgoHealth>(["argo-health", "eval", join(argoCheckDir(kind), "health.lua")], objects);
}

/** The condition `type` of an object when it is True. */
export function trueCondition(obj: ObservedObject, type: string): ObservedCondition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type && c.status === "True");
}

/** Argo CD's health for each kstatus result, as the README's table has it. */
export const ARGO_FOR_KSTATUS: Record<string, string> = { Current: "Healthy", InProgress: "Progressing", Failed: "Degraded", Terminating: "Progressing" };

/**
 * One line per event for a failure message: kstatus, Argo CD and the conditions, so a broken
 * invariant shows the whole life of the object.
 */
export function describeLife(objects: readonly ObservedObject[], results: readonly KstatusResult[], health: readonly ArgoHealth[]): string {
  return objects.map((o, i) => {
    const conditions = (o.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`).join(",");
    return `  #${i} gen ${o.metadata.generation}/${o.status?.observedGeneration} ${o.metadata.deletionTimestamp ? "deleting " : ""}[${conditions}] → ${results[i]?.status ?? results[i]?.error} / ${health[i]?.status ?? health[i]?.error}`;
  }).join("\n");
}

/**
 * The object as a test input for the Lua check: what the API server returned, without what only
 * identifies this run's copy (uid, resourceVersion, managedFields).
 */
function recordable(obj: ObservedObject): ObservedObject {
  const { uid: _uid, resourceVersion: _rv, managedFields: _mf, ...metadata } = obj.metadata;
  return { ...obj, metadata: { ...metadata, name: obj.metadata.name } };
}

/**
 * The objects of the Argo CD check's tests (testdata/STATE.yaml) are recorded by the e2e tests: with
 * WSDB_RECORD_ARGO=1 each state's live object is written there, with its expected health from kstatus
 * (the independent reading) and the message the check gave; otherwise the committed one must still
 * be what the operator writes in that state (same conditions, same generation bookkeeping).
 */
export async function recordState(kind: "WorkspaceDatabase" | "DatabaseServer", state: string, obj: ObservedObject): Promise<string | undefined> {
  const dir = argoCheckDir(kind);
  const file = join(dir, "testdata", `${state}.yaml`);
  const [result] = await kstatus([obj]);
  const [health] = await argoHealth([{ ...obj, kind }]);
  if (process.env.WSDB_RECORD_ARGO === "1") {
    mkdirSync(join(dir, "testdata"), { recursive: true });
    writeFileSync(file, stringify(recordable(obj), { lineWidth: 0 }));
    const testsFile = join(dir, "health_test.yaml");
    const tests = existsSync(testsFile) ? (parse(readFileSync(testsFile, "utf8")) as { tests: { healthStatus: ArgoHealth; inputPath: string }[] }) : { tests: [] };
    const entry = { healthStatus: { status: ARGO_FOR_KSTATUS[result?.status ?? ""] as ArgoHealth["status"], message: health?.message ?? "" }, inputPath: `testdata/${state}.yaml` };
    const at = tests.tests.findIndex((t) => t.inputPath === entry.inputPath);
    if (at >= 0) tests.tests[at] = entry;
    else tests.tests.push(entry);
    tests.tests.sort((a, b) => a.inputPath.localeCompare(b.inputPath));
    writeFileSync(testsFile, stringify(tests, { lineWidth: 0 }));
    return undefined;
  }
  if (!existsSync(file)) return `${file} is missing: record it with WSDB_RECORD_ARGO=1`;
  const committed = parse(readFileSync(file, "utf8")) as ObservedObject;
  const shape = (o: ObservedObject) => JSON.stringify({
    generationObserved: o.metadata.generation === o.status?.observedGeneration,
    deleting: o.metadata.deletionTimestamp !== undefined,
    conditions: (o.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason]).sort(),
  });
  return shape(committed) === shape(obj) ? undefined : `${file} no longer matches what the operator writes in state ${state}: ${shape(committed)} vs ${shape(obj)}; record it again with WSDB_RECORD_ARGO=1`;
}
