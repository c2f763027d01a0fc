// Reads served from the informers' caches instead of the API server; writes and cache misses go through.
import type { DatabaseServer, WorkspaceDatabase } from "../api/types.ts";
import type { KubePort } from "./client.ts";
import type { Secret } from "./types.ts";

/** The informer caches the reads come from (keys "namespace/name", or "name" for cluster-scoped objects). */
export interface ReadCaches {
  workspaces: { get(key: string): WorkspaceDatabase | undefined };
  servers: { get(key: string): DatabaseServer | undefined; list(): DatabaseServer[] };
  /** Only the Secrets the operator labels; others (admin Secrets, foreign ones) are read from the API. */
  secrets: { get(key: string): Secret | undefined };
}

/**
 * A KubePort whose reads of WorkspaceDatabases, DatabaseServers and managed Secrets come from the
 * caches (copies: cached objects are shared and frozen). A cache may lag a write by a moment; every
 * write is guarded (resourceVersion, AlreadyExists) or idempotent, so a stale read costs a retry, never
 * a wrong change. A Secret missing from the cache is read from the API (it may exist unlabelled),
 * unless the caller asks for the cache only.
 */
export function withCachedReads(kube: KubePort, caches: ReadCaches): KubePort {
  const copy = <T>(obj: T | undefined): T | undefined => (obj === undefined ? undefined : structuredClone(obj));
  return {
    ...kube,
    getWorkspaceDatabase: async (namespace, name) => copy(caches.workspaces.get(`${namespace}/${name}`)),
    getDatabaseServer: async (name) => copy(caches.servers.get(name)),
    listDatabaseServers: async () => caches.servers.list().map((s) => structuredClone(s)),
    getSecret: async (namespace, name, options) => {
      if (options?.fresh === true) return kube.getSecret(namespace, name);
      const cached = copy(caches.secrets.get(`${namespace}/${name}`));
      return cached ?? (options?.cachedOnly === true ? undefined : kube.getSecret(namespace, name));
    },
  };
}
