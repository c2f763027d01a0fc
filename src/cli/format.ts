// What kubectl-wsdb prints: aligned tables, previews like psql's, credentials in the formats tools take.

/** Columns padded to their widest cell; numbers (right-aligned) where `right` says so. */
export function alignedTable(headers: string[], unsafe: string[][], right: boolean[] = []): string {
  const rows = unsafe.map((r) => r.map(printable));
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells.map((c, i) => (right[i] === true ? pad(c, widths[i]!, true) : i === cells.length - 1 ? c : pad(c, widths[i]!, false))).join("   ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

function width(text: string): number {
  return [...text].length;
}

function pad(text: string, to: number, left: boolean): string {
  const fill = " ".repeat(Math.max(0, to - width(text)));
  return left ? fill + text : text + fill;
}

/**
 * Text from the cluster or a database, safe to print on a terminal: newlines as ↵, every other
 * control character (escape sequences, carriage returns, C1 controls) as \xNN.
 */
export function printable(text: string): string {
  let out = "";
  for (const ch of text.replace(/\r?\n/g, "↵")) {
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\x${code.toString(16).padStart(2, "0")}` : ch;
  }
  return out;
}

/** One preview value as psql shows it: null as empty, text as is, others as JSON; always {@link printable}. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value === true ? "t" : value === false ? "f" : value) : JSON.stringify(value);
  return printable(text);
}

/**
 * Rows the way psql prints them: a header, a rule, ` | `-separated cells (numbers right-aligned) and
 * a footer with the row count.
 */
export function psqlTable(columns: Array<{ name: string; type: string }>, rows: unknown[][]): string {
  columns = columns.map((c) => ({ name: printable(c.name), type: c.type }));
  const numeric = columns.map((c) => /^(smallint|integer|bigint|numeric|real|double precision|oid)\b/.test(c.type));
  const text = rows.map((r) => columns.map((_, i) => cell(r[i])));
  const widths = columns.map((c, i) => Math.max(width(c.name), ...text.map((r) => width(r[i] ?? ""))));
  const center = (name: string, w: number) => {
    const left = Math.floor((w - width(name)) / 2);
    return " ".repeat(left) + name + " ".repeat(w - width(name) - left);
  };
  const out = [
    ` ${columns.map((c, i) => center(c.name, widths[i]!)).join(" | ")}`.trimEnd(),
    widths.map((w) => "-".repeat(w + 2)).join("+"),
    ...text.map((r) => ` ${r.map((c, i) => pad(c, widths[i]!, numeric[i] === true)).join(" | ")}`.trimEnd()),
    `(${rows.length} ${rows.length === 1 ? "row" : "rows"})`,
  ];
  return out.join("\n");
}

/** `schema.table` as the user typed it; a name without a dot is in `public`; `"a.b"."c"` quotes dots. */
export function parseTableRef(ref: string): { schema: string; table: string } | undefined {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < ref.length; i++) {
    const ch = ref[i]!;
    if (quoted) {
      if (ch === '"' && ref[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ".") {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  if (quoted) return undefined;
  parts.push(current);
  if (parts.some((p) => p === "")) return undefined;
  if (parts.length === 1) return { schema: "public", table: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, table: parts[1]! };
  return undefined;
}

/** Output formats of `credentials`. */
export const CREDENTIAL_FORMATS = ["env", "uri", "jdbc", "superset"] as const;
export type CredentialFormat = (typeof CREDENTIAL_FORMATS)[number];

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/**
 * A credentials Secret's keys (decoded) in `format`: `env` (PG* variables, shell-quoted), `uri`
 * (postgresql://), `jdbc`, or `superset` (an SQLAlchemy URI for Superset's database form). With
 * `external`, the server's external address is used (for tools outside the cluster).
 */
export function formatCredentials(keys: Record<string, string>, format: CredentialFormat, external: boolean): string {
  const host = (external ? keys["external-host"] : undefined) ?? keys.host ?? "";
  const port = (external ? keys["external-port"] : undefined) ?? keys.port ?? "5432";
  const user = keys.username ?? "";
  const password = keys.password ?? "";
  const database = keys.database ?? "";
  const sslmode = keys.sslmode ?? "prefer";
  const hostInUrl = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const enc = encodeURIComponent;
  switch (format) {
    case "env":
      return [["PGHOST", host], ["PGPORT", port], ["PGDATABASE", database], ["PGUSER", user], ["PGPASSWORD", password], ["PGSSLMODE", sslmode]]
        .map(([k, v]) => `${k}=${shellQuote(v!)}`).join("\n");
    case "uri":
      return (external ? keys["external-uri"] : undefined) ?? `postgresql://${enc(user)}:${enc(password)}@${hostInUrl}:${port}/${enc(database)}?sslmode=${enc(sslmode)}`;
    case "jdbc":
      return (external ? keys["external-jdbc-uri"] : undefined) ??
        `jdbc:postgresql://${hostInUrl}:${port}/${enc(database)}?sslmode=${enc(sslmode)}&user=${enc(user)}&password=${enc(password)}`;
    case "superset":
      return `postgresql+psycopg2://${enc(user)}:${enc(password)}@${hostInUrl}:${port}/${enc(database)}?sslmode=${enc(sslmode)}`;
  }
}
