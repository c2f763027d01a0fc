// The test ground: one kube-apiserver + etcd and one PostgreSQL per test run, or an existing pair.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, chmodSync, writeFileSync, existsSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfigFiles } from "../../src/kube/config.ts";
import { createRestClient, type RestClient } from "../../src/kube/rest.ts";
import { startJanitor } from "./janitor.ts";
import type { GroundCerts } from "./certs.ts";
import { startKube, type KubeGround } from "./kube.ts";
import type { NodeNetwork } from "./netns.ts";
import { localGround } from "./local.ts";
import { startNodeGround } from "./node-ground.ts";
import type { NodeImages } from "./node.ts";
import { reloadPostgres, serverVersion, startPostgres, type LocalPostgresGround, type PostgresGround } from "./postgres.ts";
import { killAllNow } from "./procs.ts";

export type { PostgresGround } from "./postgres.ts";

/** What tests get: the API server, its admin kubeconfig, and the PostgreSQL server. */
export interface Ground {
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** The operator's own REST client (src/kube/rest.ts) with the admin kubeconfig. */
  client: RestClient;
  apiServerUrl: string;
  postgres: PostgresGround;
  /** True when the ground was started by this run (not an existing cluster/server). */
  local: boolean;
  /** Temporary folder of this run (logs, kubeconfig); removed at the end. */
  root: string;
  /** Stops and restarts kube-apiserver; undefined against an existing cluster. */
  restartApiServer: (() => Promise<void>) | undefined;
  /**
   * The local cluster's CAs and keys (to issue users' client certificates, and the front proxy's);
   * undefined against an existing cluster.
   */
  certs: GroundCerts | undefined;
  /** GET a path of the API server as admin, e.g. `/metrics`; undefined against an existing cluster. */
  apiServerGet: ((path: string) => Promise<{ status: number; body: string }>) | undefined;
  /**
   * Starts another, independent PostgreSQL server of `major` (14 to 18) the way the main one was
   * started: own data folder under `root`, own port, own `workspacedb_admin` role and password.
   * It is stopped with the ground. Throws against an existing cluster/server.
   */
  startExtraPostgres(major: number, options?: { tls?: { cert: string; key: string } }): Promise<LocalPostgresGround>;
  /** The node and what runs on it; undefined unless the ground was started with one. */
  node: NodeGround | undefined;
  stop(): Promise<void>;
}

/** A ground's node (startGround({ node: true })): pods run, images are local, DNS works. */
export interface NodeGround {
  name: string;
  network: NodeNetwork;
  /** Image references imported into the node's containerd (imagePullPolicy Never). */
  images: { operator: string; notebook: string; pause: string; coredns: string; previous: { ref: string; commit: string } };
  /** The DNS name and port pods use for the ground's PostgreSQL (a Service without selector). */
  postgresHost: string;
  postgresPort: number;
  /** PEM of the CA that signed PostgreSQL's serving certificate (for the Service's DNS name). */
  postgresCa: string;
  /** `ctr -n k8s.io ...` against the node's containerd. */
  ctr(args: string[]): Promise<string>;
}

/** How to start the ground. */
export interface GroundOptions {
  /** Also a node: a network namespace, containerd, kubelet, kube-proxy, kube-scheduler, CoreDNS. */
  node?: boolean;
}

/** The repository's root folder. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

let current: Ground | undefined;

/** The ground of this run; throws when the root hooks did not start one. */
export function getGround(): Ground {
  if (!current) throw new Error("the test ground is not running: run mocha with --require test/ground/hooks.ts");
  return current;
}

