// Composition root: settings, logger and kubeconfig, then the operator; exits cleanly on SIGTERM.
import { loadSettings, SettingsError } from "./config/settings.ts";
import { loadKubeConfig, type KubeConfig } from "./kube/config.ts";
import { crdProblem } from "./kube/crds.ts";
import { createRestClient } from "./kube/rest.ts";
import { buildOperator } from "./operator.ts";
import { createLogger, errorMessage } from "./runtime/logger.ts";

function fail(message: string): never {
  process.stderr.write(`workspacedb-operator: ${message}\n`);
  process.exit(2);
}

let settings;
try {
  settings = loadSettings(process.argv.slice(2), process.env);
} catch (err) {
  if (err instanceof SettingsError) fail(err.message);
  throw err;
}
const log = createLogger({ level: settings.logLevel, format: settings.logFormat, defaultMeta: { component: "workspacedb-operator" } });

let kubeConfig: KubeConfig;
try {
  // KUBECONFIG or ~/.kube/config outside a cluster, the service account inside one.
  kubeConfig = loadKubeConfig();
} catch (err) {
  fail(`cannot load a kubeconfig: ${errorMessage(err)}`);
}
const client = createRestClient(kubeConfig);

// Refuse to run against CRDs older than this operator; wait up to a minute for an API server that does not answer.
let problem: string | null | undefined;
for (let attempt = 1; problem === undefined; attempt++) {
  try {
    problem = await crdProblem(client);
  } catch (err) {
    if (attempt >= 12) fail(`cannot check the installed CRDs: ${errorMessage(err)}`);
    log.warn("cannot check the installed CRDs yet; retrying", { error: errorMessage(err) });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}
if (problem !== null) fail(problem);

const operator = buildOperator(
  settings,
  client,
  log,
  () => {
    log.error("lost leadership; exiting so that a fresh process can stand for election");
    process.exit(1);
  },
  // Retrying cannot help (a workspaceSelector the API server refuses): exit like a bad setting.
  (message) => {
    log.error(message);
    fail(message);
  },
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("shutting down", { signal });
  try {
    await operator.stop();
    log.info("stopped");
    process.exit(0);
  } catch (err) {
    log.error("shutdown failed", { error: errorMessage(err) });
    process.exit(1);
  }
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("unhandledRejection", (err) => log.error("unhandled rejection", { error: errorMessage(err) }));

log.info("starting", { cluster: kubeConfig.server, leaderElection: settings.leaderElection.enabled });
await operator.start();
