// The data API on the test ground, set up the way the chart does it in a cluster: a serving
// certificate for the Service's name, a Service (ExternalName to the loopback port the operator
// listens on) and the APIService trusting the certificate's CA; plus the kubectl-wsdb plugin on PATH.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import { freePort } from "../../ground/procs.ts";
import type { KeyPair, TestCa } from "../../support/pki.ts";
import { tools } from "./deploy.ts";
import { SYSTEM_NAMESPACE, ensureNamespace, eventually } from "./fixtures.ts";

export const DATA_API_SERVICE = "workspacedb-data-api";
export const DATA_APISERVICE = "v1alpha1.data.workspacedb.io";

/** A serving certificate on disk and the operator settings that serve the data API with it. */
export interface DataApiSetup {
  port: number;
  certFile: string;
  keyFile: string;
  /** WSDB_* variables of an operator serving the data API on `port`. */
  env: Record<string, string>;
}

/** Issues the data API's serving certificate (from `ca`) and picks a port. */
export async function prepareDataApi(ca: TestCa): Promise<DataApiSetup> {
  const ground = getGround();
  const serving = await ca.issue({
    cn: DATA_API_SERVICE,
    usage: "server",
    san: [`DNS:${DATA_API_SERVICE}.${SYSTEM_NAMESPACE}.svc`, `DNS:${DATA_API_SERVICE}.${SYSTEM_NAMESPACE}.svc.cluster.local`],
  });
  const certFile = join(ground.root, "data-api.crt");
  const keyFile = join(ground.root, "data-api.key");
  writeFileSync(certFile, serving.cert);
  writeFileSync(keyFile, serving.key, { mode: 0o600 });
  const port = await freePort();
  return {
    port,
    certFile,
    keyFile,
    env: {
      WSDB_DATA_API_ENABLED: "true",
      WSDB_DATA_API_HOST: "127.0.0.1",
      WSDB_DATA_API_PORT: String(port),
      WSDB_DATA_API_CERT_FILE: certFile,
      WSDB_DATA_API_KEY_FILE: keyFile,
    },
  };
}

/** Registers the data API served on `port` with the aggregation layer and waits until it is Available. */
export async function registerDataApi(port: number, ca: TestCa): Promise<void> {
  await ensureNamespace(SYSTEM_NAMESPACE);
  const { kubectl } = tools();
  await kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "v1", kind: "Service", metadata: { name: DATA_API_SERVICE, namespace: SYSTEM_NAMESPACE },
          spec: { type: "ExternalName", externalName: "localhost", ports: [{ name: "https", port, protocol: "TCP" }] },
        },
        {
          apiVersion: "apiregistration.k8s.io/v1",
          kind: "APIService",
          metadata: { name: DATA_APISERVICE },
          spec: {
            group: "data.workspacedb.io", version: "v1alpha1", groupPriorityMinimum: 1000, versionPriority: 15,
            service: { namespace: SYSTEM_NAMESPACE, name: DATA_API_SERVICE, port },
            caBundle: Buffer.from(ca.cert).toString("base64"),
          },
        },
      ],
    }),
  });
  await eventually("APIService Available", async () => {
    const out = await kubectl(["get", "apiservice", DATA_APISERVICE, "-o", "jsonpath={.status.conditions[?(@.type==\"Available\")].status}"], { allowFailure: true });
    return out.stdout.trim() === "True" ? true : undefined;
  }, 90_000, 500);
}

/** Removes the APIService (without its server it would stall namespace deletion cluster-wide). */
export async function unregisterDataApi(): Promise<void> {
  await tools().kubectl(["delete", "apiservice", DATA_APISERVICE, "--ignore-not-found", "--wait=true"], { allowFailure: true });
}

/** A folder with an executable `kubectl-wsdb` running this checkout's plugin: put it first on PATH. */
export function pluginBin(): string {
  const bin = join(getGround().root, "plugin-bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "kubectl-wsdb"), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, "src", "cli", "kubectl-wsdb.ts")}" "$@"\n`, { mode: 0o755 });
  return bin;
}

/** The client certificate kube-apiserver's aggregator presents (the front proxy's). */
export function frontProxyPair(): KeyPair {
  const certs = getGround().certs;
  if (certs === undefined) throw new Error("the front proxy's certificate needs the local ground");
  return { cert: readFileSync(certs.frontProxyClientCert, "utf8"), key: readFileSync(certs.frontProxyClientKey, "utf8") };
}

/**
 * GET on a data API port directly (not through kube-apiserver), trusting `ca` for the server name
 * `service` in the system namespace, with an optional client certificate and headers.
 */
export function requestDataApi(port: number, path: string, opts: { ca: string; cert?: KeyPair; headers?: Record<string, string>; service?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1", port, path, method: "GET", ca: opts.ca, servername: `${opts.service ?? DATA_API_SERVICE}.${SYSTEM_NAMESPACE}.svc`,
      ...(opts.cert === undefined ? {} : { cert: opts.cert.cert, key: opts.cert.key }),
      headers: opts.headers ?? {},
    }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