function lastLine(out: Buffer | string): string {
  const lines = out.toString().trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

function binDir(node: boolean): string {
  const fromEnv = process.env.WSDB_BIN_DIR;
  if (fromEnv && (!node || existsSync(join(fromEnv, "kubelet")))) return fromEnv;
  const out = execFileSync("bash", [join(REPO_ROOT, "hack", "build-binaries.sh"), ...(node ? ["--node"] : [])], { stdio: ["ignore", "pipe", "inherit"] });
  return lastLine(out);
}

/**
 * The node's images: WSDB_IMAGES (the JSON hack/build-images.sh printed, or a file holding it), else
 * built now by hack/build-images.sh (cached; seconds when nothing changed).
 */
function nodeImages(): NodeImages {
  const fromEnv = process.env.WSDB_IMAGES;
  let text: string;
  if (fromEnv) {
    text = fromEnv.trim().startsWith("{") ? fromEnv : readFileSync(fromEnv, "utf8");
  } else {
    text = lastLine(execFileSync("bash", [join(REPO_ROOT, "hack", "build-images.sh")], { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024 }));
  }
  return JSON.parse(text) as NodeImages;
}

async function externalGround(root: string): Promise<Ground | undefined> {
  const kubeconfigPath = process.env.WSDB_KUBECONFIG;
  const adminUrl = process.env.WSDB_PG_ADMIN_URL;
  const superUrl = process.env.WSDB_PG_SUPER_URL;
  if (!kubeconfigPath && !adminUrl) return undefined;
  if (!kubeconfigPath || !adminUrl || !superUrl) {
    throw new Error("an existing ground needs WSDB_KUBECONFIG, WSDB_PG_ADMIN_URL and WSDB_PG_SUPER_URL together");
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const admin = new URL(adminUrl);
  const unsupported = async (): Promise<void> => {
    throw new Error("stopping PostgreSQL is only possible on the local ground");
  };
  const { version, major } = await serverVersion(superUrl);
  const client = createRestClient(loadKubeConfigFiles([kubeconfigPath]));
  return {
    kubeconfigPath,
    kubeConfig,
    client,
    apiServerUrl: kubeConfig.getCurrentCluster()?.server ?? "",
    postgres: {
      host: process.env.WSDB_PG_HOST ?? admin.hostname,
      port: Number(admin.port || 5432),
      superUrl,
      adminUrl,
      adminUser: decodeURIComponent(admin.username),
      adminPassword: decodeURIComponent(admin.password),
      logFile: process.env.WSDB_PG_LOG_FILE,
      version,
      major,
      binDir: undefined,
      dataDir: undefined,
      hbaFile: undefined,
      reload: () => reloadPostgres(superUrl),
      stop: unsupported,
      start: unsupported,
    },
    local: false,
    root,
    restartApiServer: undefined,
    certs: undefined,
    apiServerGet: undefined,
    node: undefined,
    async startExtraPostgres() {
      throw new Error("startExtraPostgres needs the local ground: against an existing cluster and server (WSDB_KUBECONFIG) the suite starts no PostgreSQL");
    },
    async stop() {
      client.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** On exit or a signal: `cleanup` (by default: kill every process, remove `root`). */
function installExitHandlers(root: string, cleanup: () => void = () => {
  killAllNow();
  rmSync(root, { recursive: true, force: true });
}): void {
  process.once("exit", cleanup);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
}

/** Starts the ground (or connects to an existing one, see README) and makes it `getGround()`. */
export async function startGround(options: GroundOptions = {}): Promise<Ground> {
  if (current) return current;
  // Canonical (no symlink on the way): the node's teardown compares it with mount points.
  const root = realpathSync(mkdtempSync(join(tmpdir(), "wsdb-ground-")));
  chmodSync(root, 0o755);
  const external = await externalGround(root);
  if (external) {
    current = external;
    return external;
  }
  if (options.node) {
    const bins = binDir(true);
    current = await startNodeGround(root, bins, nodeImages(), (cleanup) => installExitHandlers(root, cleanup));
    return current;
  }
  const pidFile = join(root, "pids");
  writeFileSync(pidFile, "");
  startJanitor(root, pidFile);
  installExitHandlers(root);
  const bins = binDir(false);
  let kube: KubeGround | undefined;
  let postgres: PostgresGround | undefined;
  try {
    [kube, postgres] = await Promise.all([startKube(root, bins, pidFile), startPostgres(root, pidFile, { name: "postgres" })]);
  } catch (err) {
    await kube?.stop();
    await postgres?.stop();
    killAllNow();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  current = localGround({
    root,
    pidFile,
    kube,
    postgres,
    node: undefined,
    extraNetwork: undefined,
    finish: () => {
      killAllNow();
      rmSync(root, { recursive: true, force: true });
      current = undefined;
    },
  });
  return current;
}

/** Stops the ground of this run, if any. */
export async function stopGround(): Promise<void> {
  await current?.stop();
  current = undefined;
}
