// etcd, kube-apiserver and kube-controller-manager on loopback: envtest's pair plus the controllers
// that make namespace deletion and ownerReference garbage collection real. With a node (node.ts)
// the same control plane runs in the ground's network namespace, fit for pods.
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { FRONT_PROXY_CLIENT, generateCerts, type GroundCerts } from "./certs.ts";
import { inNetns, type NodeNetwork } from "./netns.ts";
import { freePort, startProc, waitFor, type Proc } from "./procs.ts";

/** Fixed ports inside a ground's own network namespace (nothing else listens there). */
export const NODE_PORTS = { etcd: 2379, etcdPeer: 2380, apiServer: 6443, controllerManager: 10257, scheduler: 10259 } as const;

/** The cluster's DNS domain on a ground with a node. */
export const CLUSTER_DOMAIN = "cluster.local";

/** A running etcd + kube-apiserver + kube-controller-manager and the admin kubeconfig for them. */
export interface KubeGround {
  apiServerUrl: string;
  kubeconfigPath: string;
  certs: GroundCerts;
  /** GETs a path of the API server as admin (e.g. `/metrics`) and returns the body. */
  adminGet(path: string): Promise<{ status: number; body: string }>;
  /**
   * Stops and starts kube-apiserver again on the same port, with the same etcd; the controller
   * manager is stopped before and started again after it.
   */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

function httpsGet(url: string, certs: GroundCerts, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "GET",
        ca: readFileSync(certs.caCert),
        cert: readFileSync(certs.adminCert),
        key: readFileSync(certs.adminKey),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** A kubeconfig for `url` that logs in with a client certificate. */
export function kubeconfigYaml(url: string, caCert: string, user: string, clientCert: string, clientKey: string): string {
  const b64 = (p: string) => readFileSync(p).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: workspacedb-test",
    "  cluster:",
    `    server: ${url}`,
    `    certificate-authority-data: ${b64(caCert)}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    client-certificate-data: ${b64(clientCert)}`,
    `    client-key-data: ${b64(clientKey)}`,
    "contexts:",
    "- name: workspacedb-test",
    `  context: {cluster: workspacedb-test, user: ${user}, namespace: default}`,
    "current-context: workspacedb-test",
    "",
  ].join("\n");
}

/**
 * The controllers a real cluster runs that tests rely on: namespace deletion, ownerReference
 * garbage collection, each namespace's `default` ServiceAccount and service-account token Secrets.
 * Names as kube-controller-manager 1.36 accepts them (`--help` lists them).
 */
const CONTROLLERS = [
  "namespace-controller",
  "garbage-collector-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
];

/** Where the control plane listens: loopback with free ports, or a node's network namespace. */
interface Placement {
  /** Address every component binds to and the API server advertises. */
  address: string;
  netnsPath: string | undefined;
  net: NodeNetwork | undefined;
}

/**
 * Starts kube-controller-manager against the API server and waits until it works: its /healthz
 * answers and the `default` ServiceAccount of namespace `default` exists.
 *
 * It logs in with its own client certificate, CN system:kube-controller-manager in group
 * system:masters. The bootstrap RBAC role of system:kube-controller-manager alone is not enough:
 * it covers what the controller manager itself needs, while the rights of each controller (e.g.
 * the namespace controller's deletecollection of everything) are bound to that controller's
 * ServiceAccount in kube-system, used only with --use-service-account-credentials=true. Running
 * every controller as one identity keeps the ground simple.
 */
async function startControllerManager(dir: string, apiServerUrl: string, certs: GroundCerts, pidFile: string, binDir: string, at: Placement): Promise<Proc> {
  const kubeconfig = join(dir, "kube-controller-manager.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, certs.caCert, "system:kube-controller-manager", certs.controllerManagerCert, certs.controllerManagerKey), { mode: 0o600 });
  const port = at.net ? NODE_PORTS.controllerManager : await freePort();
  const logFile = join(dir, "kube-controller-manager.log");
  // With a node: every controller a cluster runs (deployments, replica sets, jobs, cron jobs,
  // disruption, endpoint slices, node lifecycle, the root CA ConfigMap of every namespace...).
  const controllers = at.net
    ? ["--controllers=*", `--cluster-cidr=${at.net.podCidr}`, `--service-cluster-ip-range=${at.net.serviceCidr}`, "--allocate-node-cidrs=false"]
    : [`--controllers=${CONTROLLERS.join(",")}`];
  const [command, args] = inNetns(at.netnsPath, join(binDir, "kube-controller-manager"), [
    `--kubeconfig=${kubeconfig}`,
    // No --authentication/authorization-kubeconfig: nobody but the ground calls it, on /healthz,
    // which is always allowed.
    `--bind-address=${at.address}`,
    `--secure-port=${port}`,
    // The API server's serving certificate (its address, signed by the ground CA) serves /healthz too.
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    "--leader-elect=false",
    ...controllers,
    `--service-account-private-key-file=${certs.serviceAccountKey}`,
    `--root-ca-file=${certs.caCert}`,
    "--use-service-account-credentials=false",
    // Deleting a namespace lists and deletes every resource type in it: above the default 20/s, so
    // that many test namespaces go away quickly.
    "--kube-api-qps=100",
    "--kube-api-burst=200",
    "--v=1",
  ]);
  const proc = startProc("kube-controller-manager", command, args, logFile, pidFile);
  const early = proc.exited.then((code) => {
    throw new Error(`kube-controller-manager exited with ${code} during start; see ${logFile}`);
  });
  early.catch(() => undefined);
  await Promise.race([
    early,
    (async () => {
      await waitFor("kube-controller-manager /healthz", async () => (await httpsGet(`https://${at.address}:${port}/healthz`, certs)).status === 200, 60_000, 300);
      await waitFor("ServiceAccount default/default (serviceaccount-controller)", async () =>
        (await httpsGet(`${apiServerUrl}/api/v1/namespaces/default/serviceaccounts/default`, certs)).status === 200, 60_000, 300);
    })(),
  ]);
  return proc;
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager from `binDir` under `root`, and waits
 * until the API server is ready and the controller manager works. With `net`, they run in that
 * network namespace on the node's address with fixed ports, the API server takes ServiceAccount
 * admission, Node authorization and kubelets, and every controller runs.
 */
export async function startKube(root: string, binDir: string, pidFile: string, net?: NodeNetwork): Promise<KubeGround> {
  const dir = join(root, "kube");
  mkdirSync(dir, { recursive: true });
  const at: Placement = { address: net?.nodeAddress ?? "127.0.0.1", netnsPath: net?.netnsPath, net };
  const certs = await generateCerts(dir, net
    ? {
      ips: [net.nodeAddress, net.kubernetesServiceIp],
      dns: ["kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${CLUSTER_DOMAIN}`],
    }
    : undefined);

  const etcdPort = net ? NODE_PORTS.etcd : await freePort();
  const etcdPeerPort = net ? NODE_PORTS.etcdPeer : await freePort();
  const etcdUrl = `http://${at.address}:${etcdPort}`;
  const [etcdCommand, etcdArgs] = inNetns(at.netnsPath, join(binDir, "etcd"), [
    "--name=default",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://${at.address}:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://${at.address}:${etcdPeerPort}`,
    `--initial-cluster=default=http://${at.address}:${etcdPeerPort}`,
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ]);
  const etcd = startProc("etcd", etcdCommand, etcdArgs, join(dir, "etcd.log"), pidFile);
  await waitFor("etcd", async () => {
    const res = await fetch(`${etcdUrl}/health`);
    return res.ok;
  }, 30_000);

  const port = net ? NODE_PORTS.apiServer : await freePort();
  const apiServerUrl = `https://${at.address}:${port}`;
  const args = [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${at.address}`,
    `--advertise-address=${at.address}`,
    `--secure-port=${port}`,
    `--cert-dir=${dir}`,
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    `--client-ca-file=${certs.caCert}`,
    `--service-cluster-ip-range=${net?.serviceCidr ?? "10.0.0.0/24"}`,
    `--service-account-issuer=${net ? `https://kubernetes.default.svc.${CLUSTER_DOMAIN}` : apiServerUrl}`,
    `--service-account-key-file=${certs.serviceAccountPub}`,
    `--service-account-signing-key-file=${certs.serviceAccountKey}`,
    `--authorization-mode=${net ? "Node,RBAC" : "RBAC"}`,
    // The front proxy (aggregation layer), as kubeadm sets it up: aggregated APIs such as the data API
    // authenticate kube-apiserver by this client certificate and take the user from these headers.
    `--requestheader-client-ca-file=${certs.frontProxyCaCert}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${certs.frontProxyClientCert}`,
    `--proxy-client-key-file=${certs.frontProxyClientKey}`,
    "--allow-privileged=true",
    // Without a node no pod runs, and the ServiceAccount plugin would wait for tokens; with one,
    // pods get their tokens as in any cluster, and kubelets are limited to their own node.
    ...(net
      ? [
        "--enable-admission-plugins=NodeRestriction",
        `--kubelet-client-certificate=${certs.adminCert}`,
        `--kubelet-client-key=${certs.adminKey}`,
        // Else it resolves the node's name with the host's resolver.
        "--kubelet-preferred-address-types=InternalIP",
      ]
      : ["--disable-admission-plugins=ServiceAccount"]),
    "--v=1",
  ];
  const logFile = join(dir, "kube-apiserver.log");
  let apiserver: Proc;
  const [apiCommand, apiArgs] = inNetns(at.netnsPath, join(binDir, "kube-apiserver"), args);
  const startApiServer = async (): Promise<void> => {
    apiserver = startProc("kube-apiserver", apiCommand, apiArgs, logFile, pidFile);
    const early = apiserver.exited.then((code) => {
      throw new Error(`kube-apiserver exited with ${code} during start; see ${logFile}`);
    });
    early.catch(() => undefined);
    await Promise.race([
      early,
      waitFor("kube-apiserver /readyz", async () => (await httpsGet(`${apiServerUrl}/readyz`, certs)).status === 200, 90_000, 300),
    ]);
    // The bootstrap controller creates the default namespace shortly after readiness.
    await waitFor("namespace default", async () => (await httpsGet(`${apiServerUrl}/api/v1/namespaces/default`, certs)).status === 200, 30_000);
  };
  await startApiServer();
  let controllerManager = await startControllerManager(dir, apiServerUrl, certs, pidFile, binDir, at);

  const kubeconfigPath = join(root, "kubeconfig");
  writeFileSync(kubeconfigPath, kubeconfigYaml(apiServerUrl, certs.caCert, "admin", certs.adminCert, certs.adminKey), { mode: 0o600 });

  return {
    apiServerUrl,
    kubeconfigPath,
    certs,
    adminGet: (path) => httpsGet(`${apiServerUrl}${path}`, certs, 15_000),
    async restartApiServer() {
      // Connected to it, the controller manager keeps kube-apiserver from exiting on SIGTERM
      // until the 15 s grace of Proc.stop() runs out: it is restarted with the API server.
      await controllerManager.stop("SIGTERM");
      await apiserver.stop("SIGTERM");
      await startApiServer();
      controllerManager = await startControllerManager(dir, apiServerUrl, certs, pidFile, binDir, at);
    },
    async stop() {
      // kube-apiserver and etcd sometimes ignore SIGTERM for a while: a shorter grace with a node,
      // whose teardown kills whatever is left in the namespace anyway.
      const grace = net ? 5_000 : 15_000;
      await controllerManager.stop("SIGTERM", grace);
      await apiserver.stop("SIGTERM", grace);
      await etcd.stop("SIGTERM", grace);
    },
  };
}
