// A throwaway CA with a server certificate (IP 127.0.0.1, DNS kubernetes.test) and a client certificate, made with openssl.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM texts of one CA and the leaves it signed, plus a second, unrelated CA. */
export interface KubeTestCerts {
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

async function makeCa(dir: string, name: string): Promise<void> {
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, `${name}.key`),
    "-out", join(dir, `${name}.crt`), "-days", "2", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
}

async function makeLeaf(dir: string, name: string, ext: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${ext}\n`);
  await run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, `${name}.key`),
    "-subj", `/CN=${name}`, "-out", join(dir, `${name}.csr`)]);
  await run("openssl", ["x509", "-req", "-in", join(dir, `${name}.csr`), "-CA", join(dir, "ca.crt"), "-CAkey", join(dir, "ca.key"), "-CAcreateserial",
    "-days", "2", "-sha256", "-extfile", join(dir, `${name}.ext`), "-out", join(dir, `${name}.crt`)]);
}

/** Generates the certificates in a temporary folder, removed afterwards. */
export async function makeKubeTestCerts(): Promise<KubeTestCerts> {
  const dir = mkdtempSync(join(tmpdir(), "wsdb-kube-certs-"));
  try {
    await makeCa(dir, "ca");
    await makeCa(dir, "other-ca");
    await makeLeaf(dir, "server", "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:kubernetes.test");
    await makeLeaf(dir, "client", "extendedKeyUsage=clientAuth");
    const read = (file: string): string => readFileSync(join(dir, file), "utf8");
    return {
      ca: read("ca.crt"), otherCa: read("other-ca.crt"),
      serverCert: read("server.crt"), serverKey: read("server.key"),
      clientCert: read("client.crt"), clientKey: read("client.key"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
