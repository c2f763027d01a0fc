// The demo on a node (`./hack/run.sh --cluster`, as root): the test ground with a node, the operator
// installed by the chart from its own image exactly as the README's install block says, a
// DatabaseServer on the PostgreSQL Service, the sample WorkspaceDatabase, and a notebook pod with
// its read/write Secret to `kubectl exec` into. Prints what to try; Ctrl-C removes everything.
// Needs WSDB_BIN_DIR (with helm and the node's binaries) and WSDB_IMAGES, as hack/run.sh sets them.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { startGround, stopGround } from "../test/ground/index.ts";
import { pluginBin } from "../test/integration/support/data-api.ts";
import { eventually, waitReady } from "../test/integration/support/fixtures.ts";
import { RESTRICTED, kubectl, runReadmeBlock, splitImage } from "../test/node/support.ts";
import { SAMPLE_TABLE_SQL, browsingHints, loadSample, out, untilStopped } from "./demo-common.ts";

const SYSTEM = "workspacedb-system";
const RELEASE = "workspacedb-operator";
const started = Date.now();
const seconds = (): string => `${Math.round((Date.now() - started) / 1000)} s`;

const binDir = process.env.WSDB_BIN_DIR;
if (!binDir || process.env.WSDB_KUBECONFIG) {
  process.stderr.write("run it with ./hack/run.sh --cluster (it needs WSDB_BIN_DIR with the node's binaries and helm, and a local ground: no WSDB_KUBECONFIG)\n");
  process.exit(2);
}

const ground = await startGround({ node: true });
const { node } = ground;
if (!node) throw new Error("the ground has no node");
out(`test ground with a node is up (${seconds()}): node ${node.name} in network namespace ${node.network.netns}, PostgreSQL ${ground.postgres.version} as the Service ${node.postgresHost}:${node.postgresPort}`);

// The README's install block, as written: the namespace, the Secret pg-admin, helm install --wait
// with the image imported into the node's containerd, the data API's APIService Available.
const image = splitImage(node.images.operator);
out(`installing the operator with the chart, as the README's install block says (image ${node.images.operator}, helm install --wait)…`);
await runReadmeBlock("<!-- install-block", {
  IMAGE_REPOSITORY: image.repository,
  IMAGE_TAG: image.tag,
  PG_ADMIN_USER: ground.postgres.adminUser,
  PG_ADMIN_PASSWORD: ground.postgres.adminPassword,
});
const leader = await eventually("a leader of the operator", async () =>
  (await kubectl(["-n", SYSTEM, "get", "lease", RELEASE, "-o", "jsonpath={.spec.holderIdentity}"])).trim().split("_")[0] || undefined, 120_000, 1000);
out(`operator installed (${seconds()}): release ${RELEASE} in ${SYSTEM}, leader ${leader}; the data API's APIService is Available`);

await kubectl(["apply", "-f", "-"], stringify({
  apiVersion: "workspacedb.io/v1alpha1",
  kind: "DatabaseServer",
  metadata: { name: "main" },
  spec: { host: node.postgresHost, port: node.postgresPort, sslMode: "require", adminSecretRef: { namespace: SYSTEM, name: "pg-admin" }, default: true },
}));
await kubectl(["wait", "--for=condition=Ready", "dbserver/main", "--timeout=120s"]);
out(`DatabaseServer "main" is Ready (${node.postgresHost}:${node.postgresPort}, sslMode require, admin Secret ${SYSTEM}/pg-admin)`);

const { file, namespace, name } = loadSample();
await kubectl(["create", "namespace", namespace]);
await kubectl(["apply", "-f", file]);
const ready = await waitReady(namespace, name, 180_000);
out(`WorkspaceDatabase ${namespace}/${name} is Ready (${seconds()}): database "${ready.status?.database}" on server "${ready.status?.server}"`);

