// The narrow port the operations use: the subset of pg's Client/Pool that runs one query.

/** Something that runs one parameterised query and returns its rows (a pg Pool, PoolClient or Client). */
export interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** What the operations need from a server connection: the maintenance database and short-lived clients (all fenced). */
export interface ServerAccess {
  /** Runs one query in the maintenance database as the admin; errors are classified with `context`. */
  query<R extends object>(context: string, text: string, values?: unknown[]): Promise<R[]>;
  /** Runs `fn` with a client connected as the admin to `database`, closed afterwards. */
  withDatabase<T>(database: string, fn: (db: Queryable) => Promise<T>): Promise<T>;
}
