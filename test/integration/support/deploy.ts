// Helm, kubectl and ServiceAccount kubeconfigs for end-to-end tests of the install manifests.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import { clients } from "./fixtures.ts";
import { groundBinary } from "../../support/bin.ts";

export const CHART = join(REPO_ROOT, "charts", "workspacedb-operator");

export interface Output {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command; rejects with its output when it exits non-zero, unless `allowFailure`. */
export function run(command: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {}): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0 || opts.allowFailure === true) resolve({ stdout, stderr, code: code ?? -1 });
      else reject(new Error(`${command} ${args.join(" ")} exited with ${String(code)}:\n${stderr}${stdout}`));
    });
    child.stdin.end(opts.input ?? "");
  });
}

export interface Tools {
  helm: (args: string[]) => Promise<Output>;
  kubectl: (args: string[], opts?: { input?: string; kubeconfig?: string; allowFailure?: boolean }) => Promise<Output>;
}
let cachedTools: Tools | undefined;

/** Helm (against the ground) and kubectl, with their caches and settings in the ground's folder, never in $HOME. */
export function tools(): Tools {
  if (cachedTools) return cachedTools;
  const ground = getGround();
  const home = join(ground.root, "deploy-tools");
  mkdirSync(home, { recursive: true });
  const helm = groundBinary("helm");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CACHE_HOME: join(home, "helm-cache"),
    HELM_CONFIG_HOME: join(home, "helm-config"),
    HELM_DATA_HOME: join(home, "helm-data"),
    KUBECONFIG: ground.kubeconfigPath,
  };
  return (cachedTools = {
    helm: (args) => run(helm, args, { env }),
    kubectl: (args, opts = {}) =>
      run(process.env.KUBECTL ?? "kubectl", ["--kubeconfig", opts.kubeconfig ?? ground.kubeconfigPath, "--cache-dir", join(home, "kube-cache"), ...args], {
        input: opts.input,
        env,
        allowFailure: opts.allowFailure,
      }),
  });
}

/** The documents of a multi-document YAML text (empty ones dropped). */
export function documents(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null && typeof d === "object");
}

/**
 * Writes a kubeconfig (mode 0600, in the ground's folder) that authenticates as ServiceAccount
 * `namespace/name` with a token from the TokenRequest API, and returns its path.
 */
export async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const ground = getGround();
  const { core } = clients();
  const token = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = ground.kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error("the ground's kubeconfig has no cluster");
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString("base64") : undefined);
  const file = join(ground.root, `sa-${namespace}-${name}.kubeconfig`);
  writeFileSync(file, stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "ground", cluster: { server: cluster.server, "certificate-authority-data": caData } }],
    users: [{ name, user: { token: token.status?.token } }],
    contexts: [{ name: "operator", context: { cluster: "ground", user: name } }],
    "current-context": "operator",
  }), { mode: 0o600 });
  return file;
}
