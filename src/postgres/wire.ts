// PostgreSQL frontend/backend protocol 3.0: the few messages a login needs, encoded and decoded.
import { PostgresError } from "./errors.ts";

/** Protocol version 3.0 as the StartupMessage carries it. */
export const PROTOCOL_VERSION_3_0 = 196608;

/** The request code of SSLRequest. */
export const SSL_REQUEST_CODE = 80877103;

/** Largest backend message accepted, in bytes (authentication messages are tiny). */
export const MAX_BACKEND_MESSAGE_BYTES = 1 << 20;

/** Authentication request codes (the Int32 after an 'R' message's length). */
export const AUTH = {
  ok: 0,
  kerberosV5: 2,
  cleartextPassword: 3,
  md5Password: 5,
  scmCredential: 6,
  gss: 7,
  gssContinue: 8,
  sspi: 9,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;

/** One backend message: its type byte as a character and its body (after the length word). */
export interface BackendMessage {
  type: string;
  body: Buffer;
}

/** The fields of an ErrorResponse or NoticeResponse the probe uses ("" when absent). */
export interface ErrorFields {
  severity: string;
  code: string;
  message: string;
}

/** A PostgresError (Unavailable, SQLSTATE 08P01) for a server that broke the protocol. */
export function protocolViolation(reason: string): PostgresError {
  return new PostgresError("Unavailable", `protocol violation: ${reason}`, { code: "08P01" });
}

/** SSLRequest: length 8 and the magic code. */
export function sslRequest(): Buffer {
  const out = Buffer.alloc(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST_CODE, 4);
  return out;
}

/** StartupMessage for protocol 3.0 with the given parameters; throws on a NUL in a name or value. */
export function startupMessage(parameters: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(parameters)) {
    if (name.includes("\0") || value.includes("\0")) throw new PostgresError("InvalidSpec", `startup parameter ${name} must not contain NUL`);
    parts.push(Buffer.from(`${name}\0${value}\0`, "utf8"));
  }
  parts.push(Buffer.from([0]));
  const payload = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + payload.length, 0);
  head.writeInt32BE(PROTOCOL_VERSION_3_0, 4);
  return Buffer.concat([head, payload]);
}

/** SASLInitialResponse ('p'): mechanism name and the client-first-message. */
export function saslInitialResponse(mechanism: string, data: Buffer): Buffer {
  const name = Buffer.from(`${mechanism}\0`, "utf8");
  const length = Buffer.alloc(4);
  length.writeInt32BE(data.length, 0);
  return frontendMessage("p", Buffer.concat([name, length, data]));
}

/** SASLResponse ('p'): the client-final-message. */
export function saslResponse(data: Buffer): Buffer {
  return frontendMessage("p", data);
}

/** Terminate ('X'). */
export function terminate(): Buffer {
  return frontendMessage("X", Buffer.alloc(0));
}

function frontendMessage(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits an 'R' message body into its request code and the data after it; throws if shorter than 4 bytes. */
export function parseAuthentication(body: Buffer): { code: number; data: Buffer } {
  if (body.length < 4) throw protocolViolation("authentication request too short");
  return { code: body.readInt32BE(0), data: body.subarray(4) };
}

/** The mechanism names of AuthenticationSASL: NUL-terminated strings ending with an empty one. */
export function parseSaslMechanisms(data: Buffer): string[] {
  const names: string[] = [];
  let offset = 0;
  for (;;) {
    const end = data.indexOf(0, offset);
    if (end < 0) throw protocolViolation("unterminated SASL mechanism list");
    if (end === offset) return names;
    names.push(data.toString("utf8", offset, end));
    offset = end + 1;
  }
}

/** Severity (S, or V when S is missing), SQLSTATE (C) and message (M) of an ErrorResponse/NoticeResponse body. */
export function parseErrorFields(body: Buffer): ErrorFields {
  const fields = new Map<string, string>();
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const end = body.indexOf(0, offset + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(body[offset]!), body.toString("utf8", offset + 1, end));
    offset = end + 1;
  }
  return { severity: fields.get("S") ?? fields.get("V") ?? "", code: fields.get("C") ?? "", message: fields.get("M") ?? "" };
}
