// Kubernetes objects the end-to-end tests share: namespaces, the DatabaseServer, waits and reads.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import pg from "pg";
import { getGround } from "../../ground/index.ts";
import { installCrds } from "./crds.ts";
import type { WorkspaceDatabase, WorkspaceDatabaseSpec } from "../../../src/api/types.ts";

export const GROUP = "workspacedb.io";
export const VERSION = "v1alpha1";
export const SYSTEM_NAMESPACE = "workspacedb-system";

/** API clients of the ground's admin. */
export function clients(kc: KubeConfig = getGround().kubeConfig): { core: CoreV1Api; custom: CustomObjectsApi } {
  return { core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

/** Creates a namespace unless it exists. */
export async function ensureNamespace(name: string): Promise<void> {
  const { core } = clients();
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

/** Installs the CRDs and registers the ground's PostgreSQL as DatabaseServer `name` (default: true). */
export async function setupServer(name = "main", opts: { default?: boolean; externalHost?: string } = {}): Promise<void> {
  const ground = getGround();
  await installCrds(ground.kubeConfig);
  await ensureNamespace(SYSTEM_NAMESPACE);
  const { core, custom } = clients();
  const secretName = `${name}-admin`;
  const secret: V1Secret = {
    metadata: { name: secretName, namespace: SYSTEM_NAMESPACE },
    stringData: { username: ground.postgres.adminUser, password: ground.postgres.adminPassword },
  };
  try {
    await core.createNamespacedSecret({ namespace: SYSTEM_NAMESPACE, body: secret });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  const body = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "DatabaseServer",
    metadata: { name },
    spec: {
      host: ground.postgres.host,
      port: ground.postgres.port,
      sslMode: "disable",
      adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: secretName },
      default: opts.default ?? true,
      ...(opts.externalHost ? { externalHost: opts.externalHost, externalPort: 15432 } : {}),
    },
  };
  try {
    await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", body });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

/** Creates a WorkspaceDatabase. */
export async function createWorkspace(namespace: string, name: string, spec: WorkspaceDatabaseSpec = {}, annotations: Record<string, string> = {}): Promise<void> {
  const { custom } = clients();
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: "workspacedatabases",
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: "WorkspaceDatabase", metadata: { name, namespace, annotations }, spec },
  });
}

/** Reads a WorkspaceDatabase; undefined once it is gone. */
export async function getWorkspace(namespace: string, name: string): Promise<WorkspaceDatabase | undefined> {
  const { custom } = clients();
  try {
    return (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: "workspacedatabases", name })) as WorkspaceDatabase;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Merge-patches the annotations of a WorkspaceDatabase. */
export async function annotateWorkspace(namespace: string, name: string, annotations: Record<string, string | null>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  const { custom } = clients();
  await custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: "workspacedatabases", name, body: { metadata: { annotations } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

/** Deletes a WorkspaceDatabase (absent is fine). */
export async function deleteWorkspace(namespace: string, name: string): Promise<void> {
  const { custom } = clients();
  try {
    await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: "workspacedatabases", name });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs` with the last state. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 45_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Waits until the object is Ready=True for its current generation, and returns it. */
export async function waitReady(namespace: string, name: string, timeoutMs = 45_000): Promise<WorkspaceDatabase> {
  return eventually(`${namespace}/${name} Ready`, async () => {
    const obj = await getWorkspace(namespace, name);
    const ready = obj?.status?.conditions?.find((c) => c.type === "Ready");
    return ready?.status === "True" && ready.observedGeneration === obj?.metadata.generation ? obj : undefined;
  }, timeoutMs);
}

/** Waits until the Ready condition has `reason`, and returns the object. */
export async function waitReason(namespace: string, name: string, reason: string, timeoutMs = 45_000): Promise<WorkspaceDatabase> {
  return eventually(`${namespace}/${name} reason ${reason}`, async () => {
    const obj = await getWorkspace(namespace, name);
    return obj?.status?.conditions?.find((c) => c.type === "Ready")?.reason === reason ? obj : undefined;
  }, timeoutMs);
}

/** The decoded data of a Secret; undefined when absent. */
export async function readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
  const { core } = clients();
  try {
    const secret = await core.readNamespacedSecret({ namespace, name });
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Connects with a credentials Secret's URI (rewritten to the ground's address) and runs `fn`. */
export async function withLogin<T>(uri: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: uri });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether the URI logs in. */
export async function canLogin(uri: string): Promise<boolean> {
  try {
    await withLogin(uri, async () => undefined);
    return true;
  } catch {
    return false;
  }
}

/** Runs SQL as the ground's superuser in `database`. */
export async function asSuperuser<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(getGround().postgres.superUrl);
  url.pathname = `/${database}`;
  return withLogin(url.toString(), fn);
}

/** A unique lower-case suffix for object names. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}
