// The operator's settings: their type, defaults and JSON Schema (durations are milliseconds once loaded).

/** winston levels accepted by `logLevel`. */
export const LOG_LEVELS = ["error", "warn", "info", "http", "verbose", "debug", "silly"] as const;

/** Every setting of the operator process, validated. Durations are in milliseconds. */
export interface Settings {
  logLevel: (typeof LOG_LEVELS)[number];
  logFormat: "json" | "text";
  /** Address of the /metrics, /healthz, /readyz server. */
  metricsHost: string;
  /** Port of that server; 0 picks a free one. */
  metricsPort: number;
  /** Reconciles in parallel per controller. */
  workers: number;
  /** Every cached object is reconciled again this often (repairs drift), ms. */
  resyncPeriod: number;
  leaderElection: {
    enabled: boolean;
    /** Namespace of the Lease: the pod's namespace (POD_NAMESPACE) or "workspacedb-system". */
    namespace: string;
    leaseName: string;
    leaseDuration: number;
    renewDeadline: number;
    retryPeriod: number;
    /** Holder identity; default hostname plus a random suffix. */
    identity?: string;
  };
  /** Length of generated passwords. */
  passwordLength: number;
  postgres: {
    /** Pooled connections per DatabaseServer. */
    maxConnectionsPerServer: number;
    connectTimeout: number;
    /** Server-side statement_timeout of every operator session, ms (leader fencing: renewDeadline + this < leaseDuration). */
    statementTimeout: number;
    /** Server-side lock_timeout of every operator session, ms (at most statementTimeout). */
    lockTimeout: number;
    /**
     * Logins per minute and DatabaseServer that check settled workspaces' passwords for drift (each
     * login at most once per resync period); 0 checks only logins whose Secret changed.
     */
    passwordChecksPerMinute: number;
  };
  /** Per-object retry back-off of failed reconciles, ms. */
  backoff: { base: number; max: number };
  /** How long SIGTERM waits for in-flight reconciles, ms. */
  shutdownTimeout: number;
  /**
   * Namespaces whose WorkspaceDatabases (and managed Secrets) are watched, one watch each; empty: every
   * namespace, through one cluster-wide watch. DatabaseServers are always watched cluster-wide.
   */
  watchNamespaces: string[];
  /** Label selector of the WorkspaceDatabases this operator reconciles (sharding); empty: all of them. */
  workspaceSelector: string;
  /** The data API (aggregated API data.workspacedb.io), served by every replica. */
  dataApi: {
    enabled: boolean;
    host: string;
    port: number;
    /** PEM serving certificate and key (mounted from the Secret the APIService's caBundle trusts); re-read when they change. */
    certFile: string;
    keyFile: string;
    /** statement_timeout of the read-only sessions, ms. */
    statementTimeout: number;
    /** A preview answer stops adding rows beyond this many bytes. */
    maxResponseBytes: number;
    /** Resource requests answered at once by this replica; beyond: 429 with Retry-After. */
    maxConcurrentRequests: number;
    /** Resource requests of one user answered at once by this replica; beyond: 429 with Retry-After. */
    maxConcurrentRequestsPerUser: number;
  };
}

/** Settings used when nothing else sets them (the lease namespace may come from POD_NAMESPACE instead). */
export const DEFAULT_SETTINGS: Settings = {
  logLevel: "info",
  logFormat: "json",
  metricsHost: "0.0.0.0",
  metricsPort: 8080,
  workers: 4,
  resyncPeriod: 5 * 60_000,
  leaderElection: {
    enabled: true,
    namespace: "workspacedb-system",
    leaseName: "workspacedb-operator",
    leaseDuration: 30_000,
    renewDeadline: 10_000,
    retryPeriod: 2_000,
  },
  passwordLength: 32,
  postgres: { maxConnectionsPerServer: 4, connectTimeout: 10_000, statementTimeout: 15_000, lockTimeout: 5_000, passwordChecksPerMinute: 60 },
  backoff: { base: 5, max: 1_000_000 },
  shutdownTimeout: 30_000,
  watchNamespaces: [],
  workspaceSelector: "",
  dataApi: {
    enabled: false,
    host: "0.0.0.0",
    port: 8443,
    certFile: "/var/run/workspacedb/data-api/tls.crt",
    keyFile: "/var/run/workspacedb/data-api/tls.key",
    statementTimeout: 5_000,
    maxResponseBytes: 1024 * 1024,
    maxConcurrentRequests: 16,
    maxConcurrentRequestsPerUser: 4,
  },
};

const duration = (minimum: number, maximum: number, description: string): Record<string, unknown> => ({
  type: "integer",
  minimum,
  maximum,
  description,
  "x-duration": true,
});

