// The data API's discovery documents (legacy and aggregated) and its OpenAPI v3 document.
import { createHash } from "node:crypto";
import { DATA_GROUP, DATA_VERSION } from "./authz.ts";

export const GROUP_VERSION = `${DATA_GROUP}/${DATA_VERSION}`;
export const TABLES = "workspacetables";
export const TABLE_KIND = "WorkspaceTable";
export const TABLE_LIST_KIND = "WorkspaceTableList";
export const PREVIEW = "preview";
export const PREVIEW_KIND = "WorkspaceTablePreview";
const SHORT_NAMES = ["wstable"];
const CATEGORIES = ["workspacedb"];

/** Content type of aggregated discovery (the API server asks for it with this Accept). */
export const AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const groupVersionForDiscovery = { groupVersion: GROUP_VERSION, version: DATA_VERSION };

/** GET /apis/data.workspacedb.io */
export const apiGroup = {
  kind: "APIGroup",
  apiVersion: "v1",
  name: DATA_GROUP,
  versions: [groupVersionForDiscovery],
  preferredVersion: groupVersionForDiscovery,
};

/** GET /apis (legacy form) */
export const apiGroupList = { kind: "APIGroupList", apiVersion: "v1", groups: [apiGroup] };

/** GET /apis/data.workspacedb.io/v1alpha1 */
export const apiResourceList = {
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: GROUP_VERSION,
  resources: [
    { name: TABLES, singularName: "workspacetable", namespaced: true, kind: TABLE_KIND, verbs: ["get", "list"], shortNames: SHORT_NAMES, categories: CATEGORIES },
    { name: `${TABLES}/${PREVIEW}`, singularName: "", namespaced: true, group: DATA_GROUP, version: DATA_VERSION, kind: PREVIEW_KIND, verbs: ["get"] },
  ],
};

/** GET /apis with Accept: the aggregated form. */
export const apiGroupDiscoveryList = {
  kind: "APIGroupDiscoveryList",
  apiVersion: "apidiscovery.k8s.io/v2",
  metadata: {},
  items: [
    {
      metadata: { name: DATA_GROUP },
      versions: [
        {
          version: DATA_VERSION,
          freshness: "Current",
          resources: [
            {
              resource: TABLES,
              responseKind: { group: DATA_GROUP, version: DATA_VERSION, kind: TABLE_KIND },
              scope: "Namespaced",
              singularResource: "workspacetable",
              verbs: ["get", "list"],
              shortNames: SHORT_NAMES,
              categories: CATEGORIES,
              subresources: [{ subresource: PREVIEW, responseKind: { group: DATA_GROUP, version: DATA_VERSION, kind: PREVIEW_KIND }, verbs: ["get"] }],
            },
          ],
        },
      ],
    },
  ],
};

const str = (description: string) => ({ type: "string", description });
const int = (description: string) => ({ type: "integer", format: "int64", description });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
// Schemas carry a list of kinds, operations one kind (as kube-apiserver writes them).
const gvk = (kind: string) => ({ "x-kubernetes-group-version-kind": [{ group: DATA_GROUP, version: DATA_VERSION, kind }] });
const operationGvk = (kind: string) => ({ "x-kubernetes-group-version-kind": { group: DATA_GROUP, version: DATA_VERSION, kind } });
const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const TABLE_SCHEMA = "io.workspacedb.data.v1alpha1.WorkspaceTable";
const LIST_SCHEMA = "io.workspacedb.data.v1alpha1.WorkspaceTableList";
const PREVIEW_SCHEMA = "io.workspacedb.data.v1alpha1.WorkspaceTablePreview";

