// The narrow Kubernetes port the reconcilers use: typed reads and writes of our kinds, Secrets and Events.
import { randomBytes } from "node:crypto";
import {
  API_VERSION,
  DATABASE_SERVERS,
  GROUP,
  VERSION,
  WORKSPACE_DATABASES,
  type DatabaseServer,
  type DatabaseServerStatus,
  type WorkspaceDatabase,
  type WorkspaceDatabaseStatus,
} from "../api/types.ts";
import { isConflict, isNotFound, toKubeError } from "./errors.ts";
import type { KubeRequester, Method, RequestOptions } from "./rest.ts";
import type { KubeEvent, KubeList, KubeObject, Secret } from "./types.ts";

/** Field manager name on every write. */
export const FIELD_MANAGER = "workspacedb-operator";

/** The object an Event is about. */
export interface EventTarget {
  kind: "WorkspaceDatabase" | "DatabaseServer";
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** Labels and annotations of a Namespace (what namespaceSelector and adoption look at). */
export interface NamespaceMeta {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Everything the reconcilers need from the Kubernetes API, and nothing more. */
export interface KubePort {
  getWorkspaceDatabase(namespace: string, name: string): Promise<WorkspaceDatabase | undefined>;
  getDatabaseServer(name: string): Promise<DatabaseServer | undefined>;
  listDatabaseServers(): Promise<DatabaseServer[]>;
  getNamespace(name: string): Promise<NamespaceMeta | undefined>;
  /** Sets the finalizer list, guarded by `resourceVersion` (409 when the object changed). */
  setFinalizers(obj: WorkspaceDatabase, finalizers: string[]): Promise<WorkspaceDatabase>;
  /** Sets a DatabaseServer's finalizer list, guarded by `resourceVersion`. */
  setServerFinalizers(server: DatabaseServer, finalizers: string[]): Promise<DatabaseServer>;
  patchWorkspaceDatabaseStatus(namespace: string, name: string, status: WorkspaceDatabaseStatus): Promise<void>;
  patchDatabaseServerStatus(name: string, status: DatabaseServerStatus): Promise<void>;
  /**
   * Reads a Secret; undefined when absent. With `cachedOnly` (served from a cache), a Secret the cache
   * does not hold counts as absent: the caller must cope with AlreadyExists when creating it. With
   * `fresh`, it is read from the API server even when a cache holds it (whole, not compacted).
   */
  getSecret(namespace: string, name: string, options?: { cachedOnly?: boolean; fresh?: boolean }): Promise<Secret | undefined>;
  createSecret(secret: Secret): Promise<Secret>;
  /** Replaces a Secret; `secret.metadata.resourceVersion` guards against concurrent writers. */
  replaceSecret(secret: Secret): Promise<Secret>;
  /** Deletes a Secret, only if its uid is still `uid` (so a Secret made since is never removed); absent is fine. */
  deleteSecret(namespace: string, name: string, uid: string): Promise<void>;
  /**
   * Records an Event about `target` (cluster-scoped targets' Events go to `eventNamespace`). Fire and
   * forget: never throws, never waits (an Event is optional: a namespace being deleted refuses them).
   */
  recordEvent(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): void;
}

/** Options of {@link createKubeClient}. */
export interface KubeClientOptions {
  /** Namespace for Events about cluster-scoped objects. */
  eventNamespace: string;
  /** Name of this operator instance, recorded on Events. */
  instance: string;
  /** Told about Events that could not be recorded. */
  onEventError?: (reason: string, err: Error) => void;
  /**
   * Called synchronously before every write; throws to refuse it (this replica no longer holds its
   * lease). Default: never refuses.
   */
  fence?: () => void;
}

const MERGE_PATCH = "application/merge-patch+json";

const seg = encodeURIComponent;
const workspacesPath = (namespace: string) => `/apis/${GROUP}/${VERSION}/namespaces/${seg(namespace)}/${WORKSPACE_DATABASES}`;
const serversPath = `/apis/${GROUP}/${VERSION}/${DATABASE_SERVERS}`;
const secretsPath = (namespace: string) => `/api/v1/namespaces/${seg(namespace)}/secrets`;

/** Creates the KubePort that calls the API server through `client`. */
export function createKubeClient(client: KubeRequester, options: KubeClientOptions): KubePort {
  const fence = options.fence ?? (() => undefined);
  async function call<T>(context: string, method: Method, path: string, request: RequestOptions = {}): Promise<T> {
    try {
      return await client.request<T>(method, path, { ...request, context });
    } catch (err) {
      throw toKubeError(err, context);
    }
  }
  async function write<T>(context: string, method: Method, path: string, request: RequestOptions): Promise<T> {
    fence();
    return call<T>(context, method, path, { ...request, query: { fieldManager: FIELD_MANAGER, ...request.query } });
  }
  async function orUndefined<T>(context: string, path: string): Promise<T | undefined> {
    try {
      return await call<T>(context, "GET", path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
  const mergePatch = (body: unknown): RequestOptions => ({ body, contentType: MERGE_PATCH });

  return {
    getWorkspaceDatabase: (namespace, name) =>
      orUndefined<WorkspaceDatabase>(`reading WorkspaceDatabase ${namespace}/${name}`, `${workspacesPath(namespace)}/${seg(name)}`),

    getDatabaseServer: (name) => orUndefined<DatabaseServer>(`reading DatabaseServer ${name}`, `${serversPath}/${seg(name)}`),

    listDatabaseServers: async () => (await call<KubeList<DatabaseServer>>("listing DatabaseServers", "GET", serversPath)).items ?? [],

    getNamespace: async (name) => {
      const ns = await orUndefined<KubeObject>(`reading Namespace ${name}`, `/api/v1/namespaces/${seg(name)}`);
      return ns === undefined ? undefined : { labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} };
    },

    setFinalizers: (obj, finalizers) =>
      write<WorkspaceDatabase>(
        `updating finalizers of WorkspaceDatabase ${obj.metadata.namespace}/${obj.metadata.name}`,
        "PATCH",
        `${workspacesPath(obj.metadata.namespace ?? "")}/${seg(obj.metadata.name)}`,
        mergePatch({ metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } }),
      ),

    setServerFinalizers: (server, finalizers) =>
      write<DatabaseServer>(
        `updating finalizers of DatabaseServer ${server.metadata.name}`,
        "PATCH",
        `${serversPath}/${seg(server.metadata.name)}`,
        mergePatch({ metadata: { finalizers, resourceVersion: server.metadata.resourceVersion } }),
      ),

    patchWorkspaceDatabaseStatus: async (namespace, name, status) => {
      await write(`updating status of WorkspaceDatabase ${namespace}/${name}`, "PATCH", `${workspacesPath(namespace)}/${seg(name)}/status`, mergePatch({ status }));
    },

    patchDatabaseServerStatus: async (name, status) => {
      await write(`updating status of DatabaseServer ${name}`, "PATCH", `${serversPath}/${seg(name)}/status`, mergePatch({ status }));
    },

    getSecret: (namespace, name) => orUndefined<Secret>(`reading Secret ${namespace}/${name}`, `${secretsPath(namespace)}/${seg(name)}`),

    createSecret: (secret) =>
      write<Secret>(`creating Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`, "POST", secretsPath(secret.metadata?.namespace ?? ""), { body: secret }),

    replaceSecret: (secret) =>
      write<Secret>(
        `updating Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`,
        "PUT",
        `${secretsPath(secret.metadata?.namespace ?? "")}/${seg(secret.metadata?.name ?? "")}`,
        { body: secret },
      ),

    deleteSecret: async (namespace, name, uid) => {
      fence();
      try {
        await call(`deleting Secret ${namespace}/${name}`, "DELETE", `${secretsPath(namespace)}/${seg(name)}`, {
          body: { preconditions: { uid } },
        });
      } catch (err) {
        // Gone already (404), or replaced by another Secret of that name (409: uid precondition failed).
        if (isNotFound(err) || isConflict(err)) return;
        throw err;
      }
    },

    recordEvent: (target, type, reason, message) => {
      try {
        fence();
      } catch {
        return; // another replica may lead: it tells the story from here
      }
      const namespace = target.metadata.namespace ?? options.eventNamespace;
      const now = new Date().toISOString();
      const event: KubeEvent = {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${target.metadata.name}.${randomBytes(8).toString("hex")}`, namespace },
        involvedObject: {
          apiVersion: API_VERSION,
          kind: target.kind,
          name: target.metadata.name,
          namespace: target.metadata.namespace,
          uid: target.metadata.uid,
          resourceVersion: target.metadata.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: FIELD_MANAGER },
        reportingComponent: `${GROUP}/${FIELD_MANAGER}`,
        reportingInstance: options.instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      call(`recording Event ${reason}`, "POST", `/api/v1/namespaces/${seg(namespace)}/events`, { body: event })
        .catch((err: unknown) => options.onEventError?.(reason, err instanceof Error ? err : new Error(String(err))));
    },
  };
}
