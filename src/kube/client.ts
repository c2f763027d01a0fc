// The narrow Kubernetes port the reconcilers use: typed reads and writes of our kinds, Secrets and Events.
import { randomBytes } from "node:crypto";
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Secret,
} from "@kubernetes/client-node";
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
   * does not hold counts as absent: the caller must cope with AlreadyExists when creating it.
   */
  getSecret(namespace: string, name: string, options?: { cachedOnly?: boolean }): Promise<V1Secret | undefined>;
  createSecret(secret: V1Secret): Promise<V1Secret>;
  /** Replaces a Secret; `secret.metadata.resourceVersion` guards against concurrent writers. */
  replaceSecret(secret: V1Secret): Promise<V1Secret>;
  /** Deletes a Secret, only if its uid is still `uid` (so a Secret made since is never removed); absent is fine. */
  deleteSecret(namespace: string, name: string, uid: string): Promise<void>;
  /**
   * Records an Event about `target` (cluster-scoped targets' Events go to `eventNamespace`). Fire and
   * forget: never throws, never waits (an Event is optional: a namespace being deleted refuses them).
   */
  recordEvent(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): void;
}

/** Options of the client-node backed KubePort. */
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

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Creates the KubePort backed by @kubernetes/client-node. */
export function createKubeClient(kc: KubeConfig, options: KubeClientOptions): KubePort {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  const fence = options.fence ?? (() => undefined);
  async function call<T>(context: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toKubeError(err, context);
    }
  }
  async function write<T>(context: string, fn: () => Promise<T>): Promise<T> {
    fence();
    return call(context, fn);
  }
  async function orUndefined<T>(context: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call(context, fn);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  return {
    getWorkspaceDatabase: (namespace, name) =>
      orUndefined(`reading WorkspaceDatabase ${namespace}/${name}`, async () =>
        (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES, name })) as WorkspaceDatabase),

    getDatabaseServer: (name) =>
      orUndefined(`reading DatabaseServer ${name}`, async () =>
        (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: DATABASE_SERVERS, name })) as DatabaseServer),

    listDatabaseServers: () =>
      call("listing DatabaseServers", async () => {
        const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: DATABASE_SERVERS })) as { items?: DatabaseServer[] };
        return list.items ?? [];
      }),

    getNamespace: (name) =>
      orUndefined(`reading Namespace ${name}`, async () => {
        const ns = await core.readNamespace({ name });
        return { labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} };
      }),

    setFinalizers: (obj, finalizers) =>
      write(`updating finalizers of WorkspaceDatabase ${obj.metadata.namespace}/${obj.metadata.name}`, async () =>
        (await custom.patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace: obj.metadata.namespace ?? "",
            plural: WORKSPACE_DATABASES,
            name: obj.metadata.name,
            body: { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } },
            fieldManager: FIELD_MANAGER,
          },
          mergePatch,
        )) as WorkspaceDatabase),

    setServerFinalizers: (server, finalizers) =>
      write(`updating finalizers of DatabaseServer ${server.metadata.name}`, async () =>
        (await custom.patchClusterCustomObject(
          {
            group: GROUP,
            version: VERSION,
            plural: DATABASE_SERVERS,
            name: server.metadata.name,
            body: { metadata: { finalizers, resourceVersion: server.metadata.resourceVersion } },
            fieldManager: FIELD_MANAGER,
          },
          mergePatch,
        )) as DatabaseServer),

    patchWorkspaceDatabaseStatus: (namespace, name, status) =>
      write(`updating status of WorkspaceDatabase ${namespace}/${name}`, async () => {
        await custom.patchNamespacedCustomObjectStatus(
          { group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES, name, body: { status }, fieldManager: FIELD_MANAGER },
          mergePatch,
        );
      }),

    patchDatabaseServerStatus: (name, status) =>
      write(`updating status of DatabaseServer ${name}`, async () => {
        await custom.patchClusterCustomObjectStatus(
          { group: GROUP, version: VERSION, plural: DATABASE_SERVERS, name, body: { status }, fieldManager: FIELD_MANAGER },
          mergePatch,
        );
      }),

    getSecret: (namespace, name) =>
      orUndefined(`reading Secret ${namespace}/${name}`, () => core.readNamespacedSecret({ namespace, name })),

    createSecret: (secret) =>
      write(`creating Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`, () =>
        core.createNamespacedSecret({ namespace: secret.metadata?.namespace ?? "", body: secret, fieldManager: FIELD_MANAGER })),

    replaceSecret: (secret) =>
      write(`updating Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`, () =>
        core.replaceNamespacedSecret({
          namespace: secret.metadata?.namespace ?? "",
          name: secret.metadata?.name ?? "",
          body: secret,
          fieldManager: FIELD_MANAGER,
        })),

    deleteSecret: async (namespace, name, uid) => {
      fence();
      try {
        await call(`deleting Secret ${namespace}/${name}`, () => core.deleteNamespacedSecret({ namespace, name, body: { preconditions: { uid } } }));
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
      void call(`recording Event ${reason}`, async () => {
        const namespace = target.metadata.namespace ?? options.eventNamespace;
        const now = new Date();
        await core.createNamespacedEvent({
          namespace,
          body: {
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
          },
        });
      }).catch((err: unknown) => options.onEventError?.(reason, err instanceof Error ? err : new Error(String(err))));
    },
  };
}
