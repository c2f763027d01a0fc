// The objects the data API serves, and the errors it answers with (as Kubernetes Status).

/** A column of a WorkspaceTable. */
export interface TableColumn {
  name: string;
  type: string;
  nullable: boolean;
  primaryKey: boolean;
}

/** What kind of relation a WorkspaceTable is. */
export type TableType = "table" | "view" | "materialized-view" | "partitioned-table" | "foreign-table";

/** One table of a workspace database, as served (see discovery.ts for the field documentation). */
export interface WorkspaceTable {
  apiVersion: string;
  kind: "WorkspaceTable";
  metadata: { name: string; namespace: string; creationTimestamp?: string | null };
  workspace: string;
  schema: string;
  table: string;
  type: TableType;
  rows?: number;
  rowsExact: boolean;
  sizeBytes: number;
  comment?: string;
  /** Number of columns; `columns` lists at most 100 of them on list, all on get. */
  columnCount: number;
  columns: TableColumn[];
}

/** Rows of a table (subresource preview). */
export interface TablePreview {
  apiVersion: string;
  kind: "WorkspaceTablePreview";
  metadata: { continue?: string };
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
  truncated: boolean;
}

/** A page of a list. */
export interface Page<T> {
  items: T[];
  continue?: string;
  /** Sent as Warning headers (kubectl prints them): e.g. a workspace that could not be read was left out. */
  warnings?: string[];
}

/** Options of a list: Kubernetes paging and the `workspace` field selector. */
export interface ListOptions {
  limit?: number;
  continue?: string;
  workspace?: string;
}

/** Options of a preview. */
export interface PreviewOptions {
  limit: number;
  continue?: string;
}

/** Where the tables come from (tables.ts). */
export interface TableSource {
  /** Tables of the Ready workspaces of `namespace` (every namespace when undefined), ordered by name. */
  list(namespace: string | undefined, options: ListOptions): Promise<Page<WorkspaceTable>>;
  /** One table; throws NotFound. */
  get(namespace: string, name: string): Promise<WorkspaceTable>;
  preview(namespace: string, name: string, options: PreviewOptions): Promise<TablePreview>;
}

/** Status reasons the data API answers with. */
export type StatusReason = "BadRequest" | "Unauthorized" | "Forbidden" | "NotFound" | "MethodNotAllowed" | "NotAcceptable" | "Expired" | "Gone" | "ServiceUnavailable" | "Timeout" | "TooManyRequests" | "InternalError";

/** meta/v1 StatusDetails, as far as the data API fills them in. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  /** With 429 and 503: when to try again (also sent as Retry-After). */
  retryAfterSeconds?: number;
}

/** An error answered as a Kubernetes Status with this code and reason; the message is for the caller. */
export class DataApiError extends Error {
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = "DataApiError";
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

/** The meta/v1 Status body of an error. */
export function statusBody(err: DataApiError): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: err.message,
    reason: err.reason,
    ...(err.details === undefined ? {} : { details: err.details }),
    code: err.code,
  };
}
