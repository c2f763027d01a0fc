// Checks a password by logging in with SCRAM-SHA-256 only, over a minimal wire-protocol client, and says what the attempt proved.
import { PostgresError, redact } from "./errors.ts";
import { ProbeTransport, tlsPolicy, type ProbeSslMode } from "./probe-transport.ts";
import { clientFinal, clientFirst, parseServerFirst, serverEndPoint, serverFinalMatches } from "./scram-client.ts";
import * as wire from "./wire.ts";

/**
 * What one login attempt proved about a password:
 * - accepted: authenticated, the session reached ReadyForQuery;
 * - refusedAfterAuthentication: AuthenticationOk came, then an ErrorResponse (53300 too many
 *   connections for the role or database, 42501 no CONNECT, 28000 not permitted to log in, 3D000…):
 *   the password is right;
 * - wrongPassword: 28P01 in answer to our SCRAM proof;
 * - inconclusive: an ErrorResponse before the proof was judged (pg_hba rejection 28000, 53300 "too
 *   many clients already", 57P03 starting up…): proves nothing;
 * - insecure: the server asked for anything but SASL with SCRAM-SHA-256 (cleartext, md5, gss…), let
 *   the user in without checking a password ("trust"), or could not prove it knows the verifier;
 *   nothing derived from the password was sent for the first two, and the connection is closed.
 */
export type LoginOutcome =
  | { kind: "accepted" }
  | { kind: "refusedAfterAuthentication"; code: string; message: string }
  | { kind: "wrongPassword"; code: string; message: string }
  | { kind: "inconclusive"; code: string; message: string }
  | { kind: "insecure"; method: string };

/** Where and as whom to log in; timeouts in milliseconds (defaults 10 000 to connect, 30 000 in all). */
export interface LoginProbeOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslMode: "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
  /** PEM CA certificate(s) to verify the server's chain against (see tlsPolicy). */
  ca?: string;
  applicationName?: string;
  /** Time for the TCP connection and, separately, for the TLS handshake. */
  connectTimeoutMs?: number;
  /** Time for the whole attempt. */
  timeoutMs?: number;
}

/** Default connect timeout of probeLogin, in milliseconds. */
export const DEFAULT_PROBE_CONNECT_TIMEOUT_MS = 10_000;
/** Default overall timeout of probeLogin, in milliseconds. */
export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

const SCRAM = "SCRAM-SHA-256";
const SCRAM_PLUS = "SCRAM-SHA-256-PLUS";
const SSL_MODES: readonly ProbeSslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
const METHODS: Readonly<Record<number, string>> = {
  [wire.AUTH.ok]: "trust",
  [wire.AUTH.kerberosV5]: "kerberos-v5",
  [wire.AUTH.cleartextPassword]: "cleartext",
  [wire.AUTH.md5Password]: "md5",
  [wire.AUTH.scmCredential]: "scm-credential",
  [wire.AUTH.gss]: "gss",
  [wire.AUTH.sspi]: "sspi",
};

/**
 * Logs in to `database` on `host`:`port` as `user` with `password`, authenticating only with
 * SCRAM-SHA-256 (gs2 header `n,,`, SASLprep exactly as PostgreSQL, server signature verified), and
 * says what that proved. Never sends the password or anything derived from it unless the server
 * asked for SCRAM-SHA-256. Network failures, timeouts, TLS failures and protocol violations throw a
 * PostgresError Unavailable; invalid options throw a PostgresError InvalidSpec; no message contains
 * the password. The connection is always closed (Terminate is sent on an established session only).
 */
export async function probeLogin(options: LoginProbeOptions): Promise<LoginOutcome> {
  validate(options);
  const context = `logging in to ${options.host}:${options.port}/${options.database} as ${options.user}`;
  const transport = new ProbeTransport(options.host, options.port);
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const deadline = setTimeout(() => {
    transport.abort(new PostgresError("Unavailable", `timed out after ${timeoutMs} ms`, { code: "ETIMEDOUT" }));
  }, timeoutMs);
  let established = false;
  try {
    const outcome = await converse(transport, options, () => {
      established = true;
    });
    return redactOutcome(outcome, options.password);
  } catch (err) {
    throw asProbeError(err, context, options.password);
  } finally {
    clearTimeout(deadline);
    await transport.close(established ? wire.terminate() : undefined);
  }
}

async function converse(t: ProbeTransport, o: LoginProbeOptions, onEstablished: () => void): Promise<LoginOutcome> {
  const connectTimeoutMs = o.connectTimeoutMs ?? DEFAULT_PROBE_CONNECT_TIMEOUT_MS;
  await t.connected(connectTimeoutMs);
  const policy = tlsPolicy(o.sslMode, o.ca);
  if (policy.request) {
    t.write(wire.sslRequest());
    const answer = String.fromCharCode(await t.reader.readByte());
    if (answer === "S") await t.startTls(policy, o.host, connectTimeoutMs);
    // Like libpq, an unauthenticated server's error text is not trusted (nor read) here.
    else if (answer === "E") throw new PostgresError("Unavailable", "server sent an error response during the SSL exchange");
    else if (answer !== "N") throw wire.protocolViolation(`server answered SSLRequest with '${answer}'`);
    else if (policy.required) throw new PostgresError("TLSVerificationFailed", `TLS: the server does not offer TLS, which sslMode ${o.sslMode} requires`);
  }
  t.write(wire.startupMessage({ user: o.user, database: o.database, application_name: o.applicationName ?? "workspacedb-login-probe", client_encoding: "UTF8" }));
  const early = await authenticate(t, o.password);
  if (early !== undefined) return early;
  onEstablished();
  for (;;) {
    const message = await t.reader.readMessage();
    if (message.type === "Z") return { kind: "accepted" };
    if (message.type === "E") return { kind: "refusedAfterAuthentication", ...errorOf(message.body) };
    if (message.type !== "S" && message.type !== "K" && message.type !== "N") throw wire.protocolViolation(`unexpected message '${message.type}' after authentication`);
  }
}

