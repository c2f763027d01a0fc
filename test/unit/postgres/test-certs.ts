// Throwaway CAs and server certificates made with openssl, for the login probe's TLS unit tests.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM texts: two unrelated CAs, a certificate for IP 127.0.0.1 and one for DNS other.invalid, both signed by `ca`. */
export interface TestCerts {
  ca: string;
  otherCa: string;
  key: string;
  cert: string;
  wrongNameKey: string;
  wrongNameCert: string;
}

async function makeCa(dir: string, name: string): Promise<void> {
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, `${name}.key`),
    "-out", join(dir, `${name}.crt`), "-days", "2", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
}

async function makeLeaf(dir: string, name: string, san: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  await run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, `${name}.key`),
    "-subj", `/CN=${name}`, "-out", join(dir, `${name}.csr`)]);
  await run("openssl", ["x509", "-req", "-in", join(dir, `${name}.csr`), "-CA", join(dir, "ca.crt"), "-CAkey", join(dir, "ca.key"), "-CAcreateserial",
    "-days", "2", "-sha256", "-extfile", join(dir, `${name}.ext`), "-out", join(dir, `${name}.crt`)]);
}

/** Generates the certificates in a temporary folder, removed afterwards. */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), "wsdb-probe-certs-"));
  try {
    await makeCa(dir, "ca");
    await makeCa(dir, "other-ca");
    await makeLeaf(dir, "server", "IP:127.0.0.1");
    await makeLeaf(dir, "wrong-name", "DNS:other.invalid");
    const read = (file: string): string => readFileSync(join(dir, file), "utf8");
    return {
      ca: read("ca.crt"), otherCa: read("other-ca.crt"), key: read("server.key"), cert: read("server.crt"),
      wrongNameKey: read("wrong-name.key"), wrongNameCert: read("wrong-name.crt"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
