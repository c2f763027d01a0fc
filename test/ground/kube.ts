// etcd and kube-apiserver on loopback, configured the way controller-runtime's envtest runs them.
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { generateCerts, type GroundCerts } from "./certs.ts";
import { freePort, startProc, waitFor, type Proc } from "./procs.ts";

/** A running etcd + kube-apiserver pair and the admin kubeconfig for it. */
export interface KubeGround {
  apiServerUrl: string;
  kubeconfigPath: string;
  certs: GroundCerts;
  /** GETs a path of the API server as admin (e.g. `/metrics`) and returns the body. */
  adminGet(path: string): Promise<{ status: number; body: string }>;
  /** Stops and starts kube-apiserver again on the same port, with the same etcd. */
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

function kubeconfigYaml(url: string, certs: GroundCerts): string {
  const b64 = (p: string) => readFileSync(p).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: workspacedb-test",
    "  cluster:",
    `    server: ${url}`,
    `    certificate-authority-data: ${b64(certs.caCert)}`,
    "users:",
    "- name: admin",
    "  user:",
    `    client-certificate-data: ${b64(certs.adminCert)}`,
    `    client-key-data: ${b64(certs.adminKey)}`,
    "contexts:",
    "- name: workspacedb-test",
    "  context: {cluster: workspacedb-test, user: admin, namespace: default}",
    "current-context: workspacedb-test",
    "",
  ].join("\n");
}

/** Starts etcd and kube-apiserver from `binDir` under `root`, and waits until the API server is ready. */
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

  const kubeconfigPath = join(root, "kubeconfig");
  writeFileSync(kubeconfigPath, kubeconfigYaml(apiServerUrl, certs), { mode: 0o600 });

  return {
    apiServerUrl,
    kubeconfigPath,
    certs,
    adminGet: (path) => httpsGet(`${apiServerUrl}${path}`, certs, 15_000),
    async restartApiServer() {
      await apiserver.stop("SIGTERM");
      await startApiServer();
    },
    async stop() {
      await apiserver.stop("SIGTERM");
      await etcd.stop("SIGTERM");
    },
  };
}
