// etcd, kube-apiserver and kube-controller-manager on loopback: envtest's pair plus the controllers
// that make namespace deletion and ownerReference garbage collection real.
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { FRONT_PROXY_CLIENT, generateCerts, type GroundCerts } from "./certs.ts";
import { freePort, startProc, waitFor, type Proc } from "./procs.ts";

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
function kubeconfigYaml(url: string, caCert: string, user: string, clientCert: string, clientKey: string): string {
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
async function startControllerManager(dir: string, apiServerUrl: string, certs: GroundCerts, pidFile: string, binDir: string): Promise<Proc> {
  const kubeconfig = join(dir, "kube-controller-manager.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, certs.caCert, "system:kube-controller-manager", certs.controllerManagerCert, certs.controllerManagerKey), { mode: 0o600 });
  const port = await freePort();
  const logFile = join(dir, "kube-controller-manager.log");
  const proc = startProc("kube-controller-manager", join(binDir, "kube-controller-manager"), [
    `--kubeconfig=${kubeconfig}`,
    // No --authentication/authorization-kubeconfig: nobody but the ground calls it, on /healthz,
    // which is always allowed.
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    // The API server's serving certificate (127.0.0.1, signed by the ground CA) serves /healthz too.
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    "--leader-elect=false",
    `--controllers=${CONTROLLERS.join(",")}`,
    `--service-account-private-key-file=${certs.serviceAccountKey}`,
    `--root-ca-file=${certs.caCert}`,
    "--use-service-account-credentials=false",
    // Deleting a namespace lists and deletes every resource type in it: above the default 20/s, so
    // that many test namespaces go away quickly.
    "--kube-api-qps=100",
    "--kube-api-burst=200",
    "--v=1",
  ], logFile, pidFile);
  const early = proc.exited.then((code) => {
    throw new Error(`kube-controller-manager exited with ${code} during start; see ${logFile}`);
  });
  early.catch(() => undefined);
  await Promise.race([
    early,
    (async () => {
      await waitFor("kube-controller-manager /healthz", async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`, certs)).status === 200, 60_000, 300);
      await waitFor("ServiceAccount default/default (serviceaccount-controller)", async () =>
        (await httpsGet(`${apiServerUrl}/api/v1/namespaces/default/serviceaccounts/default`, certs)).status === 200, 60_000, 300);
    })(),
  ]);
  return proc;
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager from `binDir` under `root`, and waits
 * until the API server is ready and the controller manager works.
 */
export async function startKube(root: string, binDir: string, pidFile: string): Promise<KubeGround> {
  const dir = join(root, "kube");
  mkdirSync(dir, { recursive: true });
  const certs = await generateCerts(dir);

  const etcdPort = await freePort();
  const etcdPeerPort = await freePort();
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = startProc("etcd", join(binDir, "etcd"), [
    "--name=default",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ], join(dir, "etcd.log"), pidFile);
  await waitFor("etcd", async () => {
    const res = await fetch(`${etcdUrl}/health`);
    return res.ok;
  }, 30_000);

  const port = await freePort();
  const apiServerUrl = `https://127.0.0.1:${port}`;
  const args = [
    `--etcd-servers=${etcdUrl}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${port}`,
    `--cert-dir=${dir}`,
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    `--client-ca-file=${certs.caCert}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    `--service-account-issuer=${apiServerUrl}`,
    `--service-account-key-file=${certs.serviceAccountPub}`,
    `--service-account-signing-key-file=${certs.serviceAccountKey}`,
    "--authorization-mode=RBAC",
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
    "--disable-admission-plugins=ServiceAccount",
    "--v=1",
  ];
  const logFile = join(dir, "kube-apiserver.log");
  let apiserver: Proc;
  const startApiServer = async (): Promise<void> => {
    apiserver = startProc("kube-apiserver", join(binDir, "kube-apiserver"), args, logFile, pidFile);
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
  let controllerManager = await startControllerManager(dir, apiServerUrl, certs, pidFile, binDir);

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
      controllerManager = await startControllerManager(dir, apiServerUrl, certs, pidFile, binDir);
    },
    async stop() {
      await controllerManager.stop("SIGTERM");
      await apiserver.stop("SIGTERM");
      await etcd.stop("SIGTERM");
    },
  };
}
