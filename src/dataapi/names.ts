// Names of WorkspaceTables: `<workspace>.<schema>.<table>`, each part escaped so the name is a valid,
// reversible Kubernetes object name whatever the PostgreSQL identifiers contain.

/** The parts of a WorkspaceTable name. */
export interface TableName {
  workspace: string;
  schema: string;
  table: string;
}

const PLAIN = /^[a-z0-9-]$/;

/**
 * Escapes one part: every character outside `[a-z0-9-]` (dots, `~` and upper case included) becomes
 * `~XX` for each of its UTF-8 bytes, in lower-case hex.
 */
export function escapePart(part: string): string {
  let out = "";
  for (const ch of part) {
    if (PLAIN.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, "utf8")) out += `~${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * Reverses {@link escapePart}; undefined unless `escaped` is exactly what escapePart gives for some
 * text (lower-case hex, valid UTF-8, nothing escaped that need not be), so every table has one name.
 */
export function unescapePart(escaped: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; ) {
    const ch = escaped[i]!;
    if (ch === "~") {
      const hex = escaped.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else if (PLAIN.test(ch)) {
      bytes.push(ch.charCodeAt(0));
      i++;
    } else return undefined;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
  return escapePart(text) === escaped ? text : undefined;
}

/** The object name of a table: its three escaped parts joined by dots. */
export function tableObjectName(name: TableName): string {
  return `${escapePart(name.workspace)}.${escapePart(name.schema)}.${escapePart(name.table)}`;
}

/** Parses an object name made by {@link tableObjectName}; undefined for anything else. */
export function parseTableObjectName(objectName: string): TableName | undefined {
  const parts = objectName.split(".");
  if (parts.length !== 3) return undefined;
  const [workspace, schema, table] = parts.map(unescapePart);
  if (workspace === undefined || schema === undefined || table === undefined || workspace === "" || schema === "" || table === "") return undefined;
  return { workspace, schema, table };
}
