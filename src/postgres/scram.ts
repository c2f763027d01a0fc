// SCRAM-SHA-256 verifiers (RFC 5802/7677) in PostgreSQL's format, so passwords never travel as plaintext.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/** Iteration count PostgreSQL uses by default (`scram_iterations`). */
export const DEFAULT_SCRAM_ITERATIONS = 4096;

/** Salt length PostgreSQL uses, in bytes. */
export const SCRAM_SALT_BYTES = 16;

/** Matches a complete verifier `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. */
export const SCRAM_VERIFIER_PATTERN = /^SCRAM-SHA-256\$[1-9][0-9]*:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/;

/** Options of scramSha256Verifier: a fixed salt (tests) and the iteration count. */
export interface ScramOptions {
  salt?: Buffer;
  iterations?: number;
}

/**
 * Computes the verifier PostgreSQL stores for `password` (what `ALTER ROLE … PASSWORD '<verifier>'`
 * accepts as already encrypted): random 16-byte salt and 4096 iterations unless given.
 */
export function scramSha256Verifier(password: string, options: ScramOptions = {}): string {
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError("iterations must be a positive integer");
  if (salt.length === 0) throw new RangeError("salt must not be empty");
  const salted = pbkdf2Sync(Buffer.from(saslPrep(password), "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** True when `value` has the exact shape of a SCRAM-SHA-256 verifier (so it can never be a plaintext password). */
export function isScramVerifier(value: string): boolean {
  return SCRAM_VERIFIER_PATTERN.test(value);
}

// RFC 3454 tables, as code point ranges [first, last]: non-ASCII spaces (C.1.2) map to a space, B.1
// characters map to nothing, prohibited output (controls, private use, surrogates, non-characters,
// bidi and tagging characters) makes PostgreSQL use the password unchanged, and so do we.
const NON_ASCII_SPACE: readonly [number, number][] = [[0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]];
const MAPPED_TO_NOTHING: readonly [number, number][] = [[0xad, 0xad], [0x34f, 0x34f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200c, 0x200d], [0x2060, 0x2060], [0xfe00, 0xfe0f], [0xfeff, 0xfeff]];
const PROHIBITED: readonly [number, number][] = [
  [0x0, 0x1f], [0x7f, 0x9f], [0x6dd, 0x6dd], [0x70f, 0x70f], [0x180e, 0x180e], [0x200e, 0x200f], [0x2028, 0x202e],
  [0x2061, 0x2063], [0x206a, 0x206f], [0xd800, 0xdfff], [0xe000, 0xf8ff], [0xfff9, 0xffff], [0xe0001, 0xe0001],
  [0xe0020, 0xe007f], [0xf0000, 0x10ffff],
];

function inRanges(ch: string, ranges: readonly [number, number][]): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  return ranges.some(([first, last]) => cp >= first && cp <= last);
}

/**
 * A minimal SASLprep (RFC 4013) as PostgreSQL applies it: ASCII passwords unchanged; otherwise spaces
 * mapped, ignorable characters dropped and NFKC applied, falling back to the raw password when the
 * result contains prohibited characters.
 */
export function saslPrep(password: string): string {
  if ([...password].every((ch) => (ch.codePointAt(0) ?? 0) < 0x80)) return password;
  let mapped = "";
  for (const ch of password) {
    if (inRanges(ch, MAPPED_TO_NOTHING)) continue;
    mapped += inRanges(ch, NON_ASCII_SPACE) ? " " : ch;
  }
  const prepared = mapped.normalize("NFKC");
  if (prepared === "" || [...prepared].some((ch) => inRanges(ch, PROHIBITED))) return password;
  return prepared;
}
