// The login probe's connection: TCP, the TLS upgrade with libpq's sslmode meaning, timeouts and a clean close.
import net from "node:net";
import tls from "node:tls";
import { PostgresError, tlsFailure } from "./errors.ts";
import { MessageReader } from "./wire-reader.ts";
import { protocolViolation } from "./wire.ts";

/** libpq's sslmode values. */
export type ProbeSslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

/** What an sslmode asks of the connection. */
export interface TlsPolicy {
  /** Send SSLRequest at all. */
  request: boolean;
  /** Fail when the server answers 'N'. */
  required: boolean;
  /** Verify the certificate chain (against `ca`, or Node.js's default CAs when `ca` is undefined). */
  verifyChain: boolean;
  /** Also check the certificate against the host name. */
  verifyHost: boolean;
  ca: string | undefined;
  /** The sslmode the policy comes from (for messages). */
  sslMode: ProbeSslMode;
}

/**
 * libpq's meaning of `sslMode`: disable/allow → plaintext; prefer → TLS when offered; require → TLS;
 * prefer/require verify the chain only when `ca` is given; verify-ca always verifies the chain;
 * verify-full also the host name.
 */
export function tlsPolicy(sslMode: ProbeSslMode, ca: string | undefined): TlsPolicy {
  switch (sslMode) {
    case "disable":
    case "allow":
      return { request: false, required: false, verifyChain: false, verifyHost: false, ca, sslMode };
    case "prefer":
    case "require":
      return { request: true, required: sslMode === "require", verifyChain: ca !== undefined, verifyHost: false, ca, sslMode };
    case "verify-ca":
    case "verify-full":
      return { request: true, required: true, verifyChain: true, verifyHost: sslMode === "verify-full", ca, sslMode };
  }
}

function codeOf(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function tlsError(err: Error, host: string, sslMode: string, caSource: string | undefined): PostgresError {
  return tlsFailure(err, { host, sslMode, caSource }) ?? new PostgresError("Unavailable", `TLS: ${err.message}`, { cause: err, ...(codeOf(err) === undefined ? {} : { code: codeOf(err) }) });
}

function networkError(err: Error): PostgresError {
  const code = codeOf(err);
  return new PostgresError("Unavailable", err.message || (code ?? "network error"), { cause: err, ...(code === undefined ? {} : { code }) });
}

/** One connection to a server; every failure (socket error, timeout, abort) becomes a PostgresError Unavailable. */
export class ProbeTransport {
  /** The server's bytes, as messages. */
  readonly reader = new MessageReader();
  readonly #raw: net.Socket;
  #stream: net.Socket | tls.TLSSocket;
  #failure: Error | undefined;
  readonly #abortListeners = new Set<(err: Error) => void>();
  readonly #onData = (chunk: Buffer): void => this.reader.push(chunk);

  /** Starts connecting to `host`:`port` at once; await `connected()`. */
  constructor(host: string, port: number) {
    this.#raw = net.connect({ host, port });
    this.#stream = this.#raw;
    this.#raw.setNoDelay(true);
    this.#raw.on("data", this.#onData);
    this.#raw.on("error", (err) => this.abort(networkError(err)));
    this.#raw.on("close", () => this.reader.close());
  }

  /** Waits for the TCP connection; Unavailable on failure or after `timeoutMs`. */
  async connected(timeoutMs: number): Promise<void> {
    const raw = this.#raw;
    if (!raw.connecting && this.#failure === undefined) return;
    await this.#wait((done) => {
      raw.once("connect", done);
      return () => raw.off("connect", done);
    }, timeoutMs, `could not connect within ${timeoutMs} ms`);
  }

  /** Upgrades to TLS after the server answered 'S'; bytes already received before the handshake are a protocol violation. */
  async startTls(policy: TlsPolicy, host: string, timeoutMs: number): Promise<void> {
    if (this.reader.buffered > 0) throw protocolViolation("server sent data after accepting SSLRequest, before the TLS handshake");
    this.#raw.off("data", this.#onData);
    const secure = tls.connect({
      socket: this.#raw,
      host,
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      ...(policy.ca === undefined ? {} : { ca: policy.ca }),
      rejectUnauthorized: policy.verifyChain,
      checkServerIdentity: policy.verifyHost ? tls.checkServerIdentity : () => undefined,
      minVersion: "TLSv1.2",
    });
    this.#stream = secure;
    secure.on("data", this.#onData);
    secure.on("error", (err: Error) => this.abort(tlsError(err, host, policy.sslMode, policy.ca === undefined ? undefined : "tls.caSecretRef")));
    secure.on("close", () => this.reader.close());
    await this.#wait((done) => {
      secure.once("secureConnect", done);
      return () => secure.off("secureConnect", done);
    }, timeoutMs, `TLS handshake did not finish within ${timeoutMs} ms`);
  }

  /**
   * The server's certificate (DER) once TLS is up, for SCRAM's tls-server-end-point channel binding;
   * undefined on a plaintext connection.
   */
  serverCertificate(): Buffer | undefined {
    if (!(this.#stream instanceof tls.TLSSocket)) return undefined;
    return this.#stream.getPeerX509Certificate()?.raw;
  }

  /** Sends bytes; throws the failure when the connection already failed. */
  write(data: Buffer): void {
    if (this.#failure !== undefined) throw this.#failure;
    this.#stream.write(data);
  }

  /** Fails every pending and later operation with `err` and destroys the connection at once. */
  abort(err: Error): void {
    this.#failure ??= err;
    this.reader.fail(this.#failure);
    for (const listener of this.#abortListeners) listener(this.#failure);
    this.#stream.destroy();
    this.#raw.destroy();
  }

  /**
   * Ends the connection: writes `last` (e.g. Terminate) if given and the connection is healthy, half-closes,
   * waits up to `graceMs` for the server to close, then destroys the socket whatever happened.
   */
  async close(last: Buffer | undefined, graceMs = 1_000): Promise<void> {
    const stream = this.#stream;
    if (this.#failure === undefined && !stream.destroyed && stream.writable) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        stream.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        if (last === undefined) stream.end();
        else stream.end(last);
      });
    }
    stream.destroy();
    this.#raw.destroy();
  }

  async #wait(arm: (done: () => void) => () => void, timeoutMs: number, timeoutMessage: string): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    let disarm: (() => void) | undefined;
    let onAbort: ((err: Error) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onAbort = reject;
        this.#abortListeners.add(reject);
        disarm = arm(resolve);
        timer = setTimeout(() => this.abort(new PostgresError("Unavailable", timeoutMessage, { code: "ETIMEDOUT" })), timeoutMs);
      });
    } finally {
      clearTimeout(timer);
      disarm?.();
      if (onAbort !== undefined) this.#abortListeners.delete(onAbort);
    }
  }
}
