// What the database page's JSON API does, with the user's own identity: `kube` is a client that
// carries it (the kubeconfig's for `kubectl wsdb ui`, the forwarded bearer token in the cluster), so
// the API server decides everything, as it does for kubectl. SelfSubjectAccessReviews only decide what
// the page offers; a credential is read only from a Secret the user may read.
import { randomBytes } from "node:crypto";
import { regenerateTokenRecord } from "../api/regenerate.ts";
import {
  ANNOTATION_REGENERATE_RO,
  ANNOTATION_REGENERATE_RW,
  API_VERSION,
  GROUP,
  WORKSPACE_DATABASES,
  type WorkspaceDatabase,
} from "../api/types.ts";
import { formatCredentials, type CredentialFormat } from "../cli/format.ts";
import { READY, findCondition } from "../controllers/conditions.ts";
import { secretData, secretName } from "../controllers/secret.ts";
import { DATA_GROUP, DATA_VERSION } from "../dataapi/authz.ts";
import { PREVIEW, TABLES } from "../dataapi/discovery.ts";
import type { TablePreview, WorkspaceTable } from "../dataapi/types.ts";
import { KubeApiError } from "../kube/errors.ts";
import type { KubeRequester } from "../kube/rest.ts";
import type { Secret } from "../kube/types.ts";
import type {
  Access,
  CredentialField,
  Credentials,
  Login,
  NamespaceList,
  RegenerateAnswer,
  TableList,
  WorkspaceDetail,
  WorkspaceList,
  WorkspaceSummary,
} from "./types.ts";

/** An answer the page shows as a sentence, with its HTTP status. */
export class PageError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "PageError";
    this.status = status;
  }
}

/** The most tables a workspace page lists (the data API pages them 500 at a time). */
export const MAX_TABLES = 2_000;
/** The most WorkspaceDatabases a namespace page lists (500 a request). */
export const MAX_WORKSPACES = 2_000;
const FORMS: CredentialFormat[] = ["env", "uri", "jdbc", "superset"];

const enc = encodeURIComponent;
const workspacesPath = (ns: string) => `/apis/${API_VERSION}/namespaces/${enc(ns)}/${WORKSPACE_DATABASES}`;
const tablesPath = (ns: string) => `/apis/${DATA_GROUP}/${DATA_VERSION}/namespaces/${enc(ns)}/${TABLES}`;

/** A DNS-1123 label: what a namespace or WorkspaceDatabase name can be (others are refused before any call). */
const NAME = /^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$/;

/** A WorkspaceTable's name: its parts escaped to [a-z0-9-] and ~XX, joined by dots (dataapi/names.ts). */
const TABLE_NAME = /^[A-Za-z0-9~.-]{1,2048}$/;

export function checkTableName(name: string): string {
  if (!TABLE_NAME.test(name)) throw new PageError(404, "No such table.");
  return name;
}

export function checkName(kind: string, name: string): string {
  if (!NAME.test(name)) throw new PageError(400, `"${name}" is not a valid ${kind} name`);
  return name;
}

/** Turns an API server answer into a sentence for the page (never a credential: none is in an error). */
function explain(err: unknown, what: string): never {
  if (err instanceof PageError) throw err;
  if (err instanceof KubeApiError) {
    if (err.code === 401) throw new PageError(401, "The cluster did not accept your credentials: sign in again.");
    if (err.code === 403) throw new PageError(403, `Your role does not allow ${what}.`);
    if (err.code === 404) throw new PageError(404, `Not found: ${what}.`);
    if (err.code === 429) throw new PageError(429, "Too many requests at once: try again in a moment.");
    if (err.code === 0) throw new PageError(502, "The Kubernetes API server cannot be reached right now.");
    // The data API's own sentences (503: the database cannot be reached, 504: the query took too long, 410: stale page).
    const sentence = err.message.replace(/^[^:]*: /, "");
    throw new PageError(err.code >= 400 && err.code < 600 ? err.code : 502, sentence);
  }
  throw err;
}

async function allowed(kube: KubeRequester, attributes: Record<string, string>): Promise<boolean> {
  const review = await kube.request<{ status?: { allowed?: boolean; denied?: boolean } }>("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
    body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: attributes } },
    context: "asking what you may do (SelfSubjectAccessReview)",
  });
  return review?.status?.allowed === true && review.status.denied !== true;
}

