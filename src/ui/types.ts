// The database page's JSON API (served by src/ui/app.ts, read by web/): what each answer holds. Both
// hosts (`kubectl wsdb ui` and the in-cluster Deployment) answer the same.
import type { TablePreview, WorkspaceTable } from "../dataapi/types.ts";

/** The two logins of a workspace database, as the page names them. */
export type Login = "read-only" | "read-write";
export const LOGINS: readonly Login[] = ["read-only", "read-write"];

/** Forms the credentials are offered in (as `kubectl wsdb credentials -o`). */
export type CredentialForm = "env" | "uri" | "jdbc" | "superset";

/** GET /api/session: who serves the page and what it starts with. */
export interface SessionInfo {
  /** `local`: `kubectl wsdb ui`; `cluster`: the in-cluster Deployment. */
  host: "local" | "cluster";
  /** The namespace given on the command line (local) or undefined. */
  namespace?: string;
  /** Sent back as X-CSRF-Token with every POST. */
  csrf: string;
  /** The user's name as the API server knows it, when it says (SelfSubjectReview). */
  user?: string;
}

/** GET /api/namespaces: the namespaces the user may list, or that they may not. */
export type NamespaceList = { allowed: true; items: string[] } | { allowed: false };

/** A workspace's state, from its Ready condition. */
export interface WorkspaceState {
  ready: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/** What the user may do in a namespace or on a workspace (SelfSubjectAccessReviews). */
export interface Access {
  /** List tables and preview rows (the data API). */
  browse: boolean;
  /** The logins whose credentials Secret the user may read. */
  credentials: Login[];
  /** Set the regenerate annotations. */
  regenerate: boolean;
}

/** One WorkspaceDatabase in a list. */
export interface WorkspaceSummary {
  name: string;
  database?: string;
  server?: string;
  state: WorkspaceState;
  created?: string;
}

/** GET /api/namespaces/NS/workspaces. */
export interface WorkspaceList {
  namespace: string;
  items: WorkspaceSummary[];
  /** More than the page lists. */
  more: boolean;
  access: Access;
}

/** What status says about one login. */
export interface LoginState {
  username?: string;
  passwordChangedAt?: string;
  regenerateToken?: string;
}

/** GET /api/namespaces/NS/workspaces/WS. */
export interface WorkspaceDetail extends WorkspaceSummary {
  namespace: string;
  access: Access;
  logins: Record<Login, LoginState>;
}

/** GET /api/namespaces/NS/workspaces/WS/tables: every table of a Ready workspace (up to a cap). */
export interface TableList {
  items: WorkspaceTable[];
  /** More tables than the page lists. */
  more: boolean;
}

/** GET /api/namespaces/NS/tables/NAME. */
export type TableDetail = WorkspaceTable;

/** GET /api/namespaces/NS/tables/NAME/preview?limit=&continue=. */
export type RowsPage = TablePreview;

/** One connection parameter. */
export interface CredentialField {
  key: string;
  label: string;
  value: string;
  secret: boolean;
}

/**
 * GET /api/namespaces/NS/workspaces/WS/credentials/LOGIN[?reveal=1]: the connection parameters; the
 * password (and the forms that hold it) only with reveal=1, and never cached.
 */
export interface Credentials {
  login: Login;
  fields: CredentialField[];
  forms: Record<CredentialForm, string>;
  /** The same for tools outside the cluster, when the server has an external address. */
  external?: { fields: CredentialField[]; forms: Record<CredentialForm, string> };
  revealed: boolean;
}

/** POST /api/namespaces/NS/workspaces/WS/regenerate {login}: the annotation's value and its record in status. */
export interface RegenerateAnswer {
  login: Login;
  token: string;
  record: string;
}

/** Every error answer. */
export interface ErrorAnswer {
  message: string;
  /** How to sign in (401 of the in-cluster host). */
  signIn?: string;
}
