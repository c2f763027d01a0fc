// Kubernetes objects the end-to-end tests share: namespaces, the DatabaseServer, waits and reads.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import pg from "pg";
import { getGround } from "../../ground/index.ts";
import type { PostgresGround } from "../../ground/postgres.ts";
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
  const body = databaseServerBody(name, {
    adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: secretName },
    default: opts.default ?? true,
    ...(opts.externalHost ? { externalHost: opts.externalHost, externalPort: 15432 } : {}),
  });
  try {
    await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", body });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

/** A DatabaseServer manifest for the ground's PostgreSQL (sslMode disable); `spec` overrides fields. */
export function databaseServerBody(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  const ground = getGround();
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "DatabaseServer",
    metadata: { name },
    spec: {
      host: ground.postgres.host,
      port: ground.postgres.port,
      sslMode: "disable",
      adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: "main-admin" },
      default: false,
      ...spec,
    },
  };
}

/** Merge-patches the annotations of a Namespace (null removes one): what the platform team does. */
export async function annotateNamespace(name: string, annotations: Record<string, string | null>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  const { core } = clients();
  await core.patchNamespace({ name, body: { metadata: { annotations } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
}

/** Merge-patches the labels of a Namespace (null removes one). */
export async function labelNamespace(name: string, labels: Record<string, string | null>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  const { core } = clients();
  await core.patchNamespace({ name, body: { metadata: { labels } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
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
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
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
export async function asSuperuser<T>(database: string, fn: (client: pg.Client) => Promise<T>, server: PostgresGround = getGround().postgres): Promise<T> {
  const url = new URL(server.superUrl);
  url.pathname = `/${database}`;
  return withLogin(url.toString(), fn);
}

/** Runs one query as the superuser of `server` (e.g. an extra one) in `database` (default postgres); its rows. */
export async function superQueryOn<R extends object = Record<string, unknown>>(server: PostgresGround, sql: string, values: unknown[] = [], database = "postgres"): Promise<R[]> {
  return asSuperuser(database, async (c) => (await c.query<R>(sql, values)).rows, server);
}

/**
 * Registers `server` (e.g. an extra one) as DatabaseServer `name` with an admin Secret `<name>-<secretSuffix>`
 * holding `username` and `password` (default: the server's own admin role).
 */
export async function registerServer(name: string, server: PostgresGround, admin: { username: string; password: string } = { username: server.adminUser, password: server.adminPassword }, secretSuffix = "admin"): Promise<void> {
  await ensureNamespace(SYSTEM_NAMESPACE);
  await createAdminSecret(`${name}-${secretSuffix}`, admin.username, admin.password);
  await createDatabaseServer(name, { host: server.host, port: server.port, adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: `${name}-${secretSuffix}` } });
}

/** Creates an admin Secret in the operator's namespace. */
export async function createAdminSecret(name: string, username: string, password: string): Promise<void> {
  await clients().core.createNamespacedSecret({ namespace: SYSTEM_NAMESPACE, body: { metadata: { name, namespace: SYSTEM_NAMESPACE }, stringData: { username, password } } });
}

/**
 * On PostgreSQL 14 (where the bootstrap superuser owns schema public), runs what the server's
 * status.hardening "public-schema" entry tells a superuser to run in `database`, then waits until the
 * operator has granted CREATE on public to the read/write login `readWrite` in its own right (its next
 * pass); nothing on 15 and later.
 */
export async function hardenPublicSchemaOn14(database: string, readWrite: string): Promise<void> {
  if (getGround().postgres.major > 14) return;
  await asSuperuser(database, (c) => c.query("ALTER SCHEMA public OWNER TO pg_database_owner; REVOKE CREATE ON SCHEMA public FROM PUBLIC"));
  await eventually(`the operator grants CREATE on public to ${readWrite}`, () => asSuperuser(database, async (c) => {
    const { rows } = await c.query<{ ok: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'public' AND a.grantee = $1::regrole AND a.privilege_type = 'CREATE') AS ok",
      [`"${readWrite.replaceAll('"', '""')}"`],
    );
    return rows[0]?.ok === true ? true : undefined;
  }), 60_000, 500);
}

/** A unique lower-case suffix for object names. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

/** Sums the samples of a Prometheus text exposition whose name and labels match. */
export function sumMetric(text: string, name: string, labels: (l: Record<string, string>) => boolean = () => true): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const parsed: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) parsed[pair[1]!] = pair[2]!;
    if (labels(parsed)) total += Number(match[3]);
  }
  return total;
}

/** GETs the operator's /metrics. */
export async function operatorMetrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** Merge-patches keys of a Secret's data (values in plain text; null removes a key); other keys stay. */
export async function patchSecretData(namespace: string, name: string, data: Record<string, string | null>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  const { core } = clients();
  const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v === null ? null : Buffer.from(v, "utf8").toString("base64")]));
  await core.patchNamespacedSecret({ namespace, name, body: { data: encoded } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
}

/** Deletes a Secret (absent is fine). */
export async function deleteSecret(namespace: string, name: string): Promise<void> {
  const { core } = clients();
  try {
    await core.deleteNamespacedSecret({ namespace, name });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

/** core/v1 Events of a namespace, optionally only those about the object `involvedName`. */
export async function listEvents(namespace: string, involvedName?: string): Promise<{ id: string; reason: string; message: string; type: string; name: string }[]> {
  const { core } = clients();
  const list = await core.listNamespacedEvent({ namespace });
  return list.items
    .filter((e) => involvedName === undefined || e.involvedObject.name === involvedName)
    .map((e) => ({ id: e.metadata?.name ?? "", reason: e.reason ?? "", message: e.message ?? "", type: e.type ?? "", name: e.involvedObject.name ?? "" }));
}

/** Opens a session with a credentials URI and keeps it open; the caller ends it. Errors are swallowed (a terminated session). */
export async function openSession(uri: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: uri });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** A copy of a credentials URI with another password (percent-encoded). */
export function withPassword(uri: string, password: string): string {
  const url = new URL(uri);
  url.password = encodeURIComponent(password);
  return url.toString();
}

// (imports are hoisted; kept here so this block stays append-only)
import type { DatabaseServer } from "../../../src/api/types.ts";

/** Waits until the WorkspaceDatabase is gone (finalizer removed). */
export async function waitGone(namespace: string, name: string, timeoutMs = 45_000): Promise<void> {
  await eventually(`${namespace}/${name} gone`, async () => ((await getWorkspace(namespace, name)) === undefined ? true : undefined), timeoutMs);
}

/** Waits until an Event with `reason` about `involvedName` exists in `namespace`, and returns it. */
export async function waitEvent(namespace: string, involvedName: string, reason: string, timeoutMs = 30_000): Promise<{ reason: string; message: string; type: string }> {
  return eventually(`Event ${reason} about ${namespace}/${involvedName}`, async () =>
    (await listEvents(namespace, involvedName)).find((e) => e.reason === reason), timeoutMs);
}

/** Tries to log in with `uri` (to `database` instead of the URI's when given): undefined when it worked, else the error's SQLSTATE (or message). */
export async function loginFailure(uri: string, database?: string): Promise<string | undefined> {
  const url = new URL(uri);
  if (database !== undefined) url.pathname = `/${encodeURIComponent(database)}`;
  try {
    await withLogin(url.toString(), async () => undefined);
    return undefined;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return e.code ?? e.message ?? String(err);
  }
}

/** The SQLSTATE of the error `fn` throws; fails when it does not throw. */
export async function sqlErrorCode(what: string, fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as { code?: string }).code ?? `no SQLSTATE: ${String(err)}`;
  }
  throw new Error(`expected ${what} to fail, but it succeeded`);
}

