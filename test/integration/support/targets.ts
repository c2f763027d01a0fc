// PostgreSQL servers the end-to-end tests run against: the ground's and extra ones of other majors, each as a DatabaseServer.
import pg from "pg";
import { getGround, type PostgresGround } from "../../ground/index.ts";
import { clients, databaseServerBody, ensureNamespace, SYSTEM_NAMESPACE, GROUP, VERSION } from "./fixtures.ts";
import { installCrds } from "./crds.ts";

/** A PostgreSQL server registered as DatabaseServer `server`. */
export interface Target {
  postgres: PostgresGround;
  /** Name of the DatabaseServer pointing at it. */
  server: string;
  /** server_version_num / 10000. */
  major: number;
}

/**
 * The PostgreSQL server of `major` (the ground's own when it runs that major, else an extra one the
 * ground starts), registered as DatabaseServer `name` with its admin role's Secret (default: false).
 */
export async function targetOf(major: number | "ground", name: string): Promise<Target> {
  const ground = getGround();
  const postgres = major === "ground" || major === ground.postgres.major ? ground.postgres : await ground.startExtraPostgres(major);
  await registerServer(name, postgres);
  return { postgres, server: name, major: postgres.major };
}

/** Creates (idempotently) the admin Secret and a DatabaseServer `name` for `postgres`; `spec` overrides fields. */
export async function registerServer(name: string, postgres: PostgresGround, spec: Record<string, unknown> = {}): Promise<void> {
  await installCrds(getGround().kubeConfig);
  await ensureNamespace(SYSTEM_NAMESPACE);
  const { core, custom } = clients();
  const secretName = `${name}-admin`;
  try {
    await core.createNamespacedSecret({
      namespace: SYSTEM_NAMESPACE,
      body: { metadata: { name: secretName, namespace: SYSTEM_NAMESPACE }, stringData: { username: postgres.adminUser, password: postgres.adminPassword } },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  const body = databaseServerBody(name, { host: postgres.host, port: postgres.port, adminSecretRef: { namespace: SYSTEM_NAMESPACE, name: secretName }, ...spec });
  try {
    await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", body });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

/** Runs one query as the superuser of `postgres` in `database` (default: postgres). */
export async function superOn<R extends object = Record<string, unknown>>(postgres: PostgresGround, text: string, values: unknown[] = [], database = "postgres"): Promise<R[]> {
  const url = new URL(postgres.superUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  const client = new pg.Client({ connectionString: url.toString() });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** What a role is on the server: everything an attack could change. */
export interface RoleSnapshot {
  rolname: string;
  rolpassword: string | null;
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolconnlimit: number;
  comment: string | null;
  member_of: string[];
}

/** Snapshots of the given roles (absent ones are left out), keyed by name. */
export async function roleSnapshots(postgres: PostgresGround, roles: readonly string[]): Promise<Record<string, RoleSnapshot>> {
  const rows = await superOn<RoleSnapshot>(
    postgres,
    `SELECT a.rolname, a.rolpassword, a.rolcanlogin, a.rolsuper, a.rolcreaterole, a.rolcreatedb, a.rolconnlimit,
            shobj_description(a.oid, 'pg_authid') AS comment,
            coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid), '{}') AS member_of
     FROM pg_authid a WHERE a.rolname = ANY ($1::text[])`,
    [roles],
  );
  return Object.fromEntries(rows.map((r) => [r.rolname, r]));
}

/** Whether a database of that name exists on `postgres`. */
export async function databaseExists(postgres: PostgresGround, database: string): Promise<boolean> {
  return (await superOn(postgres, "SELECT 1 FROM pg_database WHERE datname = $1", [database])).length > 0;
}

/** A connection string for `user`/`password` to `database` on `postgres`. */
export function urlOf(postgres: PostgresGround, user: string, password: string, database = "postgres"): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${postgres.host}:${postgres.port}/${encodeURIComponent(database)}?sslmode=disable`;
}
