// The client side of SCRAM-SHA-256 (RFC 5802/7677) as libpq speaks it: messages, proof, server signature check.
import { X509Certificate, createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { saslPrep } from "./saslprep.ts";
import { scramKeys } from "./scram.ts";
import { protocolViolation } from "./wire.ts";

const pbkdf2Async = promisify(pbkdf2);

/** GS2 header "no channel binding" (`n,,`): plaintext, or a certificate whose binding hash is unknown. */
export const GS2_HEADER = "n,,";

/**
 * GS2 header "the client could bind, the server did not offer it" (`y,,`): over TLS when the server
 * lists no -PLUS. A server that does support binding then refuses the exchange, so a man in the
 * middle who strips SCRAM-SHA-256-PLUS from the list cannot relay an unbound one (RFC 5802 §6).
 */
export const GS2_HEADER_NOT_OFFERED = "y,,";

/** GS2 header of SCRAM-SHA-256-PLUS with the tls-server-end-point binding (RFC 5929), as libpq sends it. */
export const GS2_HEADER_PLUS = "p=tls-server-end-point,,";

/**
 * The tls-server-end-point channel binding data of a server certificate (DER): its hash with the
 * hash function of its signature algorithm, SHA-256 where that is MD5 or SHA-1 (RFC 5929 §4.1); undefined
 * when the algorithm does not name its hash (RSA-PSS, EdDSA, anything unknown).
 */
export function serverEndPoint(certificate: Buffer): Buffer | undefined {
  const algorithm = (new X509Certificate(certificate).signatureAlgorithm ?? "").toLowerCase().replaceAll("-", "");
  if (algorithm.includes("pss")) return undefined;
  const hash = ["sha512", "sha384", "sha256", "sha224"].find((h) => algorithm.includes(h)) ??
    (algorithm.includes("sha1") || algorithm.includes("md5") ? "sha256" : undefined);
  return hash === undefined ? undefined : createHash(hash).update(certificate).digest();
}

/** The most PBKDF2 iterations a server may ask for before the client refuses (PostgreSQL's default is 4096). */
export const MAX_SCRAM_ITERATIONS = 100_000;

/** The client-first-message: its full text (sent) and bare part (part of AuthMessage), and the client nonce. */
export interface ClientFirst {
  nonce: string;
  bare: string;
  message: string;
  /** The GS2 header and channel binding data the client-final-message's `c=` repeats. */
  binding: Buffer;
}

/** What the server-first-message says. `text` is the message as received (part of AuthMessage). */
export interface ServerFirst {
  text: string;
  nonce: string;
  salt: Buffer;
  iterations: number;
}

/** The client-final-message to send, and the ServerSignature the server must answer with. */
export interface ClientFinal {
  message: string;
  serverSignature: Buffer;
}

/** How the exchange relates to the connection's TLS channel (see the GS2 headers above). */
export type ChannelBinding =
  | { kind: "none" }
  | { kind: "not-offered" }
  | { kind: "tls-server-end-point"; data: Buffer };

/**
 * The client-first-message with an empty user name (PostgreSQL takes the user from the startup
 * message, as libpq does) and a fresh 18-byte random nonce unless `nonce` is given (tests), with the
 * GS2 header of `binding` (SCRAM-SHA-256-PLUS for tls-server-end-point).
 */
export function clientFirst(nonce: string = randomBytes(18).toString("base64"), binding: ChannelBinding = { kind: "none" }): ClientFirst {
  const bare = `n=,r=${nonce}`;
  const header = binding.kind === "tls-server-end-point" ? GS2_HEADER_PLUS : binding.kind === "not-offered" ? GS2_HEADER_NOT_OFFERED : GS2_HEADER;
  const data = binding.kind === "tls-server-end-point" ? Buffer.concat([Buffer.from(header), binding.data]) : Buffer.from(header);
  return { nonce, bare, message: `${header}${bare}`, binding: data };
}

/**
 * Parses a server-first-message `r=<nonce>,s=<salt>,i=<iterations>[,…]`; throws a protocol violation
 * when a mandatory extension is present, the nonce does not extend the client's, the salt is not
 * base64 or empty, or the iteration count is not an integer in 1..maxIterations.
 */
export function parseServerFirst(text: string, clientNonce: string, maxIterations = MAX_SCRAM_ITERATIONS): ServerFirst {
  const [r, s, i] = text.split(",");
  if (text.startsWith("m=")) throw protocolViolation("server-first-message has an unsupported mandatory extension");
  if (r === undefined || s === undefined || i === undefined || !r.startsWith("r=") || !s.startsWith("s=") || !i.startsWith("i=")) {
    throw protocolViolation("malformed server-first-message");
  }
  const nonce = r.slice(2);
  if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length || !/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce)) {
    throw protocolViolation("server nonce does not extend the client nonce");
  }
  const saltText = s.slice(2);
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(saltText) || saltText === "") {
    throw protocolViolation("server salt is not base64");
  }
  const iterationText = i.slice(2);
  const iterations = Number(iterationText);
  if (!/^[1-9][0-9]{0,9}$/.test(iterationText) || iterations > maxIterations) {
    throw protocolViolation(`server asked for ${JSON.stringify(iterationText.slice(0, 12))} iterations, allowed are 1 to ${maxIterations}`);
  }
  return { text, nonce, salt: Buffer.from(saltText, "base64"), iterations };
}

/**
 * Computes the client-final-message (`c=biws,r=<nonce>,p=<ClientProof>`) from SASLprep(`password`)
 * with the asynchronous PBKDF2 (the event loop stays free), and the ServerSignature to expect.
 */
export async function clientFinal(password: string, first: ClientFirst, server: ServerFirst): Promise<ClientFinal> {
  const salted = await pbkdf2Async(Buffer.from(saslPrep(password), "utf8"), server.salt, server.iterations, 32, "sha256");
  const { clientKey, storedKey, serverKey } = scramKeys(salted);
  const withoutProof = `c=${first.binding.toString("base64")},r=${server.nonce}`;
  const authMessage = `${first.bare},${server.text},${withoutProof}`;
  const clientSignature = createHmac("sha256", storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let k = 0; k < proof.length; k++) proof[k] = clientKey[k]! ^ clientSignature[k]!;
  const serverSignature = createHmac("sha256", serverKey).update(authMessage).digest();
  return { message: `${withoutProof},p=${proof.toString("base64")}`, serverSignature };
}

/** True when the server-final-message is `v=<ServerSignature>` with exactly the expected signature. */
export function serverFinalMatches(text: string, expected: Buffer): boolean {
  const v = text.split(",")[0] ?? "";
  if (!v.startsWith("v=")) return false;
  const got = Buffer.from(v.slice(2), "base64");
  return got.length === expected.length && got.toString("base64") === v.slice(2) && timingSafeEqual(got, expected);
}
