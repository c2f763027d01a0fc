// The desired credentials Secret of one login, built by a pure function from what it must contain.
import { createHash } from "node:crypto";
import type { Secret as V1Secret } from "../kube/types.ts";
import { MAX_PASSWORD_BYTES } from "../postgres/password.ts";
import { SECRET_ANNOTATION_TEMPLATE_KEYS, applyTemplate } from "./secret-template.ts";
import { regenerateTokenRecord } from "../api/regenerate.ts";
import {
  API_VERSION,
  LABEL_ACCESS,
  LABEL_DATABASE,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type Access,
  type WorkspaceDatabase,
} from "../api/types.ts";

/** Secret annotations the operator keeps its own bookkeeping in (never a password). */
export const SECRET_ANNOTATION_CHANGED_AT = "workspacedb.io/password-changed-at";
export const SECRET_ANNOTATION_HANDLED = "workspacedb.io/regenerate-handled";
export const SECRET_ANNOTATION_HANDLED_ALL = "workspacedb.io/regenerate-all-handled";
/** The regenerate value (own or both) that caused the current password: what status reports as regenerateToken. */
export const SECRET_ANNOTATION_HANDLED_LAST = "workspacedb.io/regenerate-token";

/** Where a login connects: the server's in-cluster and (optional) external address. */
export interface ConnectionEndpoint {
  host: string;
  port: number;
  externalHost?: string;
  externalPort?: number;
  sslMode: string;
  /** The server's CA (PEM) when its DatabaseServer has tls.caSecretRef: the Secrets carry it as ca.crt. */
  ca?: string;
}

/** Everything that goes into one credentials Secret. */
export interface CredentialsInput {
  owner: WorkspaceDatabase;
  access: Access;
  endpoint: ConnectionEndpoint;
  database: string;
  username: string;
  password: string;
  passwordChangedAt: string;
  /** Regeneration tokens already handled for this login: its own annotation, and the one for both. */
  handled: { own?: string | undefined; all?: string | undefined; last?: string | undefined };
}

/** Name of the Secret of `access` for the WorkspaceDatabase `name`: `<name>-rw` or `<name>-ro`. */
export function secretName(name: string, access: Access): string {
  return `${name}-${access === "read-write" ? "rw" : "ro"}`;
}

function hostInUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** `postgresql://USER:PASSWORD@HOST:PORT/DB?sslmode=MODE`, user and password percent-encoded. */
export function postgresUri(host: string, port: number, database: string, username: string, password: string, sslMode: string): string {
  const enc = encodeURIComponent;
  return `postgresql://${enc(username)}:${enc(password)}@${hostInUrl(host)}:${port}/${enc(database)}?sslmode=${enc(sslMode)}`;
}

/** `jdbc:postgresql://HOST:PORT/DB?sslmode=MODE&user=USER&password=PASSWORD`, values percent-encoded. */
export function jdbcUri(host: string, port: number, database: string, username: string, password: string, sslMode: string): string {
  const enc = encodeURIComponent;
  return `jdbc:postgresql://${hostInUrl(host)}:${port}/${enc(database)}?sslmode=${enc(sslMode)}&user=${enc(username)}&password=${enc(password)}`;
}

/** Every key of the Secret, as plain strings (see README, "Credentials Secrets"). */
export function credentialKeys(input: Omit<CredentialsInput, "owner" | "access" | "passwordChangedAt" | "handled">): Record<string, string> {
  const { endpoint, database, username, password } = input;
  const port = String(endpoint.port);
  const uri = postgresUri(endpoint.host, endpoint.port, database, username, password, endpoint.sslMode);
  const keys: Record<string, string> = {
    host: endpoint.host,
    port,
    database,
    username,
    password,
    sslmode: endpoint.sslMode,
    uri,
    "jdbc-uri": jdbcUri(endpoint.host, endpoint.port, database, username, password, endpoint.sslMode),
    PGHOST: endpoint.host,
    PGPORT: port,
    PGDATABASE: database,
    PGUSER: username,
    PGPASSWORD: password,
    PGSSLMODE: endpoint.sslMode,
    DATABASE_URL: uri,
    WORKSPACE_DATABASE_HOST: endpoint.host,
    WORKSPACE_DATABASE_PORT: port,
    WORKSPACE_DATABASE_DB_NAME: database,
    WORKSPACE_DATABASE_USERNAME: username,
    WORKSPACE_DATABASE_PASSWORD: password,
    WORKSPACE_DATABASE_URL: uri,
  };
  if (endpoint.externalHost) {
    const externalPort = endpoint.externalPort ?? endpoint.port;
    keys["external-host"] = endpoint.externalHost;
    keys["external-port"] = String(externalPort);
    keys["external-uri"] = postgresUri(endpoint.externalHost, externalPort, database, username, password, endpoint.sslMode);
    keys["external-jdbc-uri"] = jdbcUri(endpoint.externalHost, externalPort, database, username, password, endpoint.sslMode);
  }
  if (endpoint.ca !== undefined) keys["ca.crt"] = endpoint.ca;
  return keys;
}

