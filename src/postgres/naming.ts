// Names in PostgreSQL for a WorkspaceDatabase: database, logins and the ownership marker (DESIGN.md Naming).
import { createHash } from "node:crypto";

/** Longest database name we use, in bytes, so that `<database>_ro` still fits PostgreSQL's 63. */
export const MAX_DATABASE_NAME_BYTES = 60;

/** Suffix of the read-only login's name. */
export const READ_ONLY_SUFFIX = "_ro";

/** Prefix of the database COMMENT that records which WorkspaceDatabase owns the database. */
export const OWNER_MARKER_PREFIX = "workspacedb.io/owner: ";

/** Namespace and name of the WorkspaceDatabase that owns a database. */
export interface OwnerReference {
  namespace: string;
  name: string;
}

const HASH_HEX_CHARS = 8;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

/**
 * Derives the default database name of `namespace/name`: lower-case, `[a-z0-9_]` only, starting with
 * a letter (never `pg_`, reserved for roles), at most 60 bytes. When the mapping lost information (a character replaced or case-folded,
 * a prefix added, the text shortened) `_` + 8 hex characters of sha256("namespace/name") are appended,
 * so distinct inputs never share a name. Deterministic. Throws when either part is empty.
 */
export function deriveDatabaseName(namespace: string, name: string): string {
  if (namespace === "" || name === "") throw new Error("namespace and name must not be empty");
  const raw = namespace === name ? name : `${namespace}_${name}`;
  let lossy = namespace.includes("_") || name.includes("_"); // "_" is our separator: keep it unambiguous
  let base = "";
  for (const ch of raw) {
    if (/^[a-z0-9_]$/.test(ch)) base += ch;
    else if (/^[A-Z]$/.test(ch)) {
      base += ch.toLowerCase();
      lossy = true;
    } else {
      base += "_";
      lossy = true;
    }
  }
  if (!/^[a-z]/.test(base) || base.startsWith("pg_")) {
    base = `w_${base}`;
    lossy = true;
  }
  if (!lossy && base.length <= MAX_DATABASE_NAME_BYTES) return base;
  const hash = createHash("sha256").update(`${namespace}/${name}`, "utf8").digest("hex").slice(0, HASH_HEX_CHARS);
  const room = MAX_DATABASE_NAME_BYTES - HASH_HEX_CHARS - 1;
  const head = base.slice(0, room).replace(/_+$/, "");
  return `${head}_${hash}`;
}

/** Name of the read-only login of `database`: `<database>_ro`. Throws when the database name is invalid. */
export function readOnlyRoleName(database: string): string {
  const problem = checkDatabaseName(database);
  if (problem !== null) throw new Error(problem);
  return `${database}${READ_ONLY_SUFFIX}`;
}

/**
 * Checks a database name given by a user (`spec.databaseName`): returns why it is unusable, or null
 * when it is fine (non-empty, at most 60 bytes, no NUL, not starting with `pg_`).
 */
export function checkDatabaseName(database: string): string | null {
  if (database === "") return "database name must not be empty";
  if (database.includes("\0")) return "database name must not contain NUL";
  if (Buffer.byteLength(database, "utf8") > MAX_DATABASE_NAME_BYTES) {
    return `database name must be at most ${MAX_DATABASE_NAME_BYTES} bytes`;
  }
  if (database.startsWith("pg_")) return "database name must not start with pg_ (reserved for roles)";
  return null;
}

/** The database COMMENT recording `owner`. Throws unless namespace and name are valid Kubernetes names. */
export function formatOwnerMarker(owner: OwnerReference): string {
  if (!isOwner(owner)) throw new Error("owner must be a valid Kubernetes namespace and name");
  return `${OWNER_MARKER_PREFIX}${owner.namespace}/${owner.name}`;
}

/** Reads the owner from a database COMMENT; null when the comment is absent or not exactly our marker. */
export function parseOwnerMarker(comment: string | null): OwnerReference | null {
  if (comment === null || !comment.startsWith(OWNER_MARKER_PREFIX)) return null;
  const rest = comment.slice(OWNER_MARKER_PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash < 0) return null;
  const owner = { namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
  return isOwner(owner) ? owner : null;
}

/** True when `a` and `b` name the same WorkspaceDatabase. */
export function sameOwner(a: OwnerReference, b: OwnerReference): boolean {
  return a.namespace === b.namespace && a.name === b.name;
}

function isOwner(owner: OwnerReference): boolean {
  return (
    owner.namespace.length <= 63 &&
    DNS_LABEL.test(owner.namespace) &&
    owner.name.length <= 253 &&
    DNS_SUBDOMAIN.test(owner.name)
  );
}