/** What the user may do in `ns` (on `workspace` when given: its two Secrets by name). */
export async function access(kube: KubeRequester, ns: string, workspace?: string): Promise<Access> {
  const data = { group: DATA_GROUP, resource: TABLES, namespace: ns };
  const secrets = workspace === undefined
    ? [allowed(kube, { group: "", resource: "secrets", verb: "get", namespace: ns })]
    : (["read-only", "read-write"] as const).map((login) => allowed(kube, { group: "", resource: "secrets", verb: "get", namespace: ns, name: secretName(workspace, login) }));
  const [browse, preview, regenerate, ...credentials] = await Promise.all([
    allowed(kube, { ...data, verb: "list" }),
    allowed(kube, { ...data, verb: "get", subresource: PREVIEW }),
    allowed(kube, { group: GROUP, resource: WORKSPACE_DATABASES, verb: "patch", namespace: ns, ...(workspace === undefined ? {} : { name: workspace }) }),
    ...secrets,
  ]);
  const logins: Login[] = ["read-only", "read-write"];
  return { browse: browse && preview, credentials: workspace === undefined ? (credentials[0] ? logins : []) : logins.filter((_, i) => credentials[i]), regenerate };
}

/** The user's name, when the API server says (SelfSubjectReview). */
export async function whoAmI(kube: KubeRequester): Promise<string | undefined> {
  try {
    const review = await kube.request<{ status?: { userInfo?: { username?: string } } }>("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
      context: "asking who you are (SelfSubjectReview)",
    });
    return review?.status?.userInfo?.username;
  } catch {
    return undefined;
  }
}

export async function namespaces(kube: KubeRequester): Promise<NamespaceList> {
  try {
    const list = await kube.request<{ items: Array<{ metadata: { name: string } }> }>("GET", "/api/v1/namespaces", { context: "listing namespaces" });
    return { allowed: true, items: list.items.map((n) => n.metadata.name).sort() };
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 403) return { allowed: false };
    return explain(err, "listing namespaces");
  }
}

function summary(ws: WorkspaceDatabase): WorkspaceSummary {
  const ready = findCondition(ws.status?.conditions, READY);
  return {
    name: ws.metadata.name,
    ...(ws.status?.database === undefined ? {} : { database: ws.status.database }),
    ...(ws.status?.server === undefined ? {} : { server: ws.status.server }),
    state: {
      ready: ready?.status === "True" || ready?.status === "False" ? ready.status : "Unknown",
      reason: ready?.reason ?? (ws.metadata.deletionTimestamp === undefined ? "Provisioning" : "Deleting"),
      message: ready?.message ?? "",
    },
    ...(ws.metadata.creationTimestamp === undefined ? {} : { created: ws.metadata.creationTimestamp }),
  };
}

export async function workspaces(kube: KubeRequester, ns: string): Promise<WorkspaceList> {
  checkName("namespace", ns);
  try {
    const listing = async () => {
      const items: WorkspaceDatabase[] = [];
      let token: string | undefined;
      do {
        const page = await kube.request<{ items: WorkspaceDatabase[]; metadata?: { continue?: string } }>("GET", workspacesPath(ns), {
          query: { limit: 500, continue: token },
          context: "listing workspace databases",
        });
        items.push(...page.items);
        token = page.metadata?.continue || undefined;
      } while (token !== undefined && items.length < MAX_WORKSPACES);
      return { items, more: token !== undefined };
    };
    const [list, may] = await Promise.all([listing(), access(kube, ns)]);
    return { namespace: ns, items: list.items.map(summary).sort((a, b) => (a.name < b.name ? -1 : 1)), more: list.more, access: may };
  } catch (err) {
    return explain(err, `listing the workspace databases of namespace ${ns}`);
  }
}

export async function workspace(kube: KubeRequester, ns: string, name: string): Promise<WorkspaceDetail> {
  checkName("namespace", ns);
  checkName("workspace database", name);
  try {
    const [ws, may] = await Promise.all([
      kube.request<WorkspaceDatabase>("GET", `${workspacesPath(ns)}/${enc(name)}`, { context: `reading workspace database ${name}` }),
      access(kube, ns, name),
    ]);
    const login = (c: { username?: string; passwordChangedAt?: string; regenerateToken?: string | null } | undefined) => ({
      ...(c?.username === undefined ? {} : { username: c.username }),
      ...(c?.passwordChangedAt === undefined ? {} : { passwordChangedAt: c.passwordChangedAt }),
      ...(c?.regenerateToken == null ? {} : { regenerateToken: c.regenerateToken }),
    });
    return {
      ...summary(ws),
      namespace: ns,
      access: may,
      logins: { "read-only": login(ws.status?.credentials?.readOnly), "read-write": login(ws.status?.credentials?.readWrite) },
    };
  } catch (err) {
    return explain(err, `reading workspace database ${name} in namespace ${ns}`);
  }
}

export async function tables(kube: KubeRequester, ns: string, name: string): Promise<TableList> {
  checkName("namespace", ns);
  checkName("workspace database", name);
  const items: WorkspaceTable[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await kube.request<{ items: WorkspaceTable[]; metadata?: { continue?: string } }>("GET", tablesPath(ns), {
        query: { limit: 500, continue: token, fieldSelector: `workspace=${name}` },
        context: "listing tables",
      });
      items.push(...page.items);
      token = page.metadata?.continue || undefined;
    } while (token !== undefined && items.length < MAX_TABLES);
  } catch (err) {
    return explain(err, `browsing the tables of namespace ${ns}`);
  }
  return { items: items.slice(0, MAX_TABLES), more: token !== undefined || items.length > MAX_TABLES };
}

