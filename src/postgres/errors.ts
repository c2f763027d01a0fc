// The one error type of the PostgreSQL layer: SQLSTATE and network errors mapped to a few kinds, secrets removed.
import { errorMessage } from "../runtime/logger.ts";
import { InsecureAuthenticationError } from "./scram-only.ts";

/** What went wrong, in terms a reconciler can act on. */
export type PostgresErrorKind =
  | "Unavailable"
  | "AuthenticationFailed"
  | "PermissionDenied"
  | "InvalidSpec"
  | "Conflict"
  | "Transient"
  | "TLSVerificationFailed"
  | "InsecureAuthentication"
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
  const insecure = insecureMethod(err);
  if (insecure !== undefined) {
    return new PostgresError("InsecureAuthentication", `${redact(context, secrets)}: ${insecureAuthenticationMessage(insecure)}`, { cause: err });
  }
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

/** Authentication request codes node-postgres cannot parse, by pg_hba method. */
const UNPARSED_METHODS: Readonly<Record<string, string>> = { "2": "kerberos-v5", "6": "scm-credential", "7": "gss", "8": "gss", "9": "sspi" };

/** The method a server asked for instead of SCRAM-SHA-256, if that is what `err` says. */
function insecureMethod(err: unknown): string | undefined {
  if (err instanceof InsecureAuthenticationError) return err.method;
  const message = err instanceof Error ? err.message : "";
  const unparsed = /Unknown authenticationOk message type (\d+)/.exec(message);
  if (unparsed) return UNPARSED_METHODS[unparsed[1]!] ?? `authentication request ${unparsed[1]!}`;
  return undefined;
}

/**
 * What to tell a person whose server asked the operator for a password other than with SCRAM: the
 * method, and how to fix both causes (a pg_hba rule, a role password still hashed with MD5).
 */
export function insecureAuthenticationMessage(method: string): string {
  return `the server asked for ${method} authentication; the operator sends passwords only with SCRAM-SHA-256 and sent none. ` +
    "Use scram-sha-256 in the pg_hba.conf rule that matches, and if the role's password is still an MD5 hash (an md5 rule then asks for MD5), " +
    "re-hash it as that role or a superuser: SET password_encryption = 'scram-sha-256'; ALTER ROLE <role> PASSWORD '<password>'";
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
