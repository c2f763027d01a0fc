// A real node for the ground: containerd (+ Debian's runc and CNI plugins), kubelet, kube-proxy and
// kube-scheduler in the ground's network namespace, running images imported from archives.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CLIENT_EXT, servingExt, signedCert, type GroundCerts } from "./certs.ts";
import { CLUSTER_DOMAIN, kubeconfigYaml } from "./kube.ts";
import { inNetns, type NodeNetwork } from "./netns.ts";
import { logTail, startProc, waitFor, type Proc } from "./procs.ts";

const run = promisify(execFile);

/** The images the node runs, as references and the archives they are imported from. */
export interface NodeImages {
  operator: ImageArchive;
  /** The operator of an earlier commit (hack/build-images.sh's PREVIOUS_COMMIT), for the upgrade test. */
  previous: ImageArchive & { commit: string };
  notebook: ImageArchive;
  pause: ImageArchive;
  coredns: ImageArchive;
}

/** One image made by hack/build-images.sh. */
export interface ImageArchive {
  ref: string;
  archive: string;
}

/** The running node. */
export interface NodeProcesses {
  nodeName: string;
  /** Runs `ctr -n k8s.io ARGS` against the node's containerd; resolves with stdout. */
  ctr(args: string[]): Promise<string>;
  /** Stops kube-proxy, the scheduler, the kubelet, every container and containerd, in that order. */
  stop(): Promise<void>;
}

/** The kernel settings the kubelet insists on setting (container_manager_linux.go), see startKubelet. */
const KUBELET_SYSCTLS = ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"];

/**
 * cgroup v1 hierarchies mounted on this host (plus cgroup2's `unified` in hybrid mode). The ground's
 * kubelet, cleanup and checks are written for cgroup v1 (hybrid) hosts: a pure cgroup v2 host is refused.
 */
function cgroupHierarchies(): string[] {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) {
    throw new Error("this host runs cgroup v2 only; the ground's node is made for cgroup v1 (hybrid) hosts (see docs/ground.md)");
  }
  return readdirSync("/sys/fs/cgroup").filter((d) => existsSync(join("/sys/fs/cgroup", d, "cgroup.procs")));
}

/** Creates the kubelet's cgroupRoot in every hierarchy (a cpuset needs its cpus and mems first). */
function createCgroupRoot(cgroupRoot: string): void {
  for (const hierarchy of cgroupHierarchies()) {
    const dir = join("/sys/fs/cgroup", hierarchy, cgroupRoot);
    mkdirSync(dir, { recursive: true });
    if (hierarchy === "cpuset") {
      for (const file of ["cpuset.cpus", "cpuset.mems"]) {
        writeFileSync(join(dir, file), readFileSync(join("/sys/fs/cgroup/cpuset", file)));
      }
    }
  }
}

async function mount(args: string[]): Promise<void> {
  await run("mount", args);
}

function toml(value: string): string {
  return JSON.stringify(value);
}