export async function table(kube: KubeRequester, ns: string, object: string): Promise<WorkspaceTable> {
  checkName("namespace", ns);
  try {
    return await kube.request<WorkspaceTable>("GET", `${tablesPath(ns)}/${enc(object)}`, { context: "reading a table" });
  } catch (err) {
    return explain(err, `reading this table in namespace ${ns}`);
  }
}

export async function rows(kube: KubeRequester, ns: string, object: string, limit: number, token: string | undefined): Promise<TablePreview> {
  checkName("namespace", ns);
  try {
    return await kube.request<TablePreview>("GET", `${tablesPath(ns)}/${enc(object)}/${PREVIEW}`, {
      query: { limit, continue: token },
      context: "previewing rows",
    });
  } catch (err) {
    return explain(err, `previewing the rows of this table in namespace ${ns}`);
  }
}

const MASK = "••••••••";
/** The Secret keys that hold no password. */
const PLAIN_KEYS = ["host", "port", "database", "username", "sslmode", "external-host", "external-port"];

function fieldsOf(keys: Record<string, string>, external: boolean): CredentialField[] {
  const host = external ? keys["external-host"] ?? "" : keys.host ?? "";
  const port = external ? keys["external-port"] ?? keys.port ?? "5432" : keys.port ?? "5432";
  return [
    { key: "host", label: "Host", value: host, secret: false },
    { key: "port", label: "Port", value: port, secret: false },
    { key: "database", label: "Database", value: keys.database ?? "", secret: false },
    { key: "username", label: "Username", value: keys.username ?? "", secret: false },
    { key: "password", label: "Password", value: keys.password ?? "", secret: true },
    { key: "sslmode", label: "SSL mode", value: keys.sslmode ?? "prefer", secret: false },
  ];
}

function formsOf(keys: Record<string, string>, external: boolean): Record<CredentialFormat, string> {
  // The mask reads as a mask in every form (not percent-encoded or quoted).
  const unmask = (text: string) => text.replaceAll(encodeURIComponent(MASK), MASK).replaceAll(`'${MASK}'`, MASK);
  return Object.fromEntries(FORMS.map((f) => [f, unmask(formatCredentials(keys, f, external))])) as Record<CredentialFormat, string>;
}

/**
 * The connection parameters of one login, read from its Secret with the user's identity (a user who
 * may not read it gets 403 and nothing else). Without `reveal`, the password is replaced by a mask
 * everywhere, forms included.
 */
export async function credentials(kube: KubeRequester, ns: string, name: string, login: Login, reveal: boolean): Promise<Credentials> {
  checkName("namespace", ns);
  checkName("workspace database", name);
  let secret: Secret;
  try {
    secret = await kube.request<Secret>("GET", `/api/v1/namespaces/${enc(ns)}/secrets/${enc(secretName(name, login))}`, { context: "reading credentials" });
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 404) throw new PageError(404, `No credentials yet: the Secret ${secretName(name, login)} does not exist (is the workspace database Ready?).`);
    return explain(err, `reading the credentials of ${name}`);
  }
  const keys = secretData(secret);
  // Not revealed: only the keys without a secret in them, and the mask for the password.
  const shown = reveal ? keys : { ...Object.fromEntries(PLAIN_KEYS.filter((k) => keys[k] !== undefined).map((k) => [k, keys[k]!])), password: MASK };
  return {
    login,
    fields: fieldsOf(shown, false),
    forms: formsOf(shown, false),
    ...(keys["external-host"] !== undefined ? { external: { fields: fieldsOf(shown, true), forms: formsOf(shown, true) } } : {}),
    revealed: reveal,
  };
}

/** Sets the login's regenerate annotation to a new value; the page then waits for status to record it. */
export async function regenerate(kube: KubeRequester, ns: string, name: string, login: Login): Promise<RegenerateAnswer> {
  checkName("namespace", ns);
  checkName("workspace database", name);
  const annotation = login === "read-write" ? ANNOTATION_REGENERATE_RW : ANNOTATION_REGENERATE_RO;
  const token = `page-${new Date().toISOString()}-${randomBytes(4).toString("hex")}`;
  try {
    await kube.request("PATCH", `${workspacesPath(ns)}/${enc(name)}`, {
      body: { metadata: { annotations: { [annotation]: token } } },
      contentType: "application/merge-patch+json",
      context: `regenerating a password of ${name}`,
    });
  } catch (err) {
    return explain(err, `regenerating the passwords of ${name}`);
  }
  return { login, token, record: regenerateTokenRecord(token) };
}
