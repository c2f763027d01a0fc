// SCRAM-SHA-256 verifiers (RFC 5802/7677) in PostgreSQL's format, so passwords never travel as plaintext.
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes } from "node:crypto";
import { saslPrep } from "./saslprep.ts";

/** SASLprep as PostgreSQL applies it to passwords (see saslprep.ts), re-exported for existing callers. */
export { saslPrep } from "./saslprep.ts";

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
  const { salt, iterations } = checkOptions(options);
  return formatVerifier(pbkdf2Sync(Buffer.from(saslPrep(password), "utf8"), salt, iterations, 32, "sha256"), salt, iterations);
}

/**
 * The same verifier as scramSha256Verifier, with PBKDF2 run on libuv's thread pool so the event loop
 * (every other reconcile, the probes, the watches) is not blocked meanwhile.
 */
export async function scramSha256VerifierAsync(password: string, options: ScramOptions = {}): Promise<string> {
  const { salt, iterations } = checkOptions(options);
  const salted = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(Buffer.from(saslPrep(password), "utf8"), salt, iterations, 32, "sha256", (err, key) => (err ? reject(err) : resolve(key)));
  });
  return formatVerifier(salted, salt, iterations);
}

function checkOptions(options: ScramOptions): { salt: Buffer; iterations: number } {
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError("iterations must be a positive integer");
  if (salt.length === 0) throw new RangeError("salt must not be empty");
  return { salt, iterations };
}

function formatVerifier(salted: Buffer, salt: Buffer, iterations: number): string {
  const { storedKey, serverKey } = scramKeys(salted);
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** The keys RFC 5802 derives from SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations). */
export interface ScramKeys {
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** ClientKey = HMAC(salted, "Client Key"), StoredKey = SHA-256(ClientKey), ServerKey = HMAC(salted, "Server Key"). */
export function scramKeys(saltedPassword: Buffer): ScramKeys {
  const clientKey = createHmac("sha256", saltedPassword).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", saltedPassword).update("Server Key").digest();
  return { clientKey, storedKey, serverKey };
}

/** True when `value` has the exact shape of a SCRAM-SHA-256 verifier (so it can never be a plaintext password). */
export function isScramVerifier(value: string): boolean {
  return SCRAM_VERIFIER_PATTERN.test(value);
}
