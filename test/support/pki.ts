// Throwaway certificate authorities and certificates made with openssl, for tests of TLS clients and servers.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its private key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What a leaf certificate says. */
export interface LeafSpec {
  /** Subject common name (a user name for client certificates). */
  cn: string;
  /** Subject organisations (groups for Kubernetes client certificates). */
  o?: string[];
  usage: "server" | "client";
  /** subjectAltName entries, e.g. "IP:127.0.0.1", "DNS:localhost". */
  san?: string[];
  /** Validity in days from now; default 2. */
  days?: number;
}

/** A CA that signs leaves; `cert` is its PEM. Files live until `dispose()`. */
export interface TestCa {
  readonly cert: string;
  readonly keyFile: string;
  readonly certFile: string;
  issue(spec: LeafSpec): Promise<KeyPair>;
}

/** A folder of CAs and certificates, removed by `dispose()`. */
export interface Pki {
  ca(name: string): Promise<TestCa>;
  /** A CA whose certificate and key already exist (e.g. a test cluster's). */
  existing(certFile: string, keyFile: string): TestCa;
  dispose(): void;
}

const CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function subject(cn: string, o: string[] = []): string {
  return [...o.map((org) => `/O=${org}`), `/CN=${cn}`].join("");
}

/** Starts a PKI in a temporary folder (under `parent`, default the system's temporary folder). */
export function createPki(parent: string = tmpdir()): Pki {
  const dir = mkdtempSync(join(parent, "wsdb-pki-"));
  let serial = 0;
  const existing = (certFile: string, keyFile: string): TestCa => ({
    cert: readFileSync(certFile, "utf8"),
    keyFile,
    certFile,
    async issue(spec) {
      const base = join(dir, `leaf-${++serial}`);
      const ext = [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        `extendedKeyUsage=${spec.usage === "server" ? "serverAuth" : "clientAuth"}`,
        ...(spec.san !== undefined && spec.san.length > 0 ? [`subjectAltName=${spec.san.join(",")}`] : []),
      ].join("\n");
      writeFileSync(`${base}.ext`, `${ext}\n`);
      await run("openssl", ["req", "-new", ...CURVE, "-keyout", `${base}.key`, "-subj", subject(spec.cn, spec.o), "-out", `${base}.csr`]);
      await run("openssl", ["x509", "-req", "-in", `${base}.csr`, "-CA", certFile, "-CAkey", keyFile, "-set_serial", `0x${randomBytes(8).toString("hex")}`,
        "-days", String(spec.days ?? 2), "-sha256", "-extfile", `${base}.ext`, "-out", `${base}.crt`]);
      return { cert: readFileSync(`${base}.crt`, "utf8"), key: readFileSync(`${base}.key`, "utf8") };
    },
  });
  return {
    async ca(name) {
      const keyFile = join(dir, `${name}.key`);
      const certFile = join(dir, `${name}.crt`);
      await run("openssl", ["req", "-x509", ...CURVE, "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", subject(name),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
      return existing(certFile, keyFile);
    },
    existing,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
