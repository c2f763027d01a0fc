// Helpers of the tests on the ground's node: kubectl and helm, pods from the notebook image, the
// README's install block.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT, getGround, type NodeGround } from "../ground/index.ts";
import { run, tools, type Output } from "../integration/support/deploy.ts";
import { eventually } from "../integration/support/fixtures.ts";

/** The ground's node; throws when the suite runs without one (WSDB_GROUND_NODE=1). */
export function node(): NodeGround {
  const n = getGround().node;
  if (!n) throw new Error("these tests need a ground with a node: WSDB_GROUND_NODE=1 (hack/test.sh sets it for test/node/)");
  return n;
}

/** kubectl as the ground's admin; rejects on a non-zero exit. */
export async function kubectl(args: string[], input?: string): Promise<string> {
  return (await tools().kubectl(args, { input })).stdout;
}

/** kubectl that resolves with the exit code and output instead of rejecting. */
export async function kubectlResult(args: string[], input?: string): Promise<Output> {
  return tools().kubectl(args, { input, allowFailure: true });
}

/** Applies objects (YAML documents) as the admin. */
export async function apply(objects: Record<string, unknown>[]): Promise<void> {
  await kubectl(["apply", "-f", "-"], objects.map((o) => stringify(o)).join("---\n"));
}

/** The first ```sh block after `marker` in the README, exactly as written there. */
export function readmeBlock(marker: string): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const match = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match) throw new Error(`README.md has no sh block after ${marker}`);
  return match[1]!;
}

/**
 * Runs a README block with bash (-euo pipefail) from the repository's root, with kubectl and helm
 * pointed at the ground and `vars` in the environment.
 */
export async function runReadmeBlock(marker: string, vars: Record<string, string>): Promise<Output> {
  const ground = getGround();
  const helmDir = dirname(helmBinary());
  return run("bash", ["-euo", "pipefail", "-c", `cd ${JSON.stringify(REPO_ROOT)}\n${readmeBlock(marker)}`], {
    env: {
      ...process.env,
      ...vars,
      KUBECONFIG: ground.kubeconfigPath,
      KUBECACHEDIR: join(ground.root, "deploy-tools", "kube-cache"),
      PATH: `${helmDir}:${process.env.PATH ?? ""}`,
      HELM_CACHE_HOME: join(ground.root, "deploy-tools", "helm-cache"),
      HELM_CONFIG_HOME: join(ground.root, "deploy-tools", "helm-config"),
      HELM_DATA_HOME: join(ground.root, "deploy-tools", "helm-data"),
    },
  });
}

function helmBinary(): string {
  const dir = process.env.WSDB_BIN_DIR;
  if (!dir) throw new Error("WSDB_BIN_DIR is not set (hack/test.sh sets it)");
  return join(dir, "helm");
}

/** "repository:tag" split at the tag's colon. */
export function splitImage(ref: string): { repository: string; tag: string } {
  const at = ref.lastIndexOf(":");
  return at > ref.lastIndexOf("/") ? { repository: ref.slice(0, at), tag: ref.slice(at + 1) } : { repository: ref, tag: "latest" };
}

/** The security context every test pod runs with (the restricted Pod Security Standard). */
export const RESTRICTED = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** A container of the notebook image (python3, psycopg2, psql) running `script` with python3. */
export function pythonContainer(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    image: node().images.notebook,
    imagePullPolicy: "Never",
    command: ["python3", "-u", "-c", script],
    securityContext: RESTRICTED,
    ...extra,
  };
}

/** A pod that runs once (restartPolicy Never). */
export function podOf(namespace: string, name: string, containers: Record<string, unknown>[], volumes: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: { restartPolicy: "Never", terminationGracePeriodSeconds: 1, containers, volumes },
  };
}

/** Waits until the pod ended; resolves with its phase and its (first container's) log. */
export async function podResult(namespace: string, name: string, timeoutMs = 90_000): Promise<{ phase: string; log: string }> {
  const phase = await eventually(`pod ${namespace}/${name} to end`, async () => {
    const p = (await kubectl(["-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}"])).trim();
    return p === "Succeeded" || p === "Failed" ? p : undefined;
  }, timeoutMs, 500);
  const log = await kubectl(["-n", namespace, "logs", name]);
  return { phase, log };
}

/** Runs a pod to its end and returns its log; throws with the log when it failed. */
export async function runPod(pod: Record<string, unknown>, timeoutMs?: number): Promise<string> {
  const { namespace, name } = pod.metadata as { namespace: string; name: string };
  await apply([pod]);
  const { phase, log } = await podResult(namespace, name, timeoutMs);
  if (phase !== "Succeeded") throw new Error(`pod ${namespace}/${name} ${phase}:\n${log}`);
  return log;
}

/** A short digest of a password, which a pod may print instead of the password. */
export function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
