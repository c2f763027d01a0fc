// The one error type of the PostgreSQL layer: SQLSTATE and network errors mapped to a few kinds, secrets removed.
import { errorMessage } from "../runtime/logger.ts";

/** What went wrong, in terms a reconciler can act on. */
export type PostgresErrorKind =
  | "Unavailable"
  | "AuthenticationFailed"
  | "PermissionDenied"
  | "InvalidSpec"
  | "Conflict"
  | "Transient"
  | "TLSVerificationFailed"
  | "Unknown";

/** An error from PostgreSQL or the network, classified; its message and cause never contain a password or verifier. */
export class PostgresError extends Error {
  /** The classification. */
  readonly kind: PostgresErrorKind;
  /** The SQLSTATE (or Node.js error code such as ECONNREFUSED) when known. */
  readonly code: string | undefined;

  constructor(kind: PostgresErrorKind, message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PostgresError";
    this.kind = kind;
    this.code = options.code;
  }
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE", "EAI_AGAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
]);
const TRANSIENT_CODES = new Set(["57P01", "57P02", "57P03", "40001", "40P01", "55006", "55P03", "57014"]);
const INVALID_SPEC_CODES = new Set(["42601", "0A000", "58P01", "42602", "42622", "42939"]);
const CONFLICT_CODES = new Set(["42710", "42P04", "2BP01", "42P06"]);
const NETWORK_MESSAGE = /connection terminated|timeout exceeded when trying to connect|connection timeout|server does not support ssl|socket hang up/i;

/** Maps SQLSTATE classes and codes, and Node.js network errors, to a kind. */
export function kindOf(code: string | undefined, message = ""): PostgresErrorKind {
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || code.startsWith("08")) return "Unavailable";
    if (code === "28P01" || code === "28000") return "AuthenticationFailed";
    if (code === "42501") return "PermissionDenied";
    if (CONFLICT_CODES.has(code)) return "Conflict";
    if (TRANSIENT_CODES.has(code) || code.startsWith("53")) return "Transient";
    if (INVALID_SPEC_CODES.has(code) || code.startsWith("22")) return "InvalidSpec";
  }
  if (NETWORK_MESSAGE.test(message)) return "Unavailable";
  return "Unknown";
}

/**
 * Turns anything a pg call threw into a PostgresError whose message is `<context>: <reason>`.
 * SCRAM verifiers and the given `secrets` (passwords) are removed from message and cause.
 */
export function classifyPgError(err: unknown, context: string, secrets: readonly string[] = []): PostgresError {
  if (err instanceof PostgresError) return err;
  const code = errorCode(err);
  const raw = err === undefined || err === null ? "" : errorMessage(err);
  const clean = redact(raw, secrets);
  const kind = kindOf(code, raw);
  const reason = clean === "" ? (code ?? "unknown error") : clean;
  const message = `${redact(context, secrets)}: ${reason}${code !== undefined && !reason.includes(code) ? ` (${code})` : ""}`;
  // The original error is kept as the cause only if it carried nothing secret.
  const cause = clean === raw ? err : Object.assign(new Error(clean), code === undefined ? {} : { code });
  return new PostgresError(kind, message, { ...(code === undefined ? {} : { code }), cause });
}

/** Replaces SCRAM verifiers and every occurrence of the given secrets with `[redacted]`. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/SCRAM-SHA-256\$[^\s'"]*/g, "SCRAM-SHA-256$[redacted]");
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join("[redacted]");
  }
  return out;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && code !== "") return code;
  const inner = (err as { errors?: unknown }).errors; // AggregateError from dual-stack connects
  if (Array.isArray(inner)) {
    for (const e of inner as unknown[]) {
      const c = errorCode(e);
      if (c !== undefined) return c;
    }
  }
  return undefined;
}


// OpenSSL's verification failures of the chain itself (as opposed to the host name).
const CHAIN_ERRORS = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_SIGNATURE_FAILURE", "CERT_UNTRUSTED", "CERT_REJECTED", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID",
  "INVALID_CA", "PATH_LENGTH_EXCEEDED", "INVALID_PURPOSE",
]);

/** What a TLS failure is checked against: the host the certificate must name, the sslmode, the CA's origin. */
export interface TlsContext {
  host: string;
  sslMode: string;
  /** Where the CA came from, for messages (e.g. `tls.caSecretRef ns/name`); undefined: Node.js's default CAs. */
  caSource: string | undefined;
}

/**
 * A PostgresError of kind TLSVerificationFailed saying which check failed — the certificate chain
 * (against which CA), the host name, or a server without TLS where the sslmode needs it — or
 * undefined when `err` is not a TLS failure.
 */
export function tlsFailure(err: unknown, context: TlsContext): PostgresError | undefined {
  const code = errorCode(err);
  const message = err === undefined || err === null ? "" : errorMessage(err);
  const options = { cause: err, ...(code === undefined ? {} : { code }) };
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new PostgresError("TLSVerificationFailed", `TLS: the server's certificate is not for host ${context.host} (sslMode ${context.sslMode} checks the host name): ${message}`, options);
  }
  if (code !== undefined && CHAIN_ERRORS.has(code)) {
    const against = context.caSource === undefined ? "the default CAs of Node.js (set tls.caSecretRef to the server's CA)" : `the CA of ${context.caSource}`;
    return new PostgresError("TLSVerificationFailed", `TLS: the server's certificate does not verify against ${against}: ${message} (${code})`, options);
  }
  if (/server does not support (ssl|tls)/i.test(message) && ["require", "verify-ca", "verify-full"].includes(context.sslMode)) {
    return new PostgresError("TLSVerificationFailed", `TLS: the server does not offer TLS, which sslMode ${context.sslMode} requires`, options);
  }
  return undefined;
}
