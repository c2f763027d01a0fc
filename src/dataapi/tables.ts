// WorkspaceTables from PostgreSQL: catalog reads and row previews, always as the workspace's read-only
// login, names from requests only ever compared with catalog values, never put into SQL text.
import { classifyPgError, type PostgresError } from "../postgres/errors.ts";
import type { Queryable } from "../postgres/queryable.ts";
import { quoteIdent } from "../postgres/sql.ts";
import { DATA_GROUP } from "./authz.ts";
import { GROUP_VERSION, PREVIEW_KIND, TABLES, TABLE_KIND } from "./discovery.ts";
import { parseTableObjectName, tableObjectName } from "./names.ts";
import {
  DataApiError,
  type ListOptions,
  type Page,
  type PreviewOptions,
  type TableColumn,
  type TablePreview,
  type TableSource,
  type TableType,
  type WorkspaceTable,
} from "./types.ts";

/** How to reach one workspace's database as its read-only login. */
export interface ReadOnlyLogin {
  host: string;
  port: number;
  sslMode: string;
  database: string;
  user: string;
  password: string;
  /** The server's CA (PEM) for verify-ca / verify-full, when its DatabaseServer has tls.caSecretRef. */
  ca?: string;
}

/** The workspaces the data API may read (from the operator's caches). */
export interface WorkspaceDirectory {
  /** Ready workspaces of `namespace` (of every namespace when undefined), as [namespace, name], sorted. */
  readyWorkspaces(namespace: string | undefined): Promise<Array<[string, string]>>;
  /** The read-only login of a Ready workspace; undefined when it is not Ready or has no credentials yet. */
  readOnlyLogin(namespace: string, name: string): Promise<ReadOnlyLogin | undefined>;
}

/** Runs `fn` on a session of `login` (opened and closed around it); errors are thrown as they come. */
export type SessionRunner = <T>(login: ReadOnlyLogin, fn: (db: Queryable) => Promise<T>) => Promise<T>;

/** Options of {@link PostgresTables}. */
export interface PostgresTablesOptions {
  /** A preview answer stops adding rows beyond this many bytes of values; default 1 MiB. */
  maxResponseBytes?: number;
  /** Text values are cut to this many characters; default 1,000 (binary: a quarter, in bytes). */
  maxValueChars?: number;
  /** `get` counts the rows of a table below this many; default 10,000. */
  exactCountBelow?: number;
  /** Most workspaces a list page reads; default 50 (the page ends early, with a continue token). */
  maxWorkspacesPerPage?: number;
  /** Told the details of every PostgreSQL failure (for the log); callers only get a plain sentence. */
  onError?: (namespace: string, workspace: string, err: PostgresError) => void;
}

/** A table's comment is cut to this many characters. */
const COMMENT_CHARS = 1000;
/** A list describes at most this many columns per table (`columnCount` has them all); `get` all of them. */
const LIST_COLUMNS = 100;
const ALL_COLUMNS = 1600;
/** Block ranges (of 256 blocks) a preview without a primary key scans at most per request. */
const MAX_CTID_RANGES = 64;
/** Catalog rows read per statement while listing. */
const LIST_CHUNK = 500;

const RELKINDS: Record<string, TableType> = { r: "table", v: "view", m: "materialized-view", p: "partitioned-table", f: "foreign-table" };

interface CatalogRow {
  schema: string;
  name: string;
  kind: string;
  oid: string;
  filenode: string;
  estimate: string | null;
  size: string | null;
  comment: string | null;
  has_children: boolean;
  blocks: string | null;
  column_count: number;
  columns: Array<{ name: string; type: string; typeOid: number; nullable: boolean; primaryKey: boolean }>;
  primary_key: string[] | null;
}

