// Certificates for the local kube-apiserver, made with openssl as envtest makes them in Go.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Paths of the PEM files the API server and its admin client use. */
export interface GroundCerts {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** Client certificate of kube-controller-manager (CN system:kube-controller-manager, O system:masters). */
  controllerManagerCert: string;
  controllerManagerKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** The front proxy's CA (kube-apiserver's --requestheader-client-ca-file) and its key. */
  frontProxyCaCert: string;
  frontProxyCaKey: string;
  /** The aggregator's client certificate (CN front-proxy-client, the one allowed name). */
  frontProxyClientCert: string;
  frontProxyClientKey: string;
}

/** The common name kube-apiserver's aggregator presents; the only --requestheader-allowed-names entry. */
export const FRONT_PROXY_CLIENT = "front-proxy-client";

async function openssl(args: string[]): Promise<void> {
  await run("openssl", args);
}

/** Extensions of a client certificate. */
export const CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n";

/** Extensions of a serving certificate for these addresses and DNS names. */
export function servingExt(ips: string[], dns: string[]): string {
  const names = [...ips.map((a) => `IP:${a}`), ...dns.map((d) => `DNS:${d}`)].join(",");
  return `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${names}\n`;
}

/** A key pair and a certificate for `subject`, signed by the given CA, as PEM files in `dir`. */
export async function signedCert(dir: string, name: string, subject: string, ext: string, certs: { caCert: string; caKey: string }): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-subj", subject, "-out", csr]);
  await openssl(["x509", "-req", "-in", csr, "-CA", certs.caCert, "-CAkey", certs.caKey, "-CAcreateserial", "-days", "2", "-sha256", "-extfile", extFile, "-out", cert]);
  return { cert, key };
}

/**
 * Generates a throwaway CA, a serving certificate for 127.0.0.1/localhost, an admin client
 * certificate in group system:masters, a client certificate for kube-controller-manager, the
 * service-account signing key pair, and the front proxy's own CA and client certificate (for
 * aggregated APIs).
 */
async function selfSignedCa(dir: string, name: string, cn: string): Promise<{ caCert: string; caKey: string }> {
  const caKey = join(dir, `${name}.key`);
  const caCert = join(dir, `${name}.crt`);
  await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", caCert, "-days", "2", "-subj", `/CN=${cn}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  return { caCert, caKey };
}

export async function generateCerts(dir: string, serving: { ips: string[]; dns: string[] } = { ips: [], dns: [] }): Promise<GroundCerts> {
  const ca = await selfSignedCa(dir, "ca", "workspacedb-test-ca");
  const { caCert, caKey } = ca;
  const apiServing = await signedCert(dir, "serving", "/CN=kube-apiserver", servingExt(["127.0.0.1", ...serving.ips], ["localhost", ...serving.dns]), ca);
  const clientExt = CLIENT_EXT;
  const admin = await signedCert(dir, "admin", "/O=system:masters/CN=admin", clientExt, ca);
  const controllerManager = await signedCert(dir, "kube-controller-manager", "/O=system:masters/CN=system:kube-controller-manager", clientExt, ca);
  const serviceAccountKey = join(dir, "sa.key");
  const serviceAccountPub = join(dir, "sa.pub");
  await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", serviceAccountKey]);
  await openssl(["pkey", "-in", serviceAccountKey, "-pubout", "-out", serviceAccountPub]);
  const frontProxyCa = await selfSignedCa(dir, "front-proxy-ca", "workspacedb-test-front-proxy-ca");
  const frontProxyClient = await signedCert(dir, "front-proxy-client", `/CN=${FRONT_PROXY_CLIENT}`, clientExt, frontProxyCa);
  return {
    caCert, caKey, servingCert: apiServing.cert, servingKey: apiServing.key, adminCert: admin.cert, adminKey: admin.key,
    controllerManagerCert: controllerManager.cert, controllerManagerKey: controllerManager.key, serviceAccountKey, serviceAccountPub,
    frontProxyCaCert: frontProxyCa.caCert, frontProxyCaKey: frontProxyCa.caKey,
    frontProxyClientCert: frontProxyClient.cert, frontProxyClientKey: frontProxyClient.key,
  };
}
