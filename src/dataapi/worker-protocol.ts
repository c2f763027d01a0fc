// The messages between the operator's main thread and the data API's worker thread (worker.ts). The
// worker serves HTTPS and reads PostgreSQL; the main thread keeps the caches and the API client, and
// answers the worker's calls: who may do what (SubjectAccessReviews) and which workspaces are Ready.
import type { Settings } from "../config/schema.ts";
import type { UserInfo } from "./authn.ts";
import type { Decision, ResourceAttributes } from "./authz.ts";
import type { ServingCertificate } from "./server.ts";
import type { ReadOnlyLogin } from "./tables.ts";

/** What the worker starts with (its workerData). */
export interface WorkerStart {
  settings: Settings["dataApi"];
  connectTimeoutMs: number;
  certificate: ServingCertificate;
  /** The data of `kube-system/extension-apiserver-authentication`, undefined until read. */
  authentication: Record<string, string> | undefined;
  log: { level: string; format: "json" | "text"; defaultMeta: Record<string, unknown> };
}

/** The calls the worker makes to the main thread, with their arguments and answers. */
export interface WorkerCalls {
  authorize: { args: [user: UserInfo, attributes: ResourceAttributes]; result: Decision };
  readyWorkspaces: { args: [namespace: string | undefined]; result: Array<[string, string]> };
  readOnlyLogin: { args: [namespace: string, name: string]; result: ReadOnlyLogin | undefined };
}

/** A call's name. */
export type WorkerCallName = keyof WorkerCalls;

/** Messages from the worker. */
export type FromWorker =
  | { type: "listening"; port: number }
  | { type: "failed"; error: string }
  | { [K in WorkerCallName]: { type: "call"; id: number; method: K; args: WorkerCalls[K]["args"] } }[WorkerCallName]
  | { type: "request"; resource: string; verb: string; code: number }
  | { type: "preview"; seconds: number }
  | { type: "stopped" };

/** Messages to the worker. */
export type ToWorker =
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: string }
  | { type: "authentication"; data: Record<string, string> | undefined }
  | { type: "certificate"; certificate: ServingCertificate }
  | { type: "stop" };