// One statement for list and get: $1/$2 start after (schema, table), $3/$4 exactly this table, $5 a limit,
// $6 the most columns described per table. Built-ins are qualified with pg_catalog (and the session's
// search_path is pg_catalog only), so no function or operator a tenant made can be called instead;
// comments are cut, so a tenant's 100 MB comment costs nothing here.
const CATALOG_SQL = `
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind, c.oid::int8::text AS oid, c.relfilenode::int8::text AS filenode,
       CASE WHEN c.relkind IN ('r', 'm', 'p') AND c.reltuples >= 0 THEN c.reltuples::int8::text END AS estimate,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_catalog.pg_total_relation_size(c.oid)::text END AS size,
       pg_catalog.left(pg_catalog.obj_description(c.oid, 'pg_class'::pg_catalog.name), ${COMMENT_CHARS}) AS comment,
       c.relhassubclass AS has_children,
       CASE WHEN c.relkind IN ('r', 'm') THEN (pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int8)::text END AS blocks,
       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::int AS column_count,
       (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object('name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                 'typeOid', a.atttypid::int8, 'nullable', NOT a.attnotnull, 'primaryKey', coalesce(a.attnum = ANY (pk.conkey), false)) ORDER BY a.attnum), '[]'::json)
          FROM (SELECT * FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT $6) a) AS columns,
       (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord) FROM pg_catalog.unnest(pk.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS primary_key
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
   AND ($1::text IS NULL OR (n.nspname COLLATE "C", c.relname COLLATE "C") > ($1::text COLLATE "C", $2::text COLLATE "C"))
   AND ($3::text IS NULL OR (n.nspname = $3::text AND c.relname = $4::text))
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"
 LIMIT $5`;

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

function unb64(token: string): unknown {
  try {
    return JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

const badContinue = () => new DataApiError(400, "BadRequest", "the continue token is not valid (it must come unchanged from a previous answer of the same request)");
const expired = (what: string) => new DataApiError(410, "Expired", `the continue token is too old: ${what}; start again without it`);

/** A list page's position: the last table served (schema "": the whole workspace was served). */
type ListToken = [namespace: string, workspace: string, schema: string, table: string];

function parseListToken(token: string): ListToken {
  const value = unb64(token);
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => typeof v === "string")) throw badContinue();
  return value as ListToken;
}

/** A preview page's position: which relation (and which version of its storage), how, and after what. */
interface PreviewToken {
  oid: string;
  filenode: string;
  /** "pk": after these primary key values (text); "ctid": after this tuple id. */
  mode: "pk" | "ctid";
  after: string[];
}

function parsePreviewToken(token: string): PreviewToken {
  const value = unb64(token) as Partial<PreviewToken> | undefined;
  if (value === undefined || value === null || typeof value !== "object" || typeof value.oid !== "string" || typeof value.filenode !== "string" ||
    (value.mode !== "pk" && value.mode !== "ctid") || !Array.isArray(value.after) || !value.after.every((v) => typeof v === "string")) {
    throw badContinue();
  }
  return value as PreviewToken;
}

const INT_OIDS = new Set([21, 23, 26]);
const FLOAT_OIDS = new Set([700, 701]);
const BOOL_OID = 16;
const INT8_OID = 20;
const BYTEA_OID = 17;
const JSON_OIDS = new Set([114, 3802]);

/**
 * Serves WorkspaceTables from the databases of Ready workspaces. Every statement runs as the
 * workspace's read-only login (see {@link SessionRunner}); tables named in a request are found by
 * comparing catalog values, and only catalog values are quoted into SQL.
 */
export class PostgresTables implements TableSource {
  readonly #directory: WorkspaceDirectory;
  readonly #session: SessionRunner;
  readonly #maxBytes: number;
  readonly #maxChars: number;
  readonly #exactBelow: number;
  readonly #maxWorkspaces: number;
  readonly #onError: (namespace: string, workspace: string, err: PostgresError) => void;

  constructor(directory: WorkspaceDirectory, session: SessionRunner, options: PostgresTablesOptions = {}) {
    this.#onError = options.onError ?? (() => undefined);
    this.#directory = directory;
    this.#session = session;
    this.#maxBytes = options.maxResponseBytes ?? 1024 * 1024;
    this.#maxChars = options.maxValueChars ?? 1000;
    this.#exactBelow = options.exactCountBelow ?? 10_000;
    this.#maxWorkspaces = options.maxWorkspacesPerPage ?? 50;
  }

