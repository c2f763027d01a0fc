// Unit tests of SCRAM-SHA-256 verifiers, against verifiers computed by PostgreSQL 15 itself.
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { serverEndPoint } from "../../../src/postgres/scram-client.ts";
import { isScramVerifier, scramSha256Verifier, scramSha256VerifierAsync } from "../../../src/postgres/scram.ts";
import { POSTGRES_VECTORS } from "./scram-vectors.ts";

function saltOf(verifier: string): Buffer {
  return Buffer.from(verifier.split("$")[1]!.split(":")[1]!, "base64");
}

describe("postgres/scram", () => {
  for (const { password, verifier } of POSTGRES_VECTORS) {
    it(`matches PostgreSQL's verifier for ${password.slice(0, 6)}…`, () => {
      expect(scramSha256Verifier(password, { salt: saltOf(verifier) })).to.equal(verifier);
    });
  }

  it("computes the same verifier off the event loop", async () => {
    for (const { password, verifier } of POSTGRES_VECTORS) {
      expect(await scramSha256VerifierAsync(password, { salt: saltOf(verifier) })).to.equal(verifier);
    }
    expect(isScramVerifier(await scramSha256VerifierAsync("pässwörd 🙂"))).to.equal(true);
  });

  it("uses a fresh 16-byte salt and 4096 iterations by default", () => {
    const a = scramSha256Verifier("secret-password");
    const b = scramSha256Verifier("secret-password");
    expect(a).to.not.equal(b);
    expect(a.startsWith("SCRAM-SHA-256$4096:")).to.equal(true);
    expect(saltOf(a)).to.have.length(16);
    expect(isScramVerifier(a)).to.equal(true);
    expect(a).to.not.include("secret-password");
  });

  it("honours the iteration count", () => {
    expect(scramSha256Verifier("x", { iterations: 10000, salt: Buffer.alloc(16) })).to.match(/^SCRAM-SHA-256\$10000:A{22}==\$/);
    expect(() => scramSha256Verifier("x", { iterations: 0 })).to.throw(RangeError);
    expect(() => scramSha256Verifier("x", { salt: Buffer.alloc(0) })).to.throw(RangeError);
  });

  it("recognises verifiers and nothing else", () => {
    expect(isScramVerifier(POSTGRES_VECTORS[0]!.verifier)).to.equal(true);
    for (const bad of ["pencil", "md5abcdef", "SCRAM-SHA-256$4096:abc", `${POSTGRES_VECTORS[0]!.verifier}'`, `${POSTGRES_VECTORS[0]!.verifier}\n`]) {
      expect(isScramVerifier(bad), bad).to.equal(false);
    }
  });
});

describe("postgres/scram-client: tls-server-end-point channel binding data", () => {
  /** A self-signed certificate (DER) made by openssl with `keyArgs` and `digest`. */
  function certificate(keyArgs: string[], digest: string[] = []): Buffer {
    const dir = mkdtempSync(join(tmpdir(), "wsdb-cb-"));
    try {
      execFileSync("openssl", ["req", "-x509", "-newkey", ...keyArgs, "-nodes", "-keyout", join(dir, "k"), "-out", join(dir, "c"), "-days", "1", "-subj", "/CN=x", ...digest], { stdio: "ignore" });
      return new X509Certificate(readFileSync(join(dir, "c"))).raw;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("hashes with the signature's hash, SHA-256 for SHA-1, and gives up where the algorithm does not name one", () => {
    const ec384 = certificate(["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"], ["-sha384"]);
    expect(serverEndPoint(ec384)).to.deep.equal(createHash("sha384").update(ec384).digest());
    const rsa1 = certificate(["rsa:2048"], ["-sha1"]);
    expect(serverEndPoint(rsa1)).to.deep.equal(createHash("sha256").update(rsa1).digest());
    const rsa512 = certificate(["rsa:2048"], ["-sha512"]);
    expect(serverEndPoint(rsa512)).to.deep.equal(createHash("sha512").update(rsa512).digest());
    expect(serverEndPoint(certificate(["ed25519"]))).to.equal(undefined);
    expect(serverEndPoint(certificate(["rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048"]))).to.equal(undefined);
  });
});