/** Starts containerd in the namespace and waits for its socket; imports the images. */
async function startContainerd(dir: string, binDir: string, pidFile: string, net: NodeNetwork, images: NodeImages): Promise<{ proc: Proc; socket: string }> {
  const socket = join(dir, "containerd.sock");
  const config = join(dir, "containerd.toml");
  const cniConfDir = join(dir, "cni", "net.d");
  mkdirSync(cniConfDir, { recursive: true });
  // Bridge and host-local IPAM, its leases under the ground's folder; no masquerading: nothing
  // leaves the namespace.
  writeFileSync(join(cniConfDir, "10-wsdb.conflist"), JSON.stringify({
    cniVersion: "1.0.0",
    name: net.netns,
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: "host-local", ranges: [[{ subnet: net.podCidr }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(dir, "cni", "ipam") },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  }, null, 2));
  writeFileSync(config, [
    "version = 3",
    `root = ${toml(join(dir, "containerd", "root"))}`,
    `state = ${toml(join(dir, "containerd", "state"))}`,
    // NRI would listen on a host-wide socket; the other snapshotters are not built or needed.
    'disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.tracing"]',
    "[grpc]",
    `  address = ${toml(socket)}`,
    "[debug]",
    '  level = "warn"',
    "[plugins.'io.containerd.internal.v1.opt']",
    `  path = ${toml(join(dir, "containerd", "opt"))}`,
    "[plugins.'io.containerd.cri.v1.images']",
    '  snapshotter = "overlayfs"',
    "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
    `  sandbox = ${toml(images.pause.ref)}`,
    "[plugins.'io.containerd.cri.v1.runtime']",
    // This host denies lowering oom_score_adj (no CAP_SYS_RESOURCE).
    "  restrict_oom_score_adj = true",
    // Pods' network namespaces under the state folder, not /run/netns.
    "  netns_mounts_under_state_dir = true",
    "  enable_cdi = false",
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    '  runtime_type = "io.containerd.runc.v2"',
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    '  BinaryName = "/usr/sbin/runc"',
    `  Root = ${toml(join(dir, "runc"))}`,
    "  SystemdCgroup = false",
    "[plugins.'io.containerd.cri.v1.runtime'.cni]",
    '  bin_dirs = ["/usr/lib/cni"]',
    `  conf_dir = ${toml(cniConfDir)}`,
    "[plugins.'io.containerd.grpc.v1.cri']",
    '  stream_server_address = "127.0.0.1"',
    "",
  ].join("\n"));
  const env = { ...process.env, PATH: `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin` };
  const [command, args] = inNetns(net.netnsPath, join(binDir, "containerd"), ["--config", config]);
  const proc = startProc("containerd", command, args, join(dir, "containerd.log"), pidFile, env);
  const ctr = (ctrArgs: string[]) => run(join(binDir, "ctr"), ["--address", socket, "-n", "k8s.io", ...ctrArgs], { maxBuffer: 16 * 1024 * 1024 });
  await waitFor("containerd", async () => {
    await ctr(["version"]);
    return true;
  }, 30_000, 200);
  await Promise.all(Object.values(images).map((image: ImageArchive) => ctr(["images", "import", "--local", image.archive])));
  return { proc, socket };
}

/**
 * Starts the kubelet in the namespace. Three things keep the host as it was: its root folder is a
 * shared bind mount, so that the volumes it mounts from a mount namespace of its own reach
 * containerd; in that mount namespace the six kernel settings it would otherwise change host-wide
 * (overcommit, panic on oops...) are files of the ground, bound over /proc/sys; and /var/lib and
 * /var/log are empty tmpfs there.
 */
async function startKubelet(dir: string, binDir: string, pidFile: string, net: NodeNetwork, certs: GroundCerts, apiServerUrl: string, socket: string, nodeName: string): Promise<Proc> {
  const rootDir = join(dir, "kubelet");
  mkdirSync(rootDir, { recursive: true });
  await mount(["--bind", rootDir, rootDir]);
  await mount(["--make-shared", rootDir]);
  const client = await signedCert(dir, "kubelet-client", `/O=system:nodes/CN=system:node:${nodeName}`, CLIENT_EXT, certs);
  const serving = await signedCert(dir, "kubelet-serving", `/CN=${nodeName}`, servingExt([net.nodeAddress], [nodeName]), certs);
  const kubeconfig = join(dir, "kubelet.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, certs.caCert, `system:node:${nodeName}`, client.cert, client.key), { mode: 0o600 });
  const sysctlDir = join(dir, "kubelet-sysctl");
  mkdirSync(sysctlDir, { recursive: true });
  const binds: string[] = [];
  for (const name of KUBELET_SYSCTLS) {
    const file = join(sysctlDir, name.replaceAll("/", "."));
    // Read and written (procfs reports a size of 0, which copyFile believes).
    writeFileSync(file, readFileSync(join("/proc/sys", name)));
    binds.push(`mount --bind ${file} /proc/sys/${name}`);
  }
  const config = join(dir, "kubelet.yaml");
  writeFileSync(config, JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // cgroup v1 host without systemd as PID 1.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot: net.cgroupRoot,
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ["pods"],
    containerRuntimeEndpoint: `unix://${socket}`,
    address: net.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    tlsCertFile: serving.cert,
    tlsPrivateKeyFile: serving.key,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: certs.caCert } },
    authorization: { mode: "Webhook" },
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [net.dnsServiceIp],
    // Pods resolve cluster names only: nothing from the host's resolver.
    resolvConf: "",
    failSwapOn: false,
    podLogsDir: join(dir, "pod-logs"),
    volumePluginDir: join(rootDir, "volume-plugins"),
    // A shared disk must not evict pods at random: thresholds set explicitly, image GC off.
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%", "imagefs.available": "1%", "imagefs.inodesFree": "1%" },
    mergeDefaultEvictionSettings: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Mounted Secrets are refreshed within this period (the README's "kubelet's sync period").
    syncFrequency: "10s",
    serializeImagePulls: false,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    maxPods: 110,
    nodeStatusReportFrequency: "10s",
    shutdownGracePeriod: "0s",
  }, null, 2));
  // The kubelet also writes to fixed host paths whatever its root folder (the device plugins'
  // socket under /var/lib/kubelet, log symlinks in /var/log/containers): in its mount namespace
  // they are on tmpfs, gone with it, and two grounds never share them.
  // First, in this mount namespace only, the mounts holding those paths stop propagating (on hosts
  // where / or /proc are shared mounts, as with systemd, they would otherwise reach the host).
  const targets = ["/var/lib", "/var/log", ...KUBELET_SYSCTLS.map((n) => `/proc/sys/${n}`)];
  const privatize = targets.map((t) => `mount --make-private "$(findmnt -n -o TARGET -T ${t})"`);
  const script = `set -e; ${privatize.join("; ")}; ${binds.join("; ")}; mount -t tmpfs -o size=8m,mode=0755 wsdb-kubelet-var-lib /var/lib; mount -t tmpfs -o size=8m,mode=0755 wsdb-kubelet-var-log /var/log; exec "$0" "$@"`;
  const [command, args] = inNetns(net.netnsPath, "unshare", [
    "--mount", "--propagation", "unchanged", "--", "sh", "-c", script,
    join(binDir, "kubelet"),
    `--config=${config}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${rootDir}`,
    `--cert-dir=${join(rootDir, "pki")}`,
    `--hostname-override=${nodeName}`,
    `--node-ip=${net.nodeAddress}`,
    "--v=1",
  ]);
  const env = { ...process.env, PATH: `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin` };
  return startProc("kubelet", command, args, join(dir, "kubelet.log"), pidFile, env);
}

