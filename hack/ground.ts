// Starts the local test ground in the foreground for people: prints how to reach it, stops on Ctrl-C.
// `--node` adds a node (containerd, kubelet, kube-proxy, kube-scheduler, CoreDNS) that runs the
// project's own images; see docs/ground.md.
import { startGround, stopGround } from "../test/ground/index.ts";

const args = process.argv.slice(2);
if (args.some((a) => a !== "--node")) {
  process.stderr.write("usage: node hack/ground.ts [--node]\n");
  process.exit(2);
}
const ground = await startGround({ node: args.includes("--node") });
const out = process.stdout;
out.write(`\nTest ground is up (Ctrl-C stops everything and removes ${ground.root}).\n\n`);
out.write(`  export KUBECONFIG=${ground.kubeconfigPath}\n`);
out.write(`  export PG_ADMIN_URL='${ground.postgres.adminUrl}'   # operator's role: CREATEDB CREATEROLE, not superuser\n`);
out.write(`  export PG_SUPER_URL='${ground.postgres.superUrl}'   # superuser, for looking around\n`);
out.write(`  # PostgreSQL ${ground.postgres.version}${ground.postgres.binDir ? ` from ${ground.postgres.binDir}` : ""}\n`);
if (ground.postgres.logFile) out.write(`  # PostgreSQL statement log: ${ground.postgres.logFile}\n`);
if (ground.postgres.hbaFile) out.write(`  # pg_hba.conf: ${ground.postgres.hbaFile} (then: SELECT pg_reload_conf() as superuser)\n`);
if (ground.node) {
  const { node } = ground;
  const [repository, tag] = splitImage(node.images.operator);
  out.write(`  export WSDB_IMAGE=${node.images.operator}   # the operator, built from the Dockerfile\n`);
  out.write(`  export WSDB_IMAGE_REPOSITORY=${repository} WSDB_IMAGE_TAG=${tag}\n`);
  out.write(`  export WSDB_NOTEBOOK_IMAGE=${node.images.notebook}   # python3, psycopg2, psql\n`);
  out.write(`  export PG_POD_HOST=${node.postgresHost}   # the PostgreSQL above, as pods reach it (a Service)\n`);
  out.write(`  export PG_POD_PORT=${node.postgresPort}\n`);
  out.write(`  # node ${node.name} in network namespace ${node.network.netns}; images are local: imagePullPolicy Never\n`);
  out.write(`  # helm install workspacedb-operator charts/workspacedb-operator -n workspacedb-system --create-namespace \\\n`);
  out.write(`  #   --set image.repository=$WSDB_IMAGE_REPOSITORY --set image.tag=$WSDB_IMAGE_TAG --set image.pullPolicy=Never\n`);
}
out.write("\n");
await new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
await stopGround();
process.exit(0);

/** "repo:tag" split at the tag's colon (a registry's port has one too). */
function splitImage(ref: string): [string, string] {
  const at = ref.lastIndexOf(":");
  return at > ref.lastIndexOf("/") ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, "latest"];
}