  async list(namespace: string | undefined, options: ListOptions): Promise<Page<WorkspaceTable>> {
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    const after = options.continue === undefined ? undefined : parseListToken(options.continue);
    let workspaces = (await this.#directory.readyWorkspaces(namespace)).filter(([, ws]) => options.workspace === undefined || ws === options.workspace);
    if (after !== undefined) {
      const whole = after[2] === "";
      workspaces = workspaces.filter(([ns, ws]) => ns > after[0] || (ns === after[0] && (ws > after[1] || (!whole && ws === after[1]))));
    }
    const items: WorkspaceTable[] = [];
    const warnings: string[] = [];
    let bytes = 0;
    let visited = 0;
    const failures: Array<{ workspace: string; err: DataApiError }> = [];
    const token = (ns: string, ws: string, last?: WorkspaceTable) => b64([ns, ws, last?.schema ?? "", last?.table ?? ""] satisfies ListToken);
    for (const [index, [ns, ws]] of workspaces.entries()) {
      const login = await this.#directory.readOnlyLogin(ns, ws);
      if (login === undefined) continue;
      const moreWorkspaces = index < workspaces.length - 1;
      let start: [string | null, string | null] = after !== undefined && after[0] === ns && after[1] === ws ? [after[2], after[3]] : [null, null];
      visited++;
      try {
        // In chunks, so that neither a statement's answer nor the page outgrows its budget.
        const full = await this.#run(login, ns, ws, async (db) => {
          for (;;) {
            const wanted = Math.min(limit - items.length, LIST_CHUNK);
            const rows = await catalog(db, start[0], start[1], null, null, wanted + 1, LIST_COLUMNS);
            for (const row of rows.slice(0, wanted)) {
              const table = toTable(ns, ws, row);
              items.push(table);
              bytes += Buffer.byteLength(JSON.stringify(table));
              if (bytes >= this.#maxBytes && (items.length < limit || rows.length > wanted || moreWorkspaces)) return true;
            }
            const last = items.at(-1);
            if (rows.length <= wanted || last === undefined) return false;
            if (items.length >= limit) return true;
            start = [last.schema, last.table];
          }
        });
        const last = items.at(-1);
        if (full && last !== undefined) return { items, warnings, continue: token(ns, ws, last) };
      } catch (err) {
        // One workspace that cannot be read (its server down, its login's connections used up) does
        // not hide the others: it is left out with a warning; only when none could be read is it an error.
        if (!(err instanceof DataApiError) || (err.code !== 503 && err.code !== 504 && err.code !== 403)) throw err;
        failures.push({ workspace: ws, err });
        warnings.push(`workspace ${ns}/${ws} left out: ${err.message}`);
      }
      if (items.length >= limit && moreWorkspaces) return { items, warnings, continue: token(ns, ws) };
      if (visited >= this.#maxWorkspaces && moreWorkspaces) {
        // Bounded work per request: the page ends here; the next one starts at the next workspace.
        return { items, warnings, continue: token(ns, ws) };
      }
    }
    if (items.length === 0 && failures.length > 0 && failures.length === visited) {
      if (failures.length === 1) throw failures[0]!.err;
      const names = failures.slice(0, 5).map((f) => `"${f.workspace}"`).join(", ");
      throw new DataApiError(503, "ServiceUnavailable", `none of the ${failures.length} workspace databases asked for can be read now (${names}${failures.length > 5 ? ", …" : ""}); try again later, or narrow the list with --field-selector workspace=NAME`);
    }
    return { items, warnings };
  }

  async get(namespace: string, name: string): Promise<WorkspaceTable> {
    const { login, parts } = await this.#resolve(namespace, name);
    return this.#run(login, namespace, parts.workspace, async (db) => {
      const row = (await catalog(db, null, null, parts.schema, parts.table, 1, ALL_COLUMNS))[0];
      if (row === undefined) throw notFound(name);
      const table = toTable(namespace, parts.workspace, row);
      if (row.kind === "r" || row.kind === "m" || row.kind === "p") {
        try {
          const counted = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM (SELECT 1 FROM ${quoteIdent(row.schema)}.${quoteIdent(row.name)} LIMIT ${this.#exactBelow}) AS s`);
          const n = Number(counted.rows[0]?.n ?? "0");
          if (n < this.#exactBelow) {
            table.rows = n;
            table.rowsExact = true;
          }
        } catch (err) {
          // Not readable by the read-only login (no grant): the estimate stays.
          if (classifyPgError(err, "").kind !== "PermissionDenied") throw err;
        }
      }
      return table;
    });
  }