function encodeData(keys: Record<string, string>): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(keys)) data[k] = Buffer.from(v, "utf8").toString("base64");
  return data;
}

/**
 * The desired Secret for one login. When `existing` is given, its resourceVersion and any labels
 * and annotations that others put on it are kept; our labels, annotations, owner reference and the
 * whole `data` are ours.
 */
export function desiredSecret(input: CredentialsInput, existing?: V1Secret): V1Secret {
  const { owner, access } = input;
  // Others' labels and annotations stay; the template's follow the spec; ours are set last.
  const { labels, annotations } = applyTemplate(owner, existing?.metadata ?? {});
  annotations[SECRET_ANNOTATION_CHANGED_AT] = input.passwordChangedAt;
  setOrDelete(annotations, SECRET_ANNOTATION_HANDLED, input.handled.own);
  setOrDelete(annotations, SECRET_ANNOTATION_HANDLED_ALL, input.handled.all);
  setOrDelete(annotations, SECRET_ANNOTATION_HANDLED_LAST, input.handled.last);
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name: secretName(owner.metadata.name, access),
      namespace: owner.metadata.namespace,
      ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      labels: {
        ...labels,
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_DATABASE]: owner.metadata.name,
        [LABEL_ACCESS]: access,
      },
      annotations,
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: "WorkspaceDatabase",
          name: owner.metadata.name,
          uid: owner.metadata.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data: encodeData(credentialKeys(input)),
  };
}

function setOrDelete(map: Record<string, string>, key: string, value: string | undefined): void {
  if (value === undefined) delete map[key];
  else map[key] = value;
}

/**
 * True when `secret`'s controller ownerReference is the WorkspaceDatabase `owner` (API group, kind and
 * name): only such Secrets are ever overwritten or deleted.
 */