/** Creates a DatabaseServer pointing to the ground's PostgreSQL with the "main-admin" Secret; `spec` overrides the ground's defaults (default: false). */
export async function createDatabaseServer(name: string, spec: Record<string, unknown> = {}): Promise<void> {
  await installCrds(getGround().kubeConfig);
  const { custom } = clients();
  await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", body: databaseServerBody(name, spec) });
}

/** Reads a DatabaseServer; undefined when absent. */
export async function getDatabaseServer(name: string): Promise<DatabaseServer | undefined> {
  const { custom } = clients();
  try {
    return (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", name })) as DatabaseServer;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Merge-patches the spec of a DatabaseServer. */
export async function patchDatabaseServer(name: string, spec: Record<string, unknown>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  const { custom } = clients();
  await custom.patchClusterCustomObject(
    { group: GROUP, version: VERSION, plural: "databaseservers", name, body: { spec } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

/** Deletes a DatabaseServer (absent is fine). */
export async function deleteDatabaseServer(name: string): Promise<void> {
  const { custom } = clients();
  try {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", name });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

/** Waits until the DatabaseServer's Ready condition has `reason` (and `status` when given), and returns it. */
export async function waitServerReason(name: string, reason: string, timeoutMs = 45_000): Promise<DatabaseServer> {
  let last: string | undefined;
  try {
    return await eventually(`DatabaseServer ${name} reason ${reason}`, async () => {
      const server = await getDatabaseServer(name);
      const ready = server?.status?.conditions?.find((c) => c.type === "Ready");
      last = ready === undefined ? undefined : `${ready.reason}: ${ready.message}`;
      return ready?.reason === reason ? server : undefined;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; its Ready condition says ${last ?? "nothing yet"}`, { cause: err });
  }
}

/** Whether a login with explicit connection parameters (no URI) works. */
export async function canLoginWith(config: { host: string; port: number; database: string; user: string; password: string }): Promise<boolean> {
  const client = new pg.Client(config);
  client.on("error", () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Changes an annotation of a DatabaseServer: a person asking for a check now (a pass at once). */
export async function pokeServer(name: string): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  await clients().custom.patchClusterCustomObject(
    { group: "workspacedb.io", version: "v1alpha1", plural: "databaseservers", name, body: { metadata: { annotations: { "example.org/poke": String(Date.now()) } } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}
