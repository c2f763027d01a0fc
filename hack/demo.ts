// The local demo: test ground + the operator + a sample DatabaseServer and WorkspaceDatabase, until Ctrl-C.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT, startGround, stopGround } from "../test/ground/index.ts";
import { createWorkspace, ensureNamespace, readSecret, setupServer, waitReady, withLogin } from "../test/integration/support/fixtures.ts";
import { pluginBin, prepareDataApi, registerDataApi, unregisterDataApi } from "../test/integration/support/data-api.ts";
import { startOperator } from "../test/integration/support/operator.ts";
import { createPki } from "../test/support/pki.ts";
import type { WorkspaceDatabase } from "../src/api/types.ts";

const out = (line = "") => process.stdout.write(`${line}\n`);

const ground = await startGround();
out("test ground is up; installing the CRDs and registering its PostgreSQL as DatabaseServer \"main\"");
await setupServer("main");

// The data API, as the chart sets it up: a serving certificate, the operator serving it, the APIService.
const pki = createPki();
const dataApiCa = await pki.ca("demo-data-api-ca");
const dataApi = await prepareDataApi(dataApiCa);
const operator = startOperator({ WSDB_LOG_LEVEL: "info", WSDB_RESYNC_PERIOD: "30s", ...dataApi.env }, "demo-operator");
out(`operator started (pid ${operator.proc.child.pid}); its log: ${operator.logFile}`);
await operator.httpPort();
await registerDataApi(dataApi.port, dataApiCa);
out("data API registered (APIService v1alpha1.data.workspacedb.io is Available)");

const sample = parse(readFileSync(join(REPO_ROOT, "config", "samples", "workspacedatabase.yaml"), "utf8")) as WorkspaceDatabase;
const { namespace = "workspace-malaria", name } = sample.metadata;
await ensureNamespace(namespace);
await createWorkspace(namespace, name, sample.spec);
const ready = await waitReady(namespace, name, 120_000);
// Something to browse: a small table written with the read/write login.
await withLogin((await readSecret(namespace, `${name}-rw`))?.uri ?? "", async (db) => {
  await db.query("CREATE TABLE IF NOT EXISTS cases (id int PRIMARY KEY, district text NOT NULL, week date, count int)");
  await db.query("INSERT INTO cases SELECT g, 'district ' || (g % 7), date '2024-01-01' + g * 7, (g * 37) % 100 FROM generate_series(1, 50) g ON CONFLICT DO NOTHING");
  await db.query("ANALYZE cases");
});
const plugin = pluginBin();

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
out(`  export PATH=${plugin}:$PATH     # the kubectl wsdb plugin of this checkout`);
out(`  kubectl get workspacetables -n ${namespace}`);
out(`  kubectl wsdb tables -n ${namespace}`);
out(`  kubectl wsdb preview ${name} cases -n ${namespace} --limit 5`);
out(`  kubectl wsdb credentials ${name} --read-only -o uri -n ${namespace}`);
out(`  kubectl wsdb regenerate ${name} --read-only --wait -n ${namespace}`);
out(`  PostgreSQL superuser, for looking around: psql '${ground.postgres.superUrl}'`);
out();
out("Ctrl-C stops the operator and the ground and removes everything.");

await new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
out("\nstopping…");
await unregisterDataApi();
await operator.stop();
pki.dispose();
await stopGround();
process.exit(0);