const dnsName = { type: "string", minLength: 1, maxLength: 253, pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" };
/** A namespace name: an RFC 1123 DNS label. */
export const NAMESPACE_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/**
 * JSON Schema of {@link Settings} after durations were converted to milliseconds. Leaves marked
 * `"x-duration": true` accept "250ms", "30s", "5m", "1h" (or a number of ms) in files, env and flags.
 */
export const settingsSchema = {
  type: "object",
  additionalProperties: false,
  required: [
    "logLevel", "logFormat", "metricsHost", "metricsPort", "workers", "resyncPeriod", "leaderElection", "passwordLength", "postgres", "backoff",
    "shutdownTimeout", "watchNamespaces", "workspaceSelector", "dataApi",
  ],
  properties: {
    logLevel: { type: "string", enum: [...LOG_LEVELS], description: "log level" },
    logFormat: { type: "string", enum: ["json", "text"], description: "log line format" },
    metricsHost: { type: "string", minLength: 1, description: "listen address of /metrics, /healthz, /readyz" },
    metricsPort: { type: "integer", minimum: 0, maximum: 65535, description: "listen port (0: any free port)" },
    workers: { type: "integer", minimum: 1, maximum: 64, description: "reconciles in parallel per controller" },
    resyncPeriod: duration(10_000, 24 * 3_600_000, "period of the full resync"),
    leaderElection: {
      type: "object",
      additionalProperties: false,
      required: ["enabled", "namespace", "leaseName", "leaseDuration", "renewDeadline", "retryPeriod"],
      properties: {
        enabled: { type: "boolean", description: "compete for a Lease; only the leader reconciles" },
        namespace: { ...dnsName, maxLength: 63, description: "namespace of the Lease" },
        leaseName: { ...dnsName, description: "name of the Lease" },
        leaseDuration: duration(1_000, 600_000, "lease validity after the last renewal"),
        renewDeadline: duration(1_000, 600_000, "the leader gives up after failing to renew this long"),
        retryPeriod: duration(100, 60_000, "interval between acquire/renew attempts"),
        identity: { type: "string", minLength: 1, maxLength: 128, description: "holder identity" },
      },
    },
    passwordLength: { type: "integer", minimum: 16, maximum: 256, description: "length of generated passwords" },
    postgres: {
      type: "object",
      additionalProperties: false,
      required: ["maxConnectionsPerServer", "connectTimeout", "statementTimeout", "lockTimeout", "passwordChecksPerMinute"],
      properties: {
        maxConnectionsPerServer: { type: "integer", minimum: 1, maximum: 100, description: "pooled connections per DatabaseServer" },
        connectTimeout: duration(100, 300_000, "PostgreSQL connect timeout"),
        statementTimeout: duration(100, 3_600_000, "server-side statement_timeout of the operator's sessions"),
        lockTimeout: duration(100, 3_600_000, "server-side lock_timeout of the operator's sessions"),
        passwordChecksPerMinute: { type: "integer", minimum: 0, maximum: 100_000, description: "logins per minute and server checking settled passwords for drift" },
      },
    },
    backoff: {
      type: "object",
      additionalProperties: false,
      required: ["base", "max"],
      properties: {
        base: duration(1, 60_000, "first retry delay of a failed reconcile"),
        max: duration(1, 24 * 3_600_000, "largest retry delay of a failed reconcile"),
      },
    },
    shutdownTimeout: duration(0, 600_000, "how long SIGTERM waits for in-flight reconciles"),
    watchNamespaces: {
      type: "array",
      uniqueItems: true,
      maxItems: 1000,
      items: { type: "string", minLength: 1, maxLength: 63, pattern: NAMESPACE_PATTERN },
      description: "namespaces whose WorkspaceDatabases are reconciled (empty: all)",
    },
    workspaceSelector: { type: "string", maxLength: 4096, description: "label selector of the WorkspaceDatabases reconciled (empty: all)" },
    dataApi: {
      type: "object",
      additionalProperties: false,
      required: ["enabled", "host", "port", "certFile", "keyFile", "statementTimeout", "maxResponseBytes", "maxConcurrentRequests", "maxConcurrentRequestsPerUser"],
      properties: {
        enabled: { type: "boolean", description: "serve the data API (data.workspacedb.io) on every replica" },
        host: { type: "string", minLength: 1, description: "listen address of the data API" },
        port: { type: "integer", minimum: 0, maximum: 65535, description: "HTTPS port of the data API (0: any free port)" },
        certFile: { type: "string", minLength: 1, description: "PEM serving certificate of the data API" },
        keyFile: { type: "string", minLength: 1, description: "PEM private key of the data API" },
        statementTimeout: duration(100, 600_000, "statement_timeout of the data API's read-only sessions"),
        maxResponseBytes: { type: "integer", minimum: 1024, maximum: 64 * 1024 * 1024, description: "largest preview answer in bytes (rows beyond are left out)" },
        maxConcurrentRequests: { type: "integer", minimum: 1, maximum: 1000, description: "data API requests answered at once by a replica (beyond: 429 with Retry-After)" },
        maxConcurrentRequestsPerUser: { type: "integer", minimum: 1, maximum: 1000, description: "data API requests of one user answered at once by a replica (beyond: 429 with Retry-After)" },
      },
    },
  },
} as const;

/** A leaf of the schema: its dotted path ("leaderElection.leaseDuration") and JSON Schema. */
export interface SettingLeaf {
  path: string;
  schema: { type: string; "x-duration"?: boolean };
}

/** Every leaf setting of {@link settingsSchema}, depth first. */
export function settingLeaves(): SettingLeaf[] {
  const out: SettingLeaf[] = [];
  const walk = (props: Record<string, unknown>, prefix: string): void => {
    for (const [name, raw] of Object.entries(props)) {
      const schema = raw as { type: string; properties?: Record<string, unknown> };
      if (schema.type === "object" && schema.properties) walk(schema.properties, `${prefix}${name}.`);
      else out.push({ path: prefix + name, schema });
    }
  };
  walk(settingsSchema.properties, "");
  return out;
}
