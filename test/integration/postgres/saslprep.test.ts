// Integration tests: our SASLprep + verifiers equal what PostgreSQL computes from plaintext, and libpq logs in with them.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { expect } from "chai";
import pg from "pg";
import { getGround } from "../../ground/index.ts";
import { saslPrep } from "../../../src/postgres/saslprep.ts";
import { scramSha256Verifier } from "../../../src/postgres/scram.ts";
import { createLoginRole, dropRole, quoteIdent, quoteLiteral } from "../../../src/postgres/sql.ts";
import { statementLog, uniqueName } from "./helpers.ts";

const run = promisify(execFile);
const PSQL = "/usr/bin/psql";

/** The unit tests' vectors: every branch of pg_saslprep. */
const NAMED: Record<string, string> = {
  "ASCII with a quote and a backslash": "it's a \\ test",
  "ASCII control characters": "tab\there\u0001",
  "no-break space": "pass\u00A0word",
  "soft hyphen": "pass\u00ADword\u00E9",
  ligature: "\uFB01nancial",
  "Roman numeral": "\u2168-\u00E9",
  "combining acute": "e\u0301t\u00E9",
  "U+0340 prohibited before normalisation": "e\u0340",
  emoji: "p\u00E4ss\u{1F511}",
  "U+2150 unassigned in 3.2": "x\u2150",
  "U+2093 unassigned in 3.2, NFKC ASCII": "pa\u2093s",
  "Hebrew only": "\u05E9\u05DC\u05D5\u05DD",
  "Hebrew presentation form": "\uFB2A\u05D0",
  "right-to-left + Latin": "\u05E9\u05DC\u05D5\u05DDabc\u05D0",
  "Hebrew not at both ends": "\u05D0\u05D11",
  "only B.1 characters": "\u00AD\u200D",
};

// Character pools for the random vectors.
const POOLS = {
  ascii: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
  latin1: "\u00C0\u00C9\u00D6\u00D8\u00DF\u00E4\u00E7\u00E9\u00F1\u00F6\u00FC\u00FF\u00A9\u00B5\u00BD\u00AA",
  spaces: "\u00A0\u1680\u2002\u2003\u200A\u200B\u202F\u205F\u3000",
  b1: "\u00AD\u034F\u180B\u200C\u200D\u2060\uFE00\uFE0F\uFEFF",
  combining: "\u0300\u0301\u0302\u0308\u0327\u0331",
  ligatures: "\uFB00\uFB01\uFB02\uFB03\u0132\u01C6\u2122\u2167",
  fullwidth: "\uFF21\uFF22\uFF41\uFF10\uFF01\uFF5E",
  rtl: "\u05D0\u05D1\u05D2\u05E9\u05EA\u0627\u0628\u0644\u0645\uFB1D\uFEFB",
  cjk: "\u4E2D\u6587\u5B57\u65E5\u672C\u3042\u30A2\uAC00",
  emoji: "\u{1F600}\u{1F389}\u{1F511}\u{1F680}\u2728",
  unassigned32: "\u2150\u2093\u2189\u{1F130}\u0221\u0560",
  prohibited: "\u0340\u200E\u202A\uE000\u2FF0\u0007",
};

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVectors(count: number, seed: number): string[] {
  const random = mulberry32(seed);
  const pick = (pool: string): string => {
    const chars = [...pool];
    return chars[Math.floor(random() * chars.length)]!;
  };
  // Profiles, so that some strings pass every check and some do not.
  const profiles: (keyof typeof POOLS)[][] = [
    ["ascii", "latin1", "spaces", "b1", "combining", "ligatures", "fullwidth", "rtl", "cjk", "emoji", "unassigned32", "prohibited"],
    ["ascii", "latin1", "spaces", "b1", "combining", "ligatures", "fullwidth", "cjk"],
    ["rtl", "spaces", "b1"],
    ["latin1", "emoji", "unassigned32"],
    ["ascii", "latin1", "prohibited"],
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const profile = profiles[i % profiles.length]!;
    const length = 3 + Math.floor(random() * 10);
    let text = "";
    for (let k = 0; k < length; k++) text += pick(POOLS[profile[Math.floor(random() * profile.length)]!]);
    if (profile[0] === "rtl") text = `${pick(POOLS.rtl)}${text}${pick(POOLS.rtl)}`;
    out.push(text.replaceAll("\0", ""));
  }
  return out;
}

function escape(text: string): string {
  return [...text].map((ch) => (/^[\x21-\x7e]$/.test(ch) ? ch : `U+${ch.codePointAt(0)!.toString(16).toUpperCase()}`)).join(" ");
}

describe("SASLprep against PostgreSQL (integration)", function () {
  this.timeout(120_000);
  const vectors: [string, string][] = [
    ...Object.entries(NAMED),
    ...randomVectors(30, 20240611).map((password, i): [string, string] => [`random #${i + 1}`, password]),
  ];
  const roles: string[] = [];
  let client: pg.Client;

  before(async () => {
    client = new pg.Client({ connectionString: getGround().postgres.superUrl });
    await client.connect();
    // The plaintexts below must not reach the statement log.
    await client.query("SET log_statement = 'none'");
    await client.query("SET password_encryption = 'scram-sha-256'");
  });

  after(async () => {
    for (const role of roles) await client.query(dropRole(role).sql);
    await client.end();
    const log = statementLog();
    for (const [name, password] of vectors) {
      if (password.length >= 6) expect(log?.includes(password) ?? false, `the ${name} password is in the server log`).to.equal(false);
    }
  });

  it("the vectors exercise both outcomes of pg_saslprep", () => {
    const prepared = vectors.filter(([, p]) => saslPrep(p) !== p).length;
    const raw = vectors.filter(([, p]) => [...p].some((ch) => ch.codePointAt(0)! > 0x7f) && saslPrep(p) === p).length;
    expect(prepared, "vectors SASLprep changes").to.be.at.least(10);
    expect(raw, "non-ASCII vectors kept raw").to.be.at.least(10);
  });

  for (const [name, password] of vectors) {
    it(`computes PostgreSQL's verifier for ${name}: ${escape(password)}`, async () => {
      const role = uniqueName("saslprep");
      roles.push(role);
      await client.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(password)}`);
      const rows = await client.query<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role]);
      const stored = rows.rows[0]!.rolpassword;
      const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored);
      expect(match, "a SCRAM verifier is stored").to.not.equal(null);
      const ours = scramSha256Verifier(password, { iterations: Number(match![1]), salt: Buffer.from(match![2]!, "base64") });
      expect(ours).to.equal(stored);
    });
  }

  describe("libpq (psql) logs in with our verifiers", () => {
    const LOGIN_VECTORS = ["emoji", "no-break space", "ligature", "right-to-left + Latin"];

    before(function () {
      if (!existsSync(PSQL)) this.skip();
    });

    for (const name of LOGIN_VECTORS) {
      it(`logs in with the ${name} password`, async () => {
        const password = NAMED[name]!;
        const role = uniqueName("psql");
        roles.push(role);
        await client.query(createLoginRole(role, scramSha256Verifier(password), -1, "saslprep test").sql);
        const { host, port } = getGround().postgres;
        const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PG")));
        const { stdout } = await run(PSQL, ["-X", "-A", "-t", "-w", "-h", host, "-p", String(port), "-d", "postgres", "-U", role, "-c", "select 1"], {
          env: { ...env, PGPASSWORD: password, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "10" },
          timeout: 30_000,
        });
        expect(stdout.trim()).to.equal("1");
      });
    }
  });
});
