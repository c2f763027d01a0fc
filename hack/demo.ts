// The local demo: test ground + the operator + a sample DatabaseServer and WorkspaceDatabase, until Ctrl-C.
// `./hack/run.sh --cluster` runs hack/demo-cluster.ts instead: the same on a node, with pods.
import { startGround } from "../test/ground/index.ts";
import { createWorkspace, ensureNamespace, readSecret, setupServer, waitReady, withLogin } from "../test/integration/support/fixtures.ts";
import { pluginBin, prepareDataApi, registerDataApi } from "../test/integration/support/data-api.ts";
import { startOperator } from "../test/integration/support/operator.ts";
import { createPki } from "../test/support/pki.ts";
import { SAMPLE_TABLE_SQL, browsingHints, loadSample, out, untilStopped } from "./demo-common.ts";

const ground = await startGround();
out("test ground is up; installing the CRDs and registering its PostgreSQL as DatabaseServer \"main\"");
await setupServer("main");

// The data API, as the chart sets it up: a serving certificate, the operator serving it, the APIService.
// Its files live in the ground's folder, which goes with the ground whatever way it stops.
const pki = createPki(ground.root);
const dataApiCa = await pki.ca("demo-data-api-ca");
const dataApi = await prepareDataApi(dataApiCa);
const operator = startOperator({ WSDB_LOG_LEVEL: "info", WSDB_RESYNC_PERIOD: "30s", ...dataApi.env }, "demo-operator");
out(`operator started (pid ${operator.proc.child.pid}); its log: ${operator.logFile}`);
await operator.httpPort();
await registerDataApi(dataApi.port, dataApiCa);
out("data API registered (APIService v1alpha1.data.workspacedb.io is Available)");

const { sample, namespace, name } = loadSample();
await ensureNamespace(namespace);
await createWorkspace(namespace, name, sample.spec);
const ready = await waitReady(namespace, name, 120_000);
// Something to browse: a small table written with the read/write login.
await withLogin((await readSecret(namespace, `${name}-rw`))?.uri ?? "", async (db) => {
  for (const sql of SAMPLE_TABLE_SQL) await db.query(sql);
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
for (const line of browsingHints(namespace, name)) out(`  ${line}`);
out(`  PostgreSQL superuser, for looking around: psql '${ground.postgres.superUrl}'`);
out();
out("Ctrl-C stops the operator and the ground and removes everything.");

// Nothing is stopped in order: the ground's exit handler kills every process (the operator's too)
// and removes its folder at once. After a Ctrl-C in the terminal every process got the signal, etcd
// included, and an orderly stop would wait for the operator and kube-apiserver to give up on it.
await untilStopped(async () => undefined);
