// What the two demos share (hack/demo.ts, and hack/demo-cluster.ts for `./hack/run.sh --cluster`):
// the sample WorkspaceDatabase, the small table written into it, the lines about browsing it, and
// stopping on Ctrl-C.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../test/ground/index.ts";
import type { WorkspaceDatabase } from "../src/api/types.ts";

export const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};

/** config/samples/workspacedatabase.yaml: the object, its namespace and name. */
export function loadSample(): { file: string; sample: WorkspaceDatabase; namespace: string; name: string } {
  const file = join(REPO_ROOT, "config", "samples", "workspacedatabase.yaml");
  const sample = parse(readFileSync(file, "utf8")) as WorkspaceDatabase;
  const { namespace = "workspace-malaria", name } = sample.metadata;
  return { file, sample, namespace, name };
}

/** Something to browse: the statements writing the table `cases` (50 rows), run as the read/write login. */
export const SAMPLE_TABLE_SQL = [
  "CREATE TABLE IF NOT EXISTS cases (id int PRIMARY KEY, district text NOT NULL, week date, count int)",
  "INSERT INTO cases SELECT g, 'district ' || (g % 7), date '2024-01-01' + g * 7, (g * 37) % 100 FROM generate_series(1, 50) g ON CONFLICT DO NOTHING",
  "ANALYZE cases",
];

/** Lines to try: the data API (through the APIService) and the kubectl wsdb plugin, on PATH first. */
export function browsingHints(namespace: string, name: string): string[] {
  return [
    `kubectl get workspacetables -n ${namespace}     # the data API, through the APIService v1alpha1.data.workspacedb.io`,
    `kubectl wsdb tables -n ${namespace}`,
    `kubectl wsdb preview ${name} cases -n ${namespace} --limit 5`,
    `kubectl wsdb credentials ${name} --read-only -o uri -n ${namespace}`,
    `kubectl wsdb regenerate ${name} --read-only --wait -n ${namespace}`,
  ];
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Waits for Ctrl-C (SIGINT), SIGTERM or SIGHUP, then runs `stop` (e.g. stopGround()) and exits; the
 * ground's exit handler then removes whatever is left. startGround() installed signal handlers that
 * remove everything at once and exit; they are set aside while the demo waits, so that `stop` runs
 * in order, and put back as soon as a signal came: a second Ctrl-C still removes everything at once.
 */
export async function untilStopped(stop: () => Promise<void>): Promise<never> {
  const saved = SIGNALS.map((signal) => [signal, process.rawListeners(signal) as NodeJS.SignalsListener[]] as const);
  for (const signal of SIGNALS) process.removeAllListeners(signal);
  const received = await new Promise<string>((resolve) => {
    for (const signal of SIGNALS) process.once(signal, () => resolve(signal));
  });
  for (const [signal, listeners] of saved) {
    process.removeAllListeners(signal);
    for (const listener of listeners) process.on(signal, listener);
  }
  out(`\n${received}: stopping (a second Ctrl-C stops at once)…`);
  try {
    await stop();
  } catch (err) {
    process.stderr.write(`stopping failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.exit(0);
}