  async preview(namespace: string, name: string, options: PreviewOptions): Promise<TablePreview> {
    const { login, parts } = await this.#resolve(namespace, name);
    const token = options.continue === undefined ? undefined : parsePreviewToken(options.continue);
    return this.#run(login, namespace, parts.workspace, async (db) => {
      const row = (await catalog(db, null, null, parts.schema, parts.table, 1, ALL_COLUMNS))[0];
      if (row === undefined) throw token === undefined ? notFound(name) : expired("the table no longer exists");
      if (token !== undefined && token.oid !== row.oid) throw expired("the table was dropped and created again");
      if (token !== undefined && token.filenode !== row.filenode) throw expired("the table was rewritten");
      const pk = row.primary_key ?? [];
      const mode: PreviewToken["mode"] | undefined = pk.length > 0 ? "pk" : (row.kind === "r" || row.kind === "m") && !row.has_children ? "ctid" : undefined;
      if (token !== undefined && (token.mode !== mode || (mode === "pk" && token.after.length !== pk.length))) throw expired("the table's primary key changed");
      const relation = `${quoteIdent(row.schema)}.${quoteIdent(row.name)}`;
      // Values are cut so that even the widest row (1,600 columns) stays within the size cap.
      const chars = Math.max(16, Math.min(this.#maxChars, Math.floor(this.#maxBytes / (4 * Math.max(1, row.columns.length)))));
      const values = row.columns.map((c, i) => `${this.#valueExpression(c.typeOid, quoteIdent(c.name), chars)} AS v${i}`);
      const keys = mode === "pk" ? pk.map((k, i) => `${quoteIdent(k)}::text AS k${i}`) : mode === "ctid" ? ["ctid::text AS k0"] : [];
      const select = `SELECT ${[...values, ...keys].join(", ") || "1"} FROM ${mode === "ctid" ? "ONLY " : ""}${relation}`;
      const fetched: Array<Record<string, string | null>> = [];
      const want = options.limit + 1;
      let resumeAt: string | undefined;
      const run = async (sql: string, params: unknown[]) => {
        try {
          return (await db.query<Record<string, string | null>>(sql, params)).rows;
        } catch (err) {
          if (classifyPgError(err, "").kind === "PermissionDenied") {
            throw new DataApiError(403, "Forbidden", `the read-only login of workspace "${parts.workspace}" may not read ${row.schema}.${row.name} (the table has no SELECT grant for it)`);
          }
          throw err;
        }
      };
      // Rows are fetched in chunks that fit the size cap even at their widest, and fetching stops once
      // the cap is reached: a page of wide rows never holds more than about two caps in memory.
      const worstRow = row.columns.reduce((sum, c) => sum + this.#worstChars(c.typeOid, chars), keys.length * 64);
      const chunk = Math.max(1, Math.floor(this.#maxBytes / worstRow));
      let fetchedChars = 0;
      const take = (rows: Array<Record<string, string | null>>) => {
        for (const r of rows) for (const v of Object.values(r)) fetchedChars += v?.length ?? 0;
        fetched.push(...rows);
      };
      const room = () => fetched.length < want && fetchedChars < this.#maxBytes;
      // Whether the last statement reached the end of the rows (else a page cut by the cap goes on).
      let exhausted = false;
      if (mode === "pk") {
        const order = pk.map(quoteIdent).join(", ");
        let after = token?.after;
        while (room()) {
          const n = Math.min(chunk, want - fetched.length);
          const where = after === undefined ? "" : ` WHERE (${order}) > (${pk.map((_, i) => `$${i + 1}`).join(", ")})`;
          const rows = await run(`${select}${where} ORDER BY ${order} LIMIT ${n}`, after ?? []);
          take(rows);
          if (rows.length < n) {
            exhausted = true;
            break;
          }
          const last = rows[rows.length - 1]!;
          after = pk.map((_, i) => last[`k${i}`] ?? "");
        }
      } else if (mode === "ctid") {
        // Ranges of blocks in order, so that no statement sorts more than a range.
        const blocks = Number(row.blocks ?? "0");
        const step = 256;
        let from = token === undefined ? "(0,0)" : token.after[0] ?? "(0,0)";
        let firstBlock = Number(/^\((\d+),/.exec(from)?.[1] ?? "0");
        let strictlyAfter = token !== undefined;
        // A bounded number of ranges per request: past it (a bloated table, rows the login cannot
        // see), the page ends with what it has and a token to go on from the next range.
        for (let range = 0; room() && firstBlock <= blocks;) {
          if (range >= MAX_CTID_RANGES) {
            resumeAt = from;
            break;
          }
          const upper = `(${firstBlock + step},0)`;
          const n = Math.min(chunk, want - fetched.length);
          const rows = await run(`${select} WHERE ctid ${strictlyAfter ? ">" : ">="} $1::tid AND ctid < $2::tid ORDER BY ctid LIMIT ${n}`, [from, upper]);
          take(rows);
          if (rows.length === n) {
            // Maybe more in this range: go on after the last row.
            from = rows[rows.length - 1]!.k0 ?? from;
            strictlyAfter = true;
            continue;
          }
          from = upper;
          strictlyAfter = false;
          firstBlock += step;
          range++;
        }
        exhausted = firstBlock > blocks && resumeAt === undefined;
      } else {
        take(await run(`${select} LIMIT ${Math.min(options.limit, chunk)}`, []));
      }
      let truncated = false;
      let bytes = 0;
      const rows: unknown[][] = [];
      let lastKeys: string[] | undefined;
      for (const raw of fetched.slice(0, options.limit)) {
        const out = row.columns.map((c, i) => {
          const [value, cut] = this.#decode(c.typeOid, raw[`v${i}`] ?? null, chars);
          if (cut) truncated = true;
          return value;
        });
        const size = Buffer.byteLength(JSON.stringify(out));
        if (rows.length > 0 && bytes + size > this.#maxBytes) {
          truncated = true;
          break;
        }
        bytes += size;
        rows.push(out);
        lastKeys = keys.map((_, i) => raw[`k${i}`] ?? "");
      }
      const more = mode !== undefined && lastKeys !== undefined && (rows.length < fetched.length || (!exhausted && resumeAt === undefined));
      const after = more ? lastKeys : rows.length === fetched.length && resumeAt !== undefined ? [resumeAt] : undefined;
      const next = mode !== undefined && after !== undefined ? b64({ oid: row.oid, filenode: row.filenode, mode, after } satisfies PreviewToken) : undefined;
      return {
        apiVersion: GROUP_VERSION,
        kind: PREVIEW_KIND,
        metadata: next === undefined ? {} : { continue: next },
        columns: row.columns.map((c) => ({ name: c.name, type: c.type })),
        rows,
        truncated,
      };
    });
  }

  /** The most characters a column's value can have as fetched by {@link #valueExpression}. */
  #worstChars(typeOid: number, chars: number): number {
    if (typeOid === BYTEA_OID) return (Math.floor(chars / 4) + 1) * 2;
    if (typeOid === BOOL_OID || typeOid === INT8_OID || INT_OIDS.has(typeOid)) return 24;
    if (FLOAT_OIDS.has(typeOid)) return 32;
    return chars + 1;
  }

  /** The SQL that fetches at most a bounded prefix of a column's value, as text. */
  #valueExpression(typeOid: number, column: string, chars: number): string {
    if (typeOid === BYTEA_OID) return `pg_catalog.encode(pg_catalog.substring(${column}, 1, ${Math.floor(chars / 4) + 1}), 'hex')`;
    if (typeOid === BOOL_OID || typeOid === INT8_OID || INT_OIDS.has(typeOid) || FLOAT_OIDS.has(typeOid)) return `${column}::text`;
    return `pg_catalog.left(${column}::text, ${chars + 1})`;
  }

  /** A fetched value as JSON, and whether it was cut. */
  #decode(typeOid: number, text: string | null, chars: number): [unknown, boolean] {
    if (text === null) return [null, false];
    if (typeOid === BOOL_OID) return [text === "t", false];
    if (INT_OIDS.has(typeOid) || FLOAT_OIDS.has(typeOid) || typeOid === INT8_OID) {
      const n = Number(text);
      return [Number.isFinite(n) && (typeOid !== INT8_OID || Number.isSafeInteger(n)) ? n : text, false];
    }
    if (typeOid === BYTEA_OID) {
      const maxHex = Math.floor(chars / 4) * 2;
      return text.length > maxHex ? [`\\x${text.slice(0, maxHex)}`, true] : [`\\x${text}`, false];
    }
    const codePoints = [...text];
    if (codePoints.length > chars) return [codePoints.slice(0, chars).join(""), true];
    if (JSON_OIDS.has(typeOid)) {
      try {
        return [JSON.parse(text) as unknown, false];
      } catch {
        return [text, false];
      }
    }
    return [text, false];
  }

  async #resolve(namespace: string, name: string): Promise<{ login: ReadOnlyLogin; parts: NonNullable<ReturnType<typeof parseTableObjectName>> }> {
    const parts = parseTableObjectName(name);
    if (parts === undefined) throw notFound(name);
    const login = (await this.#directory.readyWorkspaces(namespace)).some(([, ws]) => ws === parts.workspace)
      ? await this.#directory.readOnlyLogin(namespace, parts.workspace)
      : undefined;
    if (login === undefined) throw notFound(name);
    return { login, parts };
  }

  async #run<T>(login: ReadOnlyLogin, namespace: string, workspace: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.#session(login, fn);
    } catch (err) {
      if (err instanceof DataApiError) throw err;
      const failure = classifyPgError(err, `reading workspace ${namespace}/${workspace}`, [login.password]);
      // The caller gets a plain sentence; the details (host, login, server message) go to the log only.
      this.#onError(namespace, workspace, failure);
      throw unavailable(failure, workspace);
    }
  }
}