export function controlledBy(secret: V1Secret, owner: WorkspaceDatabase): boolean {
  const controller = (secret.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
  return controller !== undefined && controller.apiVersion.startsWith(`${API_VERSION.split("/")[0]}/`) &&
    controller.kind === "WorkspaceDatabase" && controller.name === owner.metadata.name;
}

/**
 * The length in bytes of the Secret's password when it is longer than MAX_PASSWORD_BYTES (read, or
 * compacted by {@link compactSecret}), else undefined.
 */
export function oversizedPassword(secret: V1Secret | undefined): number | undefined {
  const data = secret?.data;
  if (data === undefined) return undefined;
  if (data[OVERSIZED_KEY] !== undefined) return Number(data[OVERSIZED_KEY]);
  const bytes = data.password === undefined ? 0 : Buffer.from(data.password, "base64").length;
  return bytes > MAX_PASSWORD_BYTES ? bytes : undefined;
}

/** Every key of a Secret as text. */
export function secretData(secret: V1Secret | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret?.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  return out;
}

/** Reads one key of a Secret as text; undefined when absent. */
export function secretValue(secret: V1Secret | undefined, key: string): string | undefined {
  const raw = secret?.data?.[key];
  return raw === undefined ? undefined : Buffer.from(raw, "base64").toString("utf8");
}

/**
 * Keys of a cached Secret kept as they are: the password is needed as text, and the user name of an
 * admin Secret (which may carry our label too). Every other key is derived from them and the
 * server's address, so the cache keeps only a digest of those (see {@link compactSecret}).
 */
const KEPT_KEYS: ReadonlySet<string> = new Set(["password", "username"]);
/** Where a compacted Secret keeps the digest of its other keys: '#' is not allowed in a Secret key. */
const DIGEST_KEY = "#digest";
/** Where a compacted Secret says how long a password was that is too long to apply (and to cache). */
const OVERSIZED_KEY = "#password-bytes";
/** Where a compacted Secret says its cached labels and annotations leave others' out (see boundedMetadata). */
const TRIMMED_KEY = "#metadata-trimmed";
/** Longest user name a cached Secret keeps (PostgreSQL's names have at most 63 bytes). */
const MAX_CACHED_USERNAME_BYTES = 256;
/** How many bytes of others' labels and annotations (keys and values) a cached Secret keeps. */
const FOREIGN_METADATA_BUDGET = 16 * 1024;

function ownLabel(key: string): boolean {
  return key === LABEL_MANAGED_BY || key === LABEL_DATABASE || key === LABEL_ACCESS;
}

/**
 * The labels and annotations a cached Secret keeps, bounded whatever anyone who may edit the Secret
 * wrote into them: the operator's bookkeeping values as token records (or dropped when not plausible),
 * and others' keys only while they add up to at most FOREIGN_METADATA_BUDGET bytes — beyond that they
 * are left out of the cache, and a write re-reads the Secret first (see {@link metadataTrimmed}).
 */
function boundedMetadata(metadata: NonNullable<V1Secret["metadata"]>): { metadata: NonNullable<V1Secret["metadata"]>; trimmed: boolean } {
  const annotations = { ...(metadata.annotations ?? {}) };
  for (const key of [SECRET_ANNOTATION_HANDLED, SECRET_ANNOTATION_HANDLED_ALL, SECRET_ANNOTATION_HANDLED_LAST]) {
    if (annotations[key] !== undefined) annotations[key] = regenerateTokenRecord(annotations[key]);
  }
  if ((annotations[SECRET_ANNOTATION_CHANGED_AT]?.length ?? 0) > 64) delete annotations[SECRET_ANNOTATION_CHANGED_AT];
  if ((annotations[SECRET_ANNOTATION_TEMPLATE_KEYS]?.length ?? 0) > FOREIGN_METADATA_BUDGET) delete annotations[SECRET_ANNOTATION_TEMPLATE_KEYS];
  const labels = { ...(metadata.labels ?? {}) };
  const foreign = [
    ...Object.entries(labels).filter(([k]) => !ownLabel(k)),
    ...Object.entries(annotations).filter(([k]) => !k.startsWith("workspacedb.io/")),
  ].reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  if (foreign <= FOREIGN_METADATA_BUDGET) return { metadata: { ...metadata, labels, annotations }, trimmed: false };
  const keep = <T>(entries: Record<string, T>, own: (k: string) => boolean) => Object.fromEntries(Object.entries(entries).filter(([k]) => own(k)));
  return {
    metadata: { ...metadata, labels: keep(labels, ownLabel), annotations: keep(annotations, (k) => k.startsWith("workspacedb.io/")) },
    trimmed: true,
  };
}

/** True when a cached Secret left others' labels or annotations out: write it only from a fresh read. */
export function metadataTrimmed(secret: V1Secret | undefined): boolean {
  return secret?.data?.[TRIMMED_KEY] !== undefined;
}

function digestOf(data: Record<string, string>): string {
  const hash = createHash("sha256");
  for (const [key, value] of Object.entries(data).filter(([k]) => !KEPT_KEYS.has(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hash.update(`${key.length}:${key}=${value.length}:${value};`);
  }
  return hash.digest("base64");
}

/**
 * The form of a managed Secret the informer caches: `password` and `username` as they are, every
 * other key of `data` folded into one SHA-256 digest (a 1,000-byte Secret becomes ~150 bytes). The
 * operator writes whole Secrets from {@link desiredSecret}, never from a cached `data`, and
 * {@link secretDiffers} compares a desired Secret against the digest.
 */
export function compactSecret(secret: V1Secret): V1Secret {
  if (secret.data?.[DIGEST_KEY] !== undefined) return secret;
  const data = secret.data ?? {};
  const kept: Record<string, string> = {};
  for (const key of KEPT_KEYS) if (data[key] !== undefined) kept[key] = data[key];
  kept[DIGEST_KEY] = digestOf(data);
  // A password too long to apply is not kept either, nor a user name no role can have: whoever may
  // edit a Secret could otherwise fill the cache.
  const bytes = data.password === undefined ? 0 : Buffer.from(data.password, "base64").length;
  if (bytes > MAX_PASSWORD_BYTES) {
    delete kept.password;
    kept[OVERSIZED_KEY] = String(bytes);
  }
  if (data.username !== undefined && Buffer.from(data.username, "base64").length > MAX_CACHED_USERNAME_BYTES) delete kept.username;
  const { stringData: _written, ...rest } = secret;
  if (secret.metadata === undefined) return { ...rest, data: kept };
  const bounded = boundedMetadata(secret.metadata);
  if (bounded.trimmed) kept[TRIMMED_KEY] = "1";
  return { ...rest, metadata: bounded.metadata, data: kept };
}

function sameData(existing: Record<string, string> | undefined, desired: Record<string, string> | undefined): boolean {
  const a = existing ?? {};
  const b = desired ?? {};
  if (a[DIGEST_KEY] === undefined) return sameEntries(a, b);
  for (const key of KEPT_KEYS) if (a[key] !== b[key]) return false;
  return a[DIGEST_KEY] === digestOf(b);
}

function sameEntries(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  return JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b ?? {}).sort());
}

/** True when writing `desired` over `existing` (as read, or compacted by {@link compactSecret}) would change anything we own. */
export function secretDiffers(existing: V1Secret, desired: V1Secret): boolean {
  const owners = (s: V1Secret) => JSON.stringify((s.metadata?.ownerReferences ?? []).map((o) => [o.apiVersion, o.kind, o.name, o.uid, o.controller === true]));
  return (
    !sameData(existing.data, desired.data) ||
    !sameEntries(existing.metadata?.labels, desired.metadata?.labels) ||
    !sameEntries(existing.metadata?.annotations, desired.metadata?.annotations) ||
    owners(existing) !== owners(desired) ||
    (existing.type ?? "Opaque") !== desired.type
  );
}