// Runs the authentication exchange: undefined once AuthenticationOk followed a verified SCRAM exchange.
async function authenticate(t: ProbeTransport, password: string): Promise<LoginOutcome | undefined> {
  let first = clientFirst();
  let stage: "start" | "sentFirst" | "sentProof" | "verified" = "start";
  let expectedSignature: Buffer = Buffer.alloc(0);
  for (;;) {
    const message = await t.reader.readMessage();
    if (message.type === "E") {
      const error = errorOf(message.body);
      return stage === "sentProof" && error.code === "28P01" ? { kind: "wrongPassword", ...error } : { kind: "inconclusive", ...error };
    }
    if (message.type === "N" || message.type === "v") continue; // notices; NegotiateProtocolVersion
    if (message.type !== "R") throw wire.protocolViolation(`unexpected message '${message.type}' during authentication`);
    const { code, data } = wire.parseAuthentication(message.body);
    if (code === wire.AUTH.sasl && stage === "start") {
      const mechanisms = wire.parseSaslMechanisms(data);
      // Over TLS, bound to the channel when the server offers it (a man in the middle cannot relay
      // the exchange), and saying so when it does not (a man in the middle cannot strip -PLUS).
      const certificate = t.serverCertificate();
      const endPoint = certificate === undefined ? undefined : serverEndPoint(certificate);
      if (endPoint !== undefined && mechanisms.includes(SCRAM_PLUS)) {
        first = clientFirst(undefined, { kind: "tls-server-end-point", data: endPoint });
        t.write(wire.saslInitialResponse(SCRAM_PLUS, Buffer.from(first.message, "utf8")));
      } else if (mechanisms.includes(SCRAM)) {
        // -PLUS offered but the certificate's binding hash unknown (RSA-PSS, EdDSA): unbound, as libpq.
        if (certificate !== undefined && !mechanisms.includes(SCRAM_PLUS)) first = clientFirst(undefined, { kind: "not-offered" });
        t.write(wire.saslInitialResponse(SCRAM, Buffer.from(first.message, "utf8")));
      } else {
        return { kind: "insecure", method: `SASL ${mechanisms.join(" ")}`.trim() };
      }
      stage = "sentFirst";
    } else if (code === wire.AUTH.saslContinue && stage === "sentFirst") {
      const final = await clientFinal(password, first, parseServerFirst(data.toString("utf8"), first.nonce));
      expectedSignature = final.serverSignature;
      t.write(wire.saslResponse(Buffer.from(final.message, "utf8")));
      stage = "sentProof";
    } else if (code === wire.AUTH.saslFinal && stage === "sentProof") {
      if (!serverFinalMatches(data.toString("utf8"), expectedSignature)) {
        return { kind: "insecure", method: `${SCRAM} (server could not prove it knows the verifier)` };
      }
      stage = "verified";
    } else if (code === wire.AUTH.ok && stage === "verified") {
      return undefined;
    } else if (code === wire.AUTH.ok && stage !== "start") {
      return { kind: "insecure", method: `${SCRAM} (server ended the exchange without proving it knows the verifier)` };
    } else if (code === wire.AUTH.sasl || code === wire.AUTH.saslContinue || code === wire.AUTH.saslFinal || stage !== "start") {
      throw wire.protocolViolation(`unexpected authentication request ${code} in the SCRAM exchange`);
    } else {
      return { kind: "insecure", method: METHODS[code] ?? `authentication request ${code}` };
    }
  }
}

function errorOf(body: Buffer): { code: string; message: string } {
  const fields = wire.parseErrorFields(body);
  return { code: fields.code, message: fields.message };
}

// Server messages never echo a password, but a password equal to, say, the user name must not slip through.
function redactOutcome(outcome: LoginOutcome, password: string): LoginOutcome {
  if (outcome.kind === "accepted") return outcome;
  if (outcome.kind === "insecure") return { kind: "insecure", method: redact(outcome.method, [password]) };
  return { ...outcome, message: redact(outcome.message, [password]) };
}

function asProbeError(err: unknown, context: string, password: string): PostgresError {
  const raw = err instanceof Error ? err.message : String(err);
  const reason = redact(raw, [password]);
  const code = err instanceof PostgresError ? err.code : (err as { code?: unknown } | undefined)?.code;
  return new PostgresError(err instanceof PostgresError ? err.kind : "Unavailable", `${redact(context, [password])}: ${reason}`, {
    ...(typeof code === "string" ? { code } : {}),
    // The original error stays as the cause only when it carried nothing secret.
    ...(reason === raw ? { cause: err } : {}),
  });
}

function validate(o: LoginProbeOptions): void {
  const problem =
    o.host === "" ? "host must not be empty"
    : !Number.isInteger(o.port) || o.port < 1 || o.port > 65535 ? "port must be an integer from 1 to 65535"
    : o.user === "" ? "user must not be empty"
    : !SSL_MODES.includes(o.sslMode) ? `unknown sslMode ${JSON.stringify(o.sslMode)}`
    : [o.connectTimeoutMs, o.timeoutMs].some((ms) => ms !== undefined && !(Number.isFinite(ms) && ms > 0)) ? "timeouts must be positive numbers"
    : [o.host, o.user, o.database, o.applicationName ?? ""].some((v) => v.includes("\0")) ? "host, user, database and application name must not contain NUL"
    : undefined;
  if (problem !== undefined) throw new PostgresError("InvalidSpec", `login probe: ${problem}`);
}
