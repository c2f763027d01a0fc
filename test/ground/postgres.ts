// A throwaway PostgreSQL server: initdb in a temporary folder, loopback only, SCRAM auth, full statement log.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
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
  /** Stops the server (fast shutdown); for "PostgreSQL unreachable" tests. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
}

const ADMIN_USER = "workspacedb_admin";

function findBinDir(): string {
  const fromEnv = process.env.WSDB_PG_BIN_DIR;
  if (fromEnv) return fromEnv;
  for (const version of ["17", "16", "15"]) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (existsSync(join(dir, "postgres"))) return dir;
  }
  throw new Error("PostgreSQL server binaries not found: install postgresql-15 or set WSDB_PG_BIN_DIR");
}

/** PostgreSQL refuses to run as root: as root, run its binaries as the `postgres` user. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  // setpriv execs the command itself, so signals reach PostgreSQL directly.
  return ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", command, ...args]];
}

function serverUid(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

/** Initialises and starts a PostgreSQL server under `root`, and creates the operator's admin role. */
export async function startPostgres(root: string, pidFile: string): Promise<PostgresGround> {
  const binDir = findBinDir();
  const dir = join(root, "postgres");
  const dataDir = join(dir, "data");
  const socketDir = join(dir, "sock");
  mkdirSync(socketDir, { recursive: true });
  const owner = serverUid();
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(socketDir, owner.uid, owner.gid);
  }
  const superPassword = randomBytes(18).toString("base64url");
  const adminPassword = randomBytes(18).toString("base64url");
  const pwFile = join(dir, "pwfile");
  writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
  if (owner) chownSync(pwFile, owner.uid, owner.gid);

  const [initCmd, initArgs] = asServerUser(join(binDir, "initdb"), [
    "-D", dataDir, "-U", "postgres", `--pwfile=${pwFile}`, "-E", "UTF8", "--locale=C",
    "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions", "--no-sync",
  ]);
  execFileSync(initCmd, initArgs, { stdio: "pipe" });

  const port = await freePort();
  const logFile = join(dir, "postgres.log");
  const [cmd, args] = asServerUser(join(binDir, "postgres"), [
    "-D", dataDir,
    "-c", "listen_addresses=127.0.0.1",
    "-c", `port=${port}`,
    "-c", `unix_socket_directories=${socketDir}`,
    "-c", "password_encryption=scram-sha-256",
    "-c", "log_statement=all",
    "-c", "log_destination=stderr",
    "-c", "logging_collector=off",
    "-c", "log_line_prefix=%m [%p] %u@%d ",
    "-c", "max_connections=400",
    "-c", "fsync=off",
    "-c", "synchronous_commit=off",
    "-c", "full_page_writes=off",
  ]);
  const superUrl = `postgresql://postgres:${superPassword}@127.0.0.1:${port}/postgres`;
  let server: Proc | undefined;

  const start = async (): Promise<void> => {
    server = startProc("postgres", cmd, args, logFile, pidFile);
    const early = server.exited.then((code) => {
      throw new Error(`postgres exited with ${code} during start; see ${logFile}`);
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
  await start();

  const client = new pg.Client({ connectionString: superUrl });
  await client.connect();
  try {
    // The password is sent as a literal only here, in the ground's own setup.
    await client.query(`CREATE ROLE ${ADMIN_USER} LOGIN CREATEDB CREATEROLE PASSWORD '${adminPassword}'`);
  } finally {
    await client.end();
  }

  return {
    host: "127.0.0.1",
    port,
    superUrl,
    adminUrl: `postgresql://${ADMIN_USER}:${adminPassword}@127.0.0.1:${port}/postgres`,
    adminUser: ADMIN_USER,
    adminPassword,
    logFile,
    start,
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown: it ends sessions and stops at once.
      await server?.stop("SIGINT", 20_000);
    },
  };
}
