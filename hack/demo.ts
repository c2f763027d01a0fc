// The local demo: test ground + the operator + a sample DatabaseServer and WorkspaceDatabase, until Ctrl-C.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT, startGround, stopGround } from "../test/ground/index.ts";
import { createWorkspace, ensureNamespace, setupServer, waitReady } from "../test/integration/support/fixtures.ts";
import { startOperator } from "../test/integration/support/operator.ts";
import type { WorkspaceDatabase } from "../src/api/types.ts";

const out = (line = "") => process.stdout.write(`${line}\n`);

const ground = await startGround();
out("test ground is up; installing the CRDs and registering its PostgreSQL as DatabaseServer \"main\"");
await setupServer("main");

const operator = startOperator({ WSDB_LOG_LEVEL: "info", WSDB_RESYNC_PERIOD: "30s" }, "demo-operator");
out(`operator started (pid ${operator.proc.child.pid}); its log: ${operator.logFile}`);

const sample = parse(readFileSync(join(REPO_ROOT, "config", "samples", "workspacedatabase.yaml"), "utf8")) as WorkspaceDatabase;
const { namespace = "workspace-malaria", name } = sample.metadata;
await ensureNamespace(namespace);
await createWorkspace(namespace, name, sample.spec);
const ready = await waitReady(namespace, name, 120_000);

const secret = (suffix: string, key: string) => `kubectl get secret ${name}-${suffix} -n ${namespace} -o jsonpath='{.data.${key}}' | base64 -d`;
out();
out(`WorkspaceDatabase ${namespace}/${name} is Ready: database "${ready.status?.database}" on server "${ready.status?.server}".`);
out();
out("In another terminal:");
out(`  export KUBECONFIG=${ground.kubeconfigPath}`);
out("  kubectl get dbserver,wsdb -A");
out(`  kubectl describe wsdb ${name} -n ${namespace}`);
out(`  psql "$(${secret("rw", "uri")})"     # read/write login`);
out(`  psql "$(${secret("ro", "uri")})"     # read-only login`);
out(`  kubectl annotate wsdb ${name} -n ${namespace} workspacedb.io/regenerate-ro="$(date +%s)" --overwrite   # new read-only password`);
out(`  PostgreSQL superuser, for looking around: psql '${ground.postgres.superUrl}'`);
out();
out("Ctrl-C stops the operator and the ground and removes everything.");

await new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
out("\nstopping…");
await operator.stop();
await stopGround();
process.exit(0);
