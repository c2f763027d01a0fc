// Unit tests of SCRAM-SHA-256 verifiers, against verifiers computed by PostgreSQL 15 itself.
import { expect } from "chai";
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
