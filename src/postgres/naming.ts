// Names in PostgreSQL for a WorkspaceDatabase: its database and its two logins (DESIGN.md, Naming).
import { createHash } from "node:crypto";

/** Longest database name we use, in bytes, so that `<database>_ro` still fits PostgreSQL's 63. */
export const MAX_DATABASE_NAME_BYTES = 60;

/** Suffix of the read-only login's name. */
export const READ_ONLY_SUFFIX = "_ro";

const HASH_HEX_CHARS = 8;

/**
 * Derives the default database name of `namespace/name`: lower-case, `[a-z0-9_]` only, starting with
 * a letter (never `pg_`, reserved for roles), never ending in `_ro` (the read-only suffix), at most 60
 * bytes. When the mapping lost information (a character replaced or case-folded, a prefix added, the
 * text shortened) or the name would end in `_ro`, `_` + 8 hex characters of sha256("namespace/name")
 * are appended, so distinct inputs never share a name. Deterministic. Throws when either part is empty.
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
  // "foo" + "ro" would give "foo_ro", the read-only login of the database "foo".
  if (base.endsWith(READ_ONLY_SUFFIX)) lossy = true;
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
 * Checks a database name given by a user (`spec.databaseName`) or recorded in status: returns why it is
 * unusable, or null when it is fine (non-empty, at most 60 bytes, no NUL, not starting with `pg_`, not
 * ending in `_ro`, which would make it the read-only login of another database).
 */
export function checkDatabaseName(database: string): string | null {
  if (database === "") return "database name must not be empty";
  if (database.includes("\0")) return "database name must not contain NUL";
  if (Buffer.byteLength(database, "utf8") > MAX_DATABASE_NAME_BYTES) {
    return `database name must be at most ${MAX_DATABASE_NAME_BYTES} bytes`;
  }
  if (database.startsWith("pg_")) return "database name must not start with pg_ (reserved for roles)";
  if (database.endsWith(READ_ONLY_SUFFIX)) return `database name must not end in ${READ_ONLY_SUFFIX} (the suffix of read-only logins)`;
  return null;
}