async function catalog(db: Queryable, afterSchema: string | null, afterTable: string | null, schema: string | null, table: string | null, limit: number, columns: number): Promise<CatalogRow[]> {
  return (await db.query<CatalogRow>(CATALOG_SQL, [afterSchema, afterTable, schema, table, limit, columns])).rows;
}

function toTable(namespace: string, workspace: string, row: CatalogRow): WorkspaceTable {
  const columns: TableColumn[] = row.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, primaryKey: c.primaryKey }));
  return {
    apiVersion: GROUP_VERSION,
    kind: TABLE_KIND,
    metadata: { name: tableObjectName({ workspace, schema: row.schema, table: row.name }), namespace },
    workspace,
    schema: row.schema,
    table: row.name,
    type: RELKINDS[row.kind] ?? "table",
    ...(row.estimate === null ? {} : { rows: Number(row.estimate) }),
    rowsExact: false,
    sizeBytes: Number(row.size ?? "0"),
    ...(row.comment === null ? {} : { comment: row.comment }),
    columnCount: row.column_count,
    columns,
  };
}

function notFound(name: string): DataApiError {
  return new DataApiError(404, "NotFound", `${TABLES}.${DATA_GROUP} "${name}" not found`, { name, group: DATA_GROUP, kind: TABLES });
}

function unavailable(err: PostgresError, workspace: string): DataApiError {
  if (err.code === "57014" || /query read timeout/i.test(err.message)) {
    return new DataApiError(504, "Timeout", `reading workspace "${workspace}" took longer than the data API's statement timeout`);
  }
  // Class 22 (data exception): a continue token whose values the column types do not accept.
  if (err.code?.startsWith("22") === true) return badContinue();
  if (err.kind === "PermissionDenied") return new DataApiError(403, "Forbidden", `the read-only login of workspace "${workspace}" was refused by PostgreSQL`);
  return new DataApiError(503, "ServiceUnavailable", `the database of workspace "${workspace}" cannot be read now (its server does not answer, or its read-only login cannot log in); try again later`);
}