/** kube-proxy in iptables mode, touching no host-wide conntrack setting. */
function startKubeProxy(dir: string, binDir: string, pidFile: string, net: NodeNetwork, certs: GroundCerts, apiServerUrl: string, nodeName: string, client: { cert: string; key: string }): Proc {
  const kubeconfig = join(dir, "kube-proxy.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, certs.caCert, "system:kube-proxy", client.cert, client.key), { mode: 0o600 });
  const config = join(dir, "kube-proxy.yaml");
  writeFileSync(config, JSON.stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig },
    mode: "iptables",
    hostnameOverride: nodeName,
    clusterCIDR: net.podCidr,
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    // Service traffic between pods on one bridge is masqueraded, so no bridge netfilter setting
    // (host-wide on some kernels) is needed.
    iptables: { masqueradeAll: true, syncPeriod: "30s", minSyncPeriod: "0s" },
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    nodePortAddresses: [`${net.nodeAddress}/32`],
  }, null, 2));
  const env = { ...process.env, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
  const [command, args] = inNetns(net.netnsPath, join(binDir, "kube-proxy"), [`--config=${config}`, "--v=1"]);
  return startProc("kube-proxy", command, args, join(dir, "kube-proxy.log"), pidFile, env);
}

function startScheduler(dir: string, binDir: string, pidFile: string, net: NodeNetwork, certs: GroundCerts, apiServerUrl: string, client: { cert: string; key: string }): Proc {
  const kubeconfig = join(dir, "kube-scheduler.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, certs.caCert, "system:kube-scheduler", client.cert, client.key), { mode: 0o600 });
  const [command, args] = inNetns(net.netnsPath, join(binDir, "kube-scheduler"), [
    `--kubeconfig=${kubeconfig}`,
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    "--secure-port=10259",
    "--v=1",
  ]);
  return startProc("kube-scheduler", command, args, join(dir, "kube-scheduler.log"), pidFile);
}

/**
 * Starts containerd (and imports the images), the kubelet, kube-proxy and kube-scheduler of one
 * node in the ground's namespace, and waits until the Node is Ready. `kubectl` runs with the
 * ground's admin kubeconfig.
 */
export async function startNode(root: string, binDir: string, pidFile: string, net: NodeNetwork, certs: GroundCerts, apiServerUrl: string, images: NodeImages, kubectl: (args: string[]) => Promise<string>): Promise<NodeProcesses> {
  const dir = join(root, "node");
  mkdirSync(dir, { recursive: true });
  const nodeName = `wsdb-node-${net.index}`;
  createCgroupRoot(net.cgroupRoot);
  const procs: Proc[] = [];
  const { proc: containerd, socket } = await startContainerd(dir, binDir, pidFile, net, images);
  const ctr = async (args: string[]) => (await run(join(binDir, "ctr"), ["--address", socket, "-n", "k8s.io", ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
  const stop = async (): Promise<void> => {
    for (const proc of procs.reverse()) await proc.stop("SIGTERM", 5_000);
    // Every container, then containerd: its shims exit with their tasks.
    const tasks = await ctr(["tasks", "list", "-q"]).catch(() => "");
    for (const id of tasks.split("\n").filter(Boolean)) {
      await ctr(["tasks", "kill", "-s", "SIGKILL", id]).catch(() => undefined);
    }
    await containerd.stop("SIGTERM", 5_000);
  };
  try {
    const proxyClient = await signedCert(dir, "kube-proxy", "/CN=system:kube-proxy", CLIENT_EXT, certs);
    const schedulerClient = await signedCert(dir, "kube-scheduler", "/CN=system:kube-scheduler", CLIENT_EXT, certs);
    procs.push(startScheduler(dir, binDir, pidFile, net, certs, apiServerUrl, schedulerClient));
    procs.push(startKubeProxy(dir, binDir, pidFile, net, certs, apiServerUrl, nodeName, proxyClient));
    const kubelet = await startKubelet(dir, binDir, pidFile, net, certs, apiServerUrl, socket, nodeName);
    procs.push(kubelet);
    const early = kubelet.exited.then((code) => {
      throw new Error(`kubelet exited with ${code} during start:\n${logTail(join(dir, "kubelet.log"))}`);
    });
    early.catch(() => undefined);
    await Promise.race([
      early,
      waitFor(`node ${nodeName} Ready`, async () =>
        (await kubectl(["get", "node", nodeName, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"])).trim() === "True", 90_000, 500),
    ]);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { nodeName, ctr, stop };
}
