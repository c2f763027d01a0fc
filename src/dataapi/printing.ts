// Server-side printing: what `kubectl get workspacetables` shows (meta.k8s.io/v1 Table).
import type { WorkspaceTable } from "./types.ts";

/** True when the Accept header asks for a meta.k8s.io/v1 Table (as kubectl get does). */
export function wantsTable(accept: string): boolean {
  return accept.split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("as=Table") && params.includes("g=meta.k8s.io") && params.includes("v=v1");
  });
}

/** Bytes as people read them: 0 B, 8.0 KiB, 1.2 GiB. */
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const columnDefinitions = [
  { name: "Name", type: "string", format: "name", description: "<workspace>.<schema>.<table>, each part escaped (~XX)", priority: 0 },
  { name: "Workspace", type: "string", format: "", description: "The WorkspaceDatabase", priority: 0 },
  { name: "Type", type: "string", format: "", description: "table, view, materialized-view, partitioned-table or foreign-table", priority: 0 },
  { name: "Rows", type: "string", format: "", description: "Rows: ~ marks an estimate", priority: 0 },
  { name: "Size", type: "string", format: "", description: "Size on disk", priority: 0 },
  { name: "Schema", type: "string", format: "", description: "PostgreSQL schema", priority: 1 },
  { name: "Table", type: "string", format: "", description: "Name in PostgreSQL", priority: 1 },
];

function rowsCell(t: WorkspaceTable): string {
  if (t.rows === undefined) return "";
  return t.rowsExact ? String(t.rows) : `~${t.rows}`;
}

/** The Table of `items`; `includeObject` is the request's parameter (None, Metadata or Object). */
export function tableView(items: WorkspaceTable[], metadata: { resourceVersion: string; continue?: string }, includeObject: string): Record<string, unknown> {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata,
    columnDefinitions,
    rows: items.map((t) => ({
      cells: [t.metadata.name, t.workspace, t.type, rowsCell(t), humanBytes(t.sizeBytes), t.schema, t.table],
      ...(includeObject === "None"
        ? {}
        : { object: includeObject === "Object" ? t : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: t.metadata } }),
    })),
  };
}
