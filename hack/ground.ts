// Starts the local test ground in the foreground for people: prints how to reach it, stops on Ctrl-C.
import { startGround, stopGround } from "../test/ground/index.ts";

const ground = await startGround();
const out = process.stdout;
out.write(`\nTest ground is up (Ctrl-C stops everything and removes ${ground.root}).\n\n`);
out.write(`  export KUBECONFIG=${ground.kubeconfigPath}\n`);
out.write(`  export PG_ADMIN_URL='${ground.postgres.adminUrl}'   # operator's role: CREATEDB CREATEROLE, not superuser\n`);
out.write(`  export PG_SUPER_URL='${ground.postgres.superUrl}'   # superuser, for looking around\n`);
out.write(`  # PostgreSQL ${ground.postgres.version}${ground.postgres.binDir ? ` from ${ground.postgres.binDir}` : ""}\n`);
if (ground.postgres.logFile) out.write(`  # PostgreSQL statement log: ${ground.postgres.logFile}\n`);
if (ground.postgres.hbaFile) out.write(`  # pg_hba.conf: ${ground.postgres.hbaFile} (then: SELECT pg_reload_conf() as superuser)\n`);
out.write("\n");
await new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
await stopGround();
process.exit(0);