// A notebook: the notebook image (python3, psycopg2, psql) sleeping, every key of the -rw Secret in
// its environment (libpq's PG* variables, DATABASE_URL, WORKSPACE_DATABASE_*), the restricted
// security context of the tests' pods; its home folder is an emptyDir (the root file system is
// read-only).
await kubectl(["apply", "-f", "-"], stringify({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "notebook", namespace },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: "notebook" } },
    template: {
      metadata: { labels: { app: "notebook" } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: "notebook",
          image: node.images.notebook,
          imagePullPolicy: "Never",
          command: ["sleep", "infinity"],
          envFrom: [{ secretRef: { name: `${name}-rw` } }],
          // The image has no pager (psql would run the missing `pager` for results taller than the terminal).
          env: [{ name: "PAGER", value: "cat" }],
          securityContext: RESTRICTED,
          volumeMounts: [{ name: "home", mountPath: "/home/notebook" }],
        }],
        volumes: [{ name: "home", emptyDir: {} }],
      },
    },
  },
}));
await kubectl(["-n", namespace, "rollout", "status", "deployment/notebook", "--timeout=180s"]);
// Something to browse: the sample table, written from the notebook with psql as the read/write login.
await kubectl(["-n", namespace, "exec", "deploy/notebook", "--", "psql", "-q", "-v", "ON_ERROR_STOP=1", ...SAMPLE_TABLE_SQL.flatMap((sql) => ["-c", sql])]);
const rows = (await kubectl(["-n", namespace, "exec", "deploy/notebook", "--", "psql", "-At", "-c", "SELECT count(*) FROM cases"])).trim();
out(`notebook pod running in ${namespace} (envFrom the Secret ${name}-rw); it wrote the table "cases" (${rows} rows) with psql`);

// kubectl wsdb (this checkout's) and helm (its files in the ground's folder) in one folder for PATH.
const bin = pluginBin();
const helmHome = join(ground.root, "deploy-tools");
writeFileSync(join(bin, "helm"), `#!/bin/sh
HELM_CACHE_HOME='${helmHome}/helm-cache' HELM_CONFIG_HOME='${helmHome}/helm-config' HELM_DATA_HOME='${helmHome}/helm-data' exec '${join(binDir, "helm")}' "$@"
`, { mode: 0o755 });

const exec = `kubectl exec -it -n ${namespace} deploy/notebook --`;
const leaderPod = `"$(kubectl get lease ${RELEASE} -n ${SYSTEM} -o jsonpath='{.spec.holderIdentity}' | cut -d_ -f1)"`;
out();
out(`Everything is up after ${seconds()}. In another terminal, from this checkout:`);
out(`  export KUBECONFIG=${ground.kubeconfigPath}`);
out(`  export PATH=${bin}:$PATH     # helm, and the kubectl wsdb plugin of this checkout`);
out(`  kubectl get pods -n ${SYSTEM} -o wide     # the operator's two replicas, from its image`);
out("  kubectl get dbserver,wsdb -A");
out(`  kubectl describe wsdb ${name} -n ${namespace}`);
out(`  ${exec} psql     # in the notebook: libpq's PG* variables come from the Secret ${name}-rw`);
out(`  ${exec} sh -c 'psql "$DATABASE_URL" -c "SELECT district, sum(count) FROM cases GROUP BY 1 ORDER BY 1"'`);
out(`  ${exec} python3     # >>> import os, psycopg2; conn = psycopg2.connect(os.environ["DATABASE_URL"])`);
out(`  kubectl exec -n ${namespace} deploy/notebook -- env | grep -E '^(PG|WORKSPACE_DATABASE_)' | grep -vE 'PASSWORD|URL' | sort     # some of what envFrom put there`);
out(`  kubectl get secret ${name}-rw -n ${namespace} -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}'; echo     # all the Secret's keys (DATABASE_URL, uri, jdbc-uri, …)`);
out(`  kubectl annotate wsdb ${name} -n ${namespace} workspacedb.io/regenerate-rw="$(date +%s)" --overwrite   # a new read/write password;`);
out(`  kubectl rollout restart deploy/notebook -n ${namespace}     # the notebook's environment keeps the old one until it restarts`);
out(`  kubectl logs -n ${SYSTEM} ${leaderPod}     # the leader's log (JSON)`);
for (const line of browsingHints(namespace, name)) out(`  ${line}`);
out(`  helm list -n ${SYSTEM}`);
out(`  helm upgrade ${RELEASE} charts/${RELEASE} -n ${SYSTEM} --reset-then-reuse-values --set settings.logLevel=debug --wait`);
out(`  helm uninstall ${RELEASE} -n ${SYSTEM}     # the CRDs and the workspace stay (helm keeps CRDs)`);
if (ground.postgres.logFile) out(`  less ${ground.postgres.logFile}     # every statement PostgreSQL ran`);
out();
out("Ctrl-C stops the node, the cluster and PostgreSQL and removes everything (network namespace, cgroups, mounts, files).");

await untilStopped(async () => {
  await stopGround();
  out("stopped: the ground's processes, pods, mounts, cgroups, network namespace, veth and files are gone.");
});
