// Runs the real operator (node src/main.ts) as a child process against the test ground.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import { startProc, waitFor, type Proc } from "../../ground/procs.ts";

/** A running operator process and its log. */
export interface OperatorProcess {
  proc: Proc;
  logFile: string;
  /** Everything the process wrote so far. */
  log(): string;
  /** Port of /metrics, /healthz, /readyz (read from its log). */
  httpPort(): Promise<number>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | string>;
  /** SIGKILL, no clean-up: a crash. */
  kill(): Promise<void>;
}

let counter = 0;

/**
 * Starts an operator with settings suited to tests (short resync, text-free JSON logs, any free
 * metrics port); `env` overrides them (WSDB_* variables, see README). `script` runs another build of
 * the operator (the migration test runs version 0.1's).
 */
export function startOperator(env: Record<string, string> = {}, name = "operator", script = join(REPO_ROOT, "src", "main.ts")): OperatorProcess {
  const ground = getGround();
  counter += 1;
  const logFile = join(ground.root, `${name}-${counter}.log`);
  const fullEnv: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: ground.kubeconfigPath,
    WSDB_LOG_LEVEL: "debug",
    WSDB_METRICS_PORT: "0",
    WSDB_METRICS_HOST: "127.0.0.1",
    WSDB_RESYNC_PERIOD: "10s",
    // Every login checked at every resync (the tests prove drift repair, not the budget, which unit tests cover).
    WSDB_POSTGRES_PASSWORD_CHECKS_PER_MINUTE: "6000",
    // Fencing budget: renewDeadline + statementTimeout < leaseDuration.
    WSDB_LEADER_ELECTION_LEASE_DURATION: "10s",
    WSDB_LEADER_ELECTION_RENEW_DEADLINE: "3s",
    WSDB_POSTGRES_STATEMENT_TIMEOUT: "6s",
    WSDB_POSTGRES_LOCK_TIMEOUT: "3s",
    WSDB_LEADER_ELECTION_RETRY_PERIOD: "500ms",
    WSDB_SHUTDOWN_TIMEOUT: "10s",
    ...env,
  };
  const proc = startProc(name, process.execPath, [script], logFile, join(ground.root, "pids"), fullEnv);
  const log = () => readFileSync(logFile, "utf8");
  return {
    proc,
    logFile,
    log,
    async httpPort() {
      let port = 0;
      await waitFor("operator HTTP port in its log", async () => {
        const match = /"port":(\d+)[^\n]*serving metrics|serving metrics[^\n]*"port":(\d+)/.exec(log());
        port = Number(match?.[1] ?? match?.[2] ?? 0);
        return port > 0;
      }, 30_000);
      return port;
    },
    async stop() {
      await proc.stop("SIGTERM", 20_000);
      return proc.exited;
    },
    async kill() {
      await proc.stop("SIGKILL");
    },
  };
}
