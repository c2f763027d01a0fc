// Keeps one admin connection per DatabaseServer, re-opened when the server or its admin Secret changes.
import type { DatabaseServer } from "../api/types.ts";
import type { KubePort } from "../kube/client.ts";
import { Reasons } from "./conditions.ts";
import { ReconcileFailure } from "./failure.ts";
import type { ServerSql, ServerSqlFactory } from "./ports.ts";
import { secretValue } from "./secret.ts";

interface Entry {
  /** Host, port, sslMode and maintenance database the pool connects to. */
  address: string;
  /** The admin Secret's uid and resourceVersion the pool was opened with. */
  secretVersion: string;
  /** Shared by concurrent callers, so one server never gets two pools. */
  sql: Promise<ServerSql>;
  /** The admin Secret's reference and when it was last read (it is not watched). */
  secretRef: string;
  secretCheckedAt: number;
  /** The server's CA (tls.caSecretRef), PEM, when it has one. */
  ca: string | undefined;
}

/** How long an open pool is used before its admin Secret is read again to notice a new password. */
export const ADMIN_SECRET_RECHECK_MS = 60_000;

async function closeQuietly(sql: Promise<ServerSql>): Promise<void> {
  try {
    await (await sql).close();
  } catch {
    // a pool that failed to open has nothing to close
  }
}

/** Resolves DatabaseServers and hands out their (cached) admin connections. */
export class ServerRegistry {
  readonly #kube: KubePort;
  readonly #open: ServerSqlFactory;
  readonly #entries = new Map<string, Entry>();

  constructor(kube: KubePort, open: ServerSqlFactory) {
    this.#kube = kube;
    this.#open = open;
  }

  /**
   * The DatabaseServer a WorkspaceDatabase uses: the named one, else the single one marked
   * `default: true`. Throws a ReconcileFailure (ServerNotFound) a person can act on.
   */
  async resolve(name: string | undefined): Promise<DatabaseServer> {
    if (name) {
      const server = await this.#kube.getDatabaseServer(name);
      if (!server) throw new ReconcileFailure(Reasons.ServerNotFound, `DatabaseServer "${name}" does not exist`, { kind: "after", ms: 60_000 });
      return server;
    }
    const defaults = (await this.#kube.listDatabaseServers()).filter((s) => s.spec.default === true);
    if (defaults.length === 0) {
      throw new ReconcileFailure(Reasons.ServerNotFound, "spec.serverRef is not set and no DatabaseServer has default: true", { kind: "after", ms: 60_000 });
    }
    if (defaults.length > 1) {
      const names = defaults.map((s) => s.metadata.name).sort().join(", ");
      throw new ReconcileFailure(Reasons.ServerNotFound, `spec.serverRef is not set and several DatabaseServers are marked default (${names}); set spec.serverRef or keep one default`, { kind: "after", ms: 60_000 });
    }
    return defaults[0] as DatabaseServer;
  }

  /**
   * The admin connection of `server`, opened on first use and whenever its address or admin Secret
   * changed. The admin Secret is read again at most every ADMIN_SECRET_RECHECK_MS while the address stays.
   */
  async connect(server: DatabaseServer): Promise<ServerSql> {
    const ref = server.spec.adminSecretRef;
    const cached = this.#entries.get(server.metadata.name);
    const secretRef = `${ref.namespace}/${ref.name}`;
    const { host, port, sslMode, maintenanceDatabase } = server.spec;
    const caRef = server.spec.tls?.caSecretRef;
    const address = JSON.stringify([host, port, sslMode, maintenanceDatabase, caRef?.namespace, caRef?.name]);
    if (cached !== undefined && cached.secretRef === secretRef && cached.address === address && Date.now() - cached.secretCheckedAt < ADMIN_SECRET_RECHECK_MS) {
      return cached.sql;
    }
    const secret = await this.#kube.getSecret(ref.namespace, ref.name);
    if (!secret) {
      throw new ReconcileFailure(Reasons.AdminSecretNotFound, `admin Secret ${ref.namespace}/${ref.name} of DatabaseServer "${server.metadata.name}" does not exist`, { kind: "after", ms: 30_000 });
    }
    const user = secretValue(secret, "username");
    const password = secretValue(secret, "password");
    if (!user || !password) {
      throw new ReconcileFailure(Reasons.AdminSecretNotFound, `admin Secret ${ref.namespace}/${ref.name} must have the keys "username" and "password"`, { kind: "after", ms: 30_000 });
    }
    const name = server.metadata.name;
    const tls = caRef === undefined ? undefined : await this.#readCa(name, caRef.namespace, caRef.name);
    const secretVersion = JSON.stringify([secret.metadata?.uid, secret.metadata?.resourceVersion, tls?.version]);
    const entry = this.#entries.get(name);
    if (entry && entry.address === address && entry.secretRef === secretRef && entry.secretVersion === secretVersion) {
      entry.secretCheckedAt = Date.now();
      return entry.sql;
    }
    if (entry) {
      this.#entries.delete(name);
      await closeQuietly(entry.sql);
    }
    const endpoint = {
      host, port: port ?? 5432, sslMode: sslMode ?? "prefer", maintenanceDatabase: maintenanceDatabase ?? "postgres", user, password,
      ...(tls === undefined || caRef === undefined ? {} : { sslRootCert: tls.ca, sslRootCertSource: `tls.caSecretRef ${caRef.namespace}/${caRef.name}` }),
    };
    const sql = this.#open(endpoint, server);
    const fresh: Entry = { address, secretVersion, sql, secretRef, secretCheckedAt: Date.now(), ca: tls?.ca };
    this.#entries.set(name, fresh);
    // A failed open is not cached: the next pass tries again.
    sql.catch(() => {
      if (this.#entries.get(name) === fresh) this.#entries.delete(name);
    });
    return sql;
  }

  /**
   * The CA (PEM) of a server with tls.caSecretRef, as read by the last `connect`; written into the
   * credentials Secrets as ca.crt.
   */
  ca(name: string): string | undefined {
    return this.#entries.get(name)?.ca;
  }

  async #readCa(server: string, namespace: string, name: string): Promise<{ ca: string; version: string }> {
    const secret = await this.#kube.getSecret(namespace, name);
    const ca = secretValue(secret, "ca.crt");
    if (secret === undefined || ca === undefined || !ca.includes("-----BEGIN CERTIFICATE-----")) {
      const what = secret === undefined ? "does not exist" : 'has no PEM certificate under the key "ca.crt"';
      throw new ReconcileFailure(Reasons.TLSVerificationFailed, `CA Secret ${namespace}/${name} (tls.caSecretRef) of DatabaseServer "${server}" ${what}`, { kind: "after", ms: 30_000 });
    }
    return { ca, version: JSON.stringify([secret.metadata?.uid, secret.metadata?.resourceVersion]) };
  }

  /**
   * The admin role names of every DatabaseServer (from their admin Secrets): such roles are never
   * adopted, whatever their attributes. Read only when an unmarked database is looked at.
   */
  async adminRoles(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const server of await this.#kube.listDatabaseServers()) {
      const ref = server.spec.adminSecretRef;
      const user = secretValue(await this.#kube.getSecret(ref.namespace, ref.name), "username");
      if (user) out.add(user);
    }
    return out;
  }

  /** Closes the connection of a server that was deleted. */
  async forget(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    this.#entries.delete(name);
    if (entry) await closeQuietly(entry.sql);
  }

  /** Closes every connection (shutdown). */
  async closeAll(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.allSettled(entries.map((e) => closeQuietly(e.sql)));
  }
}
