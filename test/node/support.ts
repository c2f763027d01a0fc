// Helpers of the tests on the ground's node: kubectl and helm, pods from the notebook image, the
// README's install block.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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

/** The namespace and release name of the README's install block. */
export const SYSTEM = "workspacedb-system";
export const RELEASE = "workspacedb-operator";

/** helm against the ground (its caches in the ground's folder); rejects on a non-zero exit. */
export async function helm(args: string[]): Promise<Output> {
  const out = await tools().helm(args);
  return out;
}

/** Creates a namespace unless it exists. */
export async function createNamespace(name: string): Promise<void> {
  await kubectl(["apply", "-f", "-"], stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
}

/** The README's install block with this ground's values (as pods.test.ts runs it). */
export async function installFromReadme(): Promise<Output> {
  const ground = getGround();
  const { repository, tag } = splitImage(node().images.operator);
  return runReadmeBlock("<!-- install-block", {
    IMAGE_REPOSITORY: repository,
    IMAGE_TAG: tag,
    PG_ADMIN_USER: ground.postgres.adminUser,
    PG_ADMIN_PASSWORD: ground.postgres.adminPassword,
  });
}

/** The DatabaseServer "main" (the default) on the PostgreSQL Service, as pods.test.ts makes it. */
export function mainServer(): Record<string, unknown> {
  return {
    apiVersion: "workspacedb.io/v1alpha1",
    kind: "DatabaseServer",
    metadata: { name: "main" },
    spec: { host: node().postgresHost, port: node().postgresPort, sslMode: "require", adminSecretRef: { namespace: SYSTEM, name: "pg-admin" }, default: true },
  };
}

/** Installs the release with the README's block unless it is installed; the server "main" Ready. */
export async function ensureInstalled(): Promise<void> {
  const status = await tools().helm(["status", RELEASE, "-n", SYSTEM]).catch(() => undefined);
  if (!status) await installFromReadme();
  await apply([mainServer()]);
  await kubectl(["wait", "--for=condition=Ready", "dbserver/main", "--timeout=120s"]);
}

/** One of the operator's pods, as the tests look at it. */
export interface OperatorPod {
  name: string;
  uid: string;
  /** The ReplicaSet's pod-template-hash. */
  hash: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
  restarts: number;
  /** The operator container's ID in containerd (empty before it started). */
  containerId: string;
  /** Why the container last ended ("OOMKilled", "Error"...), if it did. */
  lastTermination: string | undefined;
  image: string;
}

interface PodJson {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: Array<{ image: string }> };
  status: {
    phase?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ restartCount: number; containerID?: string; lastState?: { terminated?: { reason?: string } } }>;
  };
}

/** The operator's pods of the README's release. */
export async function operatorPods(): Promise<OperatorPod[]> {
  const list = JSON.parse(await kubectl(["-n", SYSTEM, "get", "pods", "-l", "app.kubernetes.io/name=workspacedb-operator", "-o", "json"])) as { items: PodJson[] };
  return list.items.map((p) => {
    const container = p.status.containerStatuses?.[0];
    return {
      name: p.metadata.name,
      uid: p.metadata.uid,
      hash: p.metadata.labels?.["pod-template-hash"] ?? "",
      phase: p.status.phase ?? "",
      ready: p.status.conditions?.find((c) => c.type === "Ready")?.status === "True",
      deleting: p.metadata.deletionTimestamp !== undefined,
      restarts: container?.restartCount ?? 0,
      containerId: (container?.containerID ?? "").replace(/^containerd:\/\//, ""),
      lastTermination: container?.lastState?.terminated?.reason,
      image: p.spec.containers[0]?.image ?? "",
    };
  });
}

/** Waits until exactly `count` operator pods exist, all Ready and none deleting; resolves with them. */
export async function waitOperatorPods(count: number, timeoutMs = 180_000): Promise<OperatorPod[]> {
  return eventually(`${count} Ready operator pods`, async () => {
    const pods = await operatorPods();
    return pods.length === count && pods.every((p) => p.ready && !p.deleting) ? pods : undefined;
  }, timeoutMs, 500);
}

/** When the Lease's current holder acquired it (its acquireTime, written by that holder: same machine's clock). */
export async function leaseAcquiredAt(): Promise<number> {
  return Date.parse((await kubectl(["-n", SYSTEM, "get", "lease", RELEASE, "-o", "jsonpath={.spec.acquireTime}"])).trim());
}

/** The Lease's holder identity ("" when released). */
export async function leaseHolder(): Promise<string> {
  return (await kubectl(["-n", SYSTEM, "get", "lease", RELEASE, "-o", "jsonpath={.spec.holderIdentity}"])).trim();
}

/** A pod's memory cgroup (cgroup v1) as the kubelet made it under the node's cgroupRoot. */
export function podCgroupMemory(uid: string): { workingSet(): number; peakUsage(): number; resetPeak(): void; oomKills(): number } {
  const root = join("/sys/fs/cgroup/memory", node().network.cgroupRoot, "kubepods");
  const dir = [join(root, `pod${uid}`), join(root, "burstable", `pod${uid}`), join(root, "besteffort", `pod${uid}`)].find((d) => existsSync(d));
  if (!dir) throw new Error(`no memory cgroup for pod ${uid} under ${root}`);
  const stat = (): Map<string, number> => new Map(readFileSync(join(dir, "memory.stat"), "utf8").trim().split("\n").map((l) => {
    const [k, v] = l.split(" ");
    return [k!, Number(v)] as const;
  }));
  return {
    // As the kubelet computes it: usage minus inactive file pages.
    workingSet: () => Math.max(0, Number(readFileSync(join(dir, "memory.usage_in_bytes"), "utf8")) - (stat().get("total_inactive_file") ?? 0)),
    peakUsage: () => Number(readFileSync(join(dir, "memory.max_usage_in_bytes"), "utf8")),
    resetPeak: () => writeFileSync(join(dir, "memory.max_usage_in_bytes"), "0"),
    oomKills: () => Number(/oom_kill (\d+)/.exec(readFileSync(join(dir, "memory.oom_control"), "utf8"))?.[1] ?? 0),
  };
}

/** The chart of the earlier commit the upgrade test starts from, extracted from git history. */
export async function previousChart(dir: string): Promise<string> {
  const { commit } = node().images.previous;
  await run("bash", ["-euo", "pipefail", "-c", `git -C "$0" archive --format=tar "$1" charts | tar -x -C "$2"`, REPO_ROOT, commit, dir]);
  return join(dir, "charts", "workspacedb-operator");
}

/** resourceVersion and passwordChangedAt of a workspace's two Secrets and logins (nothing re-provisioned when equal). */
export async function workspaceSecrets(namespace: string, name: string): Promise<Record<string, string>> {
  const versions = (await kubectl(["-n", namespace, "get", "secret", `${name}-rw`, `${name}-ro`, "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion}{\"\\n\"}{end}"])).trim();
  const changed = (await kubectl(["-n", namespace, "get", "wsdb", name, "-o", "jsonpath=rw={.status.credentials.readWrite.passwordChangedAt} ro={.status.credentials.readOnly.passwordChangedAt}"])).trim();
  return Object.fromEntries([...versions.split("\n"), ...changed.split(" ")].map((kv) => kv.split("=") as [string, string]));
}
