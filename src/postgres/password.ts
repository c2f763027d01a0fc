// Generation of login passwords: cryptographically random, no look-alike characters, URL-safe.
import { randomInt } from "node:crypto";

/** Characters passwords are drawn from: letters and digits without 0 O o 1 l I (56 characters). */
export const PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/** Default password length (about 186 bits of entropy). */
export const DEFAULT_PASSWORD_LENGTH = 32;

/** Shortest and longest password length accepted by generatePassword. */
export const MIN_PASSWORD_LENGTH = 16;
export const MAX_PASSWORD_LENGTH = 256;

/**
 * The longest password the operator applies from a Secret, in UTF-8 bytes: as long as the longest
 * generated one. libpq, pgjdbc, psycopg and node-postgres take it; every credentials Secret repeats a
 * password in about ten keys (percent-encoded in the URLs, up to three bytes per byte), so this also
 * bounds the Secret well below the API server's limits.
 */
export const MAX_PASSWORD_BYTES = 256;

/** Returns a new random password of `length` characters from PASSWORD_ALPHABET; throws for a length outside 16..256. */
export function generatePassword(length: number = DEFAULT_PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(`password length must be an integer from ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH}`);
  }
  let password = "";
  for (let i = 0; i < length; i++) password += PASSWORD_ALPHABET.charAt(randomInt(PASSWORD_ALPHABET.length));
  return password;
}
