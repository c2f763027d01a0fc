// The workspacedb.io/v1alpha1 API as TypeScript types: the shapes of the two custom resources.

/** API group of every kind this operator serves. */
export const GROUP = "workspacedb.io";
/** The one served and stored version. */
export const VERSION = "v1alpha1";
/** `apiVersion` as written in manifests. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Plural resource names, as used in API paths. */
export const WORKSPACE_DATABASES = "workspacedatabases";
export const DATABASE_SERVERS = "databaseservers";

/**
 * Finalizer that keeps a WorkspaceDatabase until its PostgreSQL clean-up succeeded, and a
 * DatabaseServer until no WorkspaceDatabase uses it.
 */
export const FINALIZER = "workspacedb.io/finalizer";

/**
 * Annotation on both CRDs giving the revision of their schema. The operator refuses to start when the
 * installed CRDs carry an older revision than CRD_SCHEMA_REVISION (Helm never upgrades a chart's crds/).
 */
export const ANNOTATION_CRD_REVISION = "workspacedb.io/schema-revision";
/** The CRD schema revision this operator needs. */
export const CRD_SCHEMA_REVISION = 5;

/** Namespace annotation (set by the platform team) naming the existing databases its WorkspaceDatabases may adopt. */
export const ANNOTATION_ADOPT = "workspacedb.io/adopt";

/** Annotations whose new values request a password regeneration. */
export const ANNOTATION_REGENERATE_RW = "workspacedb.io/regenerate-rw";
export const ANNOTATION_REGENERATE_RO = "workspacedb.io/regenerate-ro";
export const ANNOTATION_REGENERATE_BOTH = "workspacedb.io/regenerate";

/** Labels put on every Secret the operator writes. */
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "workspacedb-operator";
export const LABEL_DATABASE = "workspacedb.io/database";
export const LABEL_ACCESS = "workspacedb.io/access";

/** The two kinds of login a WorkspaceDatabase has. */
export type Access = "read-write" | "read-only";

/** Minimal object metadata the operator reads and writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  /** RFC 3339 time the object was created (set by the API server). */
  creationTimestamp?: string;
  /** RFC 3339 time deletion was requested; only its presence is meaningful here. */
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** A Kubernetes ownerReference. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A condition in the shape of metav1.Condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Where a DatabaseServer's admin credentials live: a Secret with keys `username` and `password`. */
export interface SecretReference {
  namespace: string;
  name: string;
}

/** PostgreSQL sslmode values accepted in `spec.sslMode` and written into URLs. */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

/** A Kubernetes label selector (metav1.LabelSelector). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

/** `DatabaseServer.spec`: a PostgreSQL server the operator may create databases on. */
export interface DatabaseServerSpec {
  host: string;
  port: number;
  externalHost?: string;
  externalPort?: number;
  sslMode: SslMode;
  maintenanceDatabase: string;
  adminSecretRef: SecretReference;
  default?: boolean;
  /** How the server's certificate is verified (sslMode verify-ca / verify-full), and the CA clients get as ca.crt. */
  tls?: { caSecretRef?: SecretReference };
  /** Which namespaces' WorkspaceDatabases may use this server; all when absent. */
  namespaceSelector?: LabelSelector;
  /** Highest spec.connectionLimit a WorkspaceDatabase may ask for on this server. */
  maxConnectionLimit?: number;
}

/** Something only a superuser can lock down on a server, with the statements to run once. */
export interface HardeningItem {
  /** Stable identifier, e.g. `large-objects`. */
  name: string;
  /** What is open and why it matters. */
  message: string;
  /** The statements a superuser runs (and where). */
  statements: string[];
}

/** `DatabaseServer.status`. */
export interface DatabaseServerStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  serverVersion?: string;
  databases?: number;
  /** WorkspaceDatabases that use this server (it is not deleted before they are). */
  workspaceDatabases?: number;
  hardening?: HardeningItem[];
}

/** A cluster-scoped DatabaseServer object. */
export interface DatabaseServer {
  apiVersion: string;
  kind: "DatabaseServer";
  metadata: ObjectMeta;
  spec: DatabaseServerSpec;
  status?: DatabaseServerStatus;
}

/** `WorkspaceDatabase.spec.deletionPolicy`. */
export type DeletionPolicy = "Retain" | "Delete";

/** `WorkspaceDatabase.spec`. Durations are PostgreSQL-style strings such as `90min`, `5min`, `30s`. */
export interface WorkspaceDatabaseSpec {
  serverRef?: { name: string };
  databaseName?: string;
  deletionPolicy?: DeletionPolicy;
  connectionLimit?: number;
  statementTimeout?: string;
  idleInTransactionSessionTimeout?: string;
  extensions?: string[];
  rotation?: { terminateSessions?: boolean };
  /** Labels and annotations put on both credentials Secrets (see secret-template.ts). */
  secretTemplate?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
}

/** What status records about one login. */
export interface CredentialStatus {
  secretName: string;
  username: string;
  passwordChangedAt?: string;
  regenerateToken?: string | null;
}

/** `WorkspaceDatabase.status`. */
export interface WorkspaceDatabaseStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  server?: string;
  database?: string;
  credentials?: {
    readWrite?: CredentialStatus;
    readOnly?: CredentialStatus;
  };
}

/** A namespaced WorkspaceDatabase object. */
export interface WorkspaceDatabase {
  apiVersion: string;
  kind: "WorkspaceDatabase";
  metadata: ObjectMeta;
  spec: WorkspaceDatabaseSpec;
  status?: WorkspaceDatabaseStatus;
}
