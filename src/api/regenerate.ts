// How a regenerate annotation's value is recorded once handled: as it is, or as a digest when long.
import { createHash } from "node:crypto";

/** Values up to this many UTF-8 bytes are recorded as they are; longer ones as a digest. */
export const REGENERATE_TOKEN_MAX_BYTES = 128;

/**
 * The record of a regenerate value — in the Secret's bookkeeping annotations and in
 * `status.credentials.*.regenerateToken`: the value itself when it has at most
 * REGENERATE_TOKEN_MAX_BYTES UTF-8 bytes, else `sha256:` and the hex SHA-256 of its UTF-8 bytes. A
 * value is opaque and may be as long as the API server accepts; its record is at most 128 bytes.
 */
export function regenerateTokenRecord(value: string): string {
  if (Buffer.byteLength(value, "utf8") <= REGENERATE_TOKEN_MAX_BYTES) return value;
  return `sha256:${createHash("sha256").update(value, "utf8").digest("hex")}`;
}

/** True when `record` (as written by this or an earlier version, which kept values whole) records `value`. */
export function recordsToken(record: string | undefined, value: string): boolean {
  return record !== undefined && (record === value || record === regenerateTokenRecord(value));
}