const schemas = {
  [TABLE_SCHEMA]: {
    type: "object",
    description: "One table, view, materialized view, partitioned or foreign table of a Ready WorkspaceDatabase in this namespace. Read-only: the data API serves it from the database's catalog, queried as the workspace's read-only login.",
    properties: {
      apiVersion: str("APIVersion: data.workspacedb.io/v1alpha1."),
      kind: str("Kind: WorkspaceTable."),
      metadata: { ...ref(`${META}.ObjectMeta`), description: "Name: <workspace>.<schema>.<table>, each part with every character outside [a-z0-9-] written ~XX (its UTF-8 bytes in hex)." },
      workspace: str("The WorkspaceDatabase the table belongs to."),
      schema: str("The PostgreSQL schema."),
      table: str("The table's name, as PostgreSQL has it."),
      type: { type: "string", enum: ["table", "view", "materialized-view", "partitioned-table", "foreign-table"], description: "What kind of relation it is." },
      rows: int("Number of rows: the planner's estimate on list; exact on get for a table below 10,000 rows (never counted for views and foreign tables). Absent when unknown."),
      rowsExact: { type: "boolean", description: "True when rows was counted, false when it is an estimate." },
      sizeBytes: int("Size on disk in bytes (table, indexes and TOAST); 0 for views."),
      comment: str("The table's COMMENT, if any (its first 1,000 characters)."),
      columnCount: int("Number of columns."),
      columns: {
        type: "array",
        description: "Columns in order: all of them on get, the first 100 on list.",
        items: {
          type: "object",
          properties: {
            name: str("Column name."),
            type: str("PostgreSQL type, as format_type() writes it."),
            nullable: { type: "boolean", description: "False when the column is NOT NULL." },
            primaryKey: { type: "boolean", description: "True when the column is part of the primary key." },
          },
        },
      },
    },
    ...gvk(TABLE_KIND),
  },
  [LIST_SCHEMA]: {
    type: "object",
    description: "A page of WorkspaceTables.",
    properties: {
      apiVersion: str("APIVersion: data.workspacedb.io/v1alpha1."),
      kind: str("Kind: WorkspaceTableList."),
      metadata: ref(`${META}.ListMeta`),
      items: { type: "array", items: ref(TABLE_SCHEMA) },
    },
    ...gvk(TABLE_LIST_KIND),
  },
  [PREVIEW_SCHEMA]: {
    type: "object",
    description: "Up to `limit` rows of a WorkspaceTable (subresource preview), read as the workspace's read-only login; long values are truncated.",
    properties: {
      apiVersion: str("APIVersion: data.workspacedb.io/v1alpha1."),
      kind: str("Kind: WorkspaceTablePreview."),
      metadata: ref(`${META}.ListMeta`),
      columns: { type: "array", items: { type: "object", properties: { name: str("Column name."), type: str("PostgreSQL type.") } } },
      rows: { type: "array", description: "Rows, each an array of values in column order (JSON; numbers beyond 2^53, dates and binary as text).", items: { type: "array", items: {} } },
      truncated: { type: "boolean", description: "True when a value was shortened or the response size cap was reached." },
    },
    ...gvk(PREVIEW_KIND),
  },
  [`${META}.ObjectMeta`]: {
    type: "object",
    description: "Standard object metadata.",
    properties: { name: str("Name of the object."), namespace: str("Namespace of the object."), uid: str("UID."), creationTimestamp: { type: "string", format: "date-time" } },
  },
  [`${META}.ListMeta`]: {
    type: "object",
    description: "Standard list metadata.",
    properties: { continue: str("Token for the next page, when there is one."), resourceVersion: str("Unused.") },
  },
};

const parameters = {
  limit: { name: "limit", in: "query", schema: { type: "integer" }, description: "At most this many items." },
  continue: { name: "continue", in: "query", schema: { type: "string" }, description: "The token of the previous page." },
  fieldSelector: { name: "fieldSelector", in: "query", schema: { type: "string" }, description: "workspace=NAME, metadata.name=NAME or metadata.namespace=NS." },
  namespace: { name: "namespace", in: "path", required: true, schema: { type: "string" } },
  name: { name: "name", in: "path", required: true, schema: { type: "string" } },
};
const ok = (schema: string) => ({ 200: { description: "OK", content: { "application/json": { schema: ref(schema) } } } });

/** The OpenAPI v3 document of data.workspacedb.io/v1alpha1. */
export const openApiV3 = {
  openapi: "3.0.0",
  info: { title: "workspacedb data API", version: DATA_VERSION },
  paths: {
    [`/apis/${GROUP_VERSION}/${TABLES}`]: {
      get: { operationId: "listWorkspaceTableForAllNamespaces", parameters: [parameters.limit, parameters.continue, parameters.fieldSelector], responses: ok(LIST_SCHEMA), "x-kubernetes-action": "list", ...operationGvk(TABLE_KIND) },
    },
    [`/apis/${GROUP_VERSION}/namespaces/{namespace}/${TABLES}`]: {
      get: { operationId: "listNamespacedWorkspaceTable", parameters: [parameters.namespace, parameters.limit, parameters.continue, parameters.fieldSelector], responses: ok(LIST_SCHEMA), "x-kubernetes-action": "list", ...operationGvk(TABLE_KIND) },
    },
    [`/apis/${GROUP_VERSION}/namespaces/{namespace}/${TABLES}/{name}`]: {
      get: { operationId: "readNamespacedWorkspaceTable", parameters: [parameters.namespace, parameters.name], responses: ok(TABLE_SCHEMA), "x-kubernetes-action": "get", ...operationGvk(TABLE_KIND) },
    },
    [`/apis/${GROUP_VERSION}/namespaces/{namespace}/${TABLES}/{name}/${PREVIEW}`]: {
      get: { operationId: "readNamespacedWorkspaceTablePreview", parameters: [parameters.namespace, parameters.name, parameters.limit, parameters.continue], responses: ok(PREVIEW_SCHEMA), "x-kubernetes-action": "get", ...operationGvk(PREVIEW_KIND) },
    },
  },
  components: { schemas },
};

const openApiV3Text = JSON.stringify(openApiV3);
/** Hash of the document, as kube-apiserver's OpenAPI v3 discovery puts it in the URL. */
export const openApiV3Hash = createHash("sha512").update(openApiV3Text).digest("hex").toUpperCase();

/** GET /openapi/v3: where each group-version's document is. */
export const openApiV3Discovery = {
  paths: { [`apis/${GROUP_VERSION}`]: { serverRelativeURL: `/openapi/v3/apis/${GROUP_VERSION}?hash=${openApiV3Hash}` } },
};

/** The document as served (precomputed). */
export function openApiV3Body(): string {
  return openApiV3Text;
}
