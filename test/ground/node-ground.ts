// The ground with a node: control plane, PostgreSQL and one node in a network namespace of their own.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createPki } from "../support/pki.ts";
import { POSTGRES_SERVICE_HOST, POSTGRES_SERVICE_PORT, GROUND_NAMESPACE, corednsManifests, postgresServiceManifests } from "./addons.ts";
import type { Ground } from "./index.ts";
import { startJanitor, teardownNode } from "./janitor.ts";
import { localGround } from "./local.ts";
import { startKube, type KubeGround } from "./kube.ts";
import { createNodeNetwork, type NodeNetwork } from "./netns.ts";
import { startNode, type NodeImages, type NodeProcesses } from "./node.ts";
import { startPostgres, type LocalPostgresGround } from "./postgres.ts";
import { errorOutput, killAllNow } from "./procs.ts";

const run = promisify(execFile);

/** Debian packages the node uses, installed by hack/lib/debian.sh when missing (as root). */
const NODE_PACKAGES = ["runc", "containernetworking-plugins", "iptables", "conntrack"];

async function ensureNodePackages(): Promise<void> {
  try {
    const script = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "hack", "lib", "debian.sh");
    await run("bash", ["-c", 'source "$0" && wsdb_ensure_debian_packages "$@"', script, ...NODE_PACKAGES]);
  } catch (err) {
    throw new Error(`the node needs Debian's ${NODE_PACKAGES.join(", ")}: ${errorOutput(err)}`, { cause: err });
  }
}

/** The port of the ground's PostgreSQL inside its namespace; extra servers take the next ones. */
const POSTGRES_PORT = 5432;

/**
 * Starts a ground with a node under `root` (see docs/ground.md for the network layout): the
 * namespace and veth first (refusing to start when a route would leave the machine), then the
 * control plane, PostgreSQL (TLS for the Service's DNS name) and containerd with the images at once,
 * then kubelet, kube-proxy and kube-scheduler, CoreDNS and the PostgreSQL Service. Any failure
 * removes everything made so far.
 */
export async function startNodeGround(root: string, bins: string, images: NodeImages, installExitHandlers: (cleanup: () => void) => void): Promise<Ground> {
  await ensureNodePackages();
  const pidFile = join(root, "pids");
  writeFileSync(pidFile, "");
  const net: NodeNetwork = await createNodeNetwork((process.pid % 250) + 1);
  startJanitor(root, pidFile, net);
  // Inside the ground's folder: the janitor removes it too.
  const pki = createPki(root);
  let tornDown = false;
  const teardown = (): void => {
    if (tornDown) return;
    tornDown = true;
    killAllNow();
    pki.dispose();
    teardownNode(root, net);
  };
  installExitHandlers(teardown);
  let kube: KubeGround | undefined;
  let postgres: LocalPostgresGround | undefined;
  let node: NodeProcesses | undefined;
  try {
    const postgresCa = await pki.ca("workspacedb-ground-postgres");
    const postgresTls = await postgresCa.issue({
      cn: POSTGRES_SERVICE_HOST,
      usage: "server",
      san: [`DNS:${POSTGRES_SERVICE_HOST}`, `DNS:postgres.${GROUND_NAMESPACE}.svc`, `IP:${net.nodeAddress}`],
    });
    [kube, postgres] = await Promise.all([
      startKube(root, bins, pidFile, net),
      startPostgres(root, pidFile, { name: "postgres", tls: postgresTls, network: { netnsPath: net.netnsPath, address: net.nodeAddress, port: POSTGRES_PORT } }),
    ]);
    const k = kube;
    const kubectl = async (args: string[], input?: string): Promise<string> => {
      const child = run("kubectl", ["--kubeconfig", k.kubeconfigPath, "--cache-dir", join(root, "kube-cache"), ...args], { maxBuffer: 16 * 1024 * 1024 });
      if (input !== undefined) {
        child.child.stdin?.end(input);
      }
      return (await child).stdout;
    };
    node = await startNode(root, bins, pidFile, net, k.certs, k.apiServerUrl, images, kubectl);
    await kubectl(["apply", "-f", "-"], corednsManifests(net, images.coredns.ref) + "---\n" + postgresServiceManifests(net, POSTGRES_PORT));
    await kubectl(["-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=120s"]);
    const n = node;
    const ground = localGround({
      root,
      pidFile,
      kube: k,
      postgres,
      node: {
        name: n.nodeName,
        network: net,
        images: {
          operator: images.operator.ref,
          notebook: images.notebook.ref,
          pause: images.pause.ref,
          coredns: images.coredns.ref,
          previous: { ref: images.previous.ref, commit: images.previous.commit },
        },
        postgresHost: POSTGRES_SERVICE_HOST,
        postgresPort: POSTGRES_SERVICE_PORT,
        postgresCa: postgresCa.cert,
        ctr: (args) => n.ctr(args),
      },
      extraNetwork: (i) => ({ netnsPath: net.netnsPath, address: net.nodeAddress, port: POSTGRES_PORT + i }),
      beforeStop: () => n.stop(),
      finish: teardown,
    });
    return ground;
  } catch (err) {
    await node?.stop().catch(() => undefined);
    await Promise.allSettled([kube?.stop(), postgres?.stop()]);
    try {
      teardown();
    } catch (teardownErr) {
      throw new AggregateError([err, teardownErr], `the node's ground failed to start (${String(err)}), and its teardown too (${String(teardownErr)})`, { cause: teardownErr });
    }
    throw err;
  }
}
