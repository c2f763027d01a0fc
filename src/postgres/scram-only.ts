// node-postgres, held to SCRAM-SHA-256: every session the operator opens (admin pool, per-database
// clients, the data API's read-only sessions) sends a password only inside SCRAM, and only to a
// server that proves it knows the verifier.
import type { EventEmitter } from "node:events";
import pg from "pg";

/** What a server asked for instead of SCRAM-SHA-256 (cleartext, md5, trust, gss…), refused before anything was sent. */
export class InsecureAuthenticationError extends Error {
  /** The method asked for, in pg_hba.conf's words where there is one (password → "cleartext"). */
  readonly method: string;

  constructor(method: string) {
    super(`the server asked for ${method} authentication, and the operator sends a password only with SCRAM-SHA-256`);
    this.name = "InsecureAuthenticationError";
    this.method = method;
  }
}

/** Thrown out of the parser to stop reading a refused server's bytes (the rest of its packet included). */
class Refused extends Error {}

/** The SASL mechanisms a server may offer that are SCRAM-SHA-256 (with channel binding or not). */
const SCRAM_MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"];

type Stream = EventEmitter & { destroy?: () => void };

/**
 * The part of node-postgres 8's Client this class takes over: the handlers `_attachListeners`
 * binds by name to the protocol's messages (pinned by test/unit/postgres/scram-only.test.ts).
 */
interface ClientInternals {
  connection: EventEmitter & { stream: Stream; attachListeners(stream: Stream): void };
  saslSession: unknown;
  _attachListeners(con: EventEmitter): void;
  _handleAuthSASL(msg: { mechanisms: string[] }): void;
  _handleAuthSASLFinal(msg: { data: string }): void;
  _handleReadyForQuery(msg: unknown): void;
  _handleErrorWhileConnecting(err: unknown): void;
}

const base = pg.Client.prototype as unknown as ClientInternals;

/**
 * A pg Client that refuses a cleartext or MD5 password request (the password is never sent), any
 * SASL exchange but SCRAM-SHA-256, and a session the server let in without SCRAM completing with a
 * server signature that matches (`trust`, or a forged AuthenticationOk): the connection fails with an
 * InsecureAuthenticationError, the server's remaining bytes are not read, and the socket is closed.
 * Any failure while connecting closes the socket (a hostile server cannot pile up open ones). With
 * TLS, SCRAM-SHA-256-PLUS (channel binding) is used when the server offers it. Errors of a connected
 * client reach its pending queries (and the pool), never the process as an unhandled 'error'. Use it
 * as `new ScramOnlyClient(config)` or `new pg.Pool({ Client: ScramOnlyClient })`.
 */
export class ScramOnlyClient extends pg.Client {
  #serverVerified = false;
  #refused = false;

  constructor(config: pg.ClientConfig = {}) {
    // The config is passed as it is: pg.Pool hands clients a config whose password is not enumerable.
    super(config);
    (this as unknown as { enableChannelBinding: boolean }).enableChannelBinding = config.ssl !== undefined && config.ssl !== false;
    guardParser(this.#internals.connection);
    // A connection that drops mid-query fails that query (pg's _errorAllQueries); the 'error' event
    // it also emits must not end the process when nobody else listens (a client checked out of a pool).
    this.on("error", () => undefined);
  }

  get #internals(): ClientInternals {
    return this as unknown as ClientInternals;
  }

  /** The password method: refused, nothing sent. */
  _handleAuthCleartextPassword(): void {
    this.#refuse("cleartext (password)");
  }

  /** MD5: refused, no hash of the password sent. */
  _handleAuthMD5Password(): void {
    this.#refuse("md5");
  }

  _handleAuthSASL(msg: { mechanisms: string[] }): void {
    if (!msg.mechanisms.some((m) => SCRAM_MECHANISMS.includes(m))) {
      this.#refuse(`SASL ${msg.mechanisms.join(", ") || "without mechanisms"}`);
      return;
    }
    base._handleAuthSASL.call(this, msg);
  }

  _handleAuthSASLFinal(msg: { data: string }): void {
    base._handleAuthSASLFinal.call(this, msg);
    // pg clears the session only when the server's signature matched (else it emitted an error).
    if (this.#internals.saslSession === null) this.#serverVerified = true;
  }

  _handleReadyForQuery(msg: unknown): void {
    if (this.#refused) return;
    base._handleReadyForQuery.call(this, msg);
  }

  /** Any failure while connecting (pg's own SCRAM checks included) closes the socket too. */
  _handleErrorWhileConnecting(err: unknown): void {
    base._handleErrorWhileConnecting.call(this, err);
    this.#internals.connection.stream.destroy?.();
  }

  _attachListeners(con: EventEmitter): void {
    base._attachListeners.call(this, con);
    con.on("authenticationOk", () => {
      if (!this.#serverVerified) this.#refuse("trust (no password checked, the server not verified)");
    });
  }

  #refuse(method: string): never {
    this.#refused = true;
    const connection = this.#internals.connection;
    connection.emit("error", new InsecureAuthenticationError(method));
    connection.stream.destroy?.();
    // Out of the parser (see guardParser): the rest of this packet is not read.
    throw new Refused(method);
  }
}

/**
 * node-postgres parses the server's bytes inside the socket's 'data' listener, and throws from there
 * on a message it does not know (an authentication request for GSS, SSPI, Kerberos…): an uncaught
 * exception that would end the process. Around that listener only, a throw becomes the connection's
 * error and closes it; a refusal (already reported) only stops the parsing.
 */
function guardParser(connection: ClientInternals["connection"]): void {
  const attach = connection.attachListeners.bind(connection);
  connection.attachListeners = (stream: Stream) => {
    const own = Object.getOwnPropertyDescriptor(stream, "on");
    const on = stream.on.bind(stream);
    stream.on = (event: string | symbol, listener: (...args: unknown[]) => void) => {
      if (event !== "data") return on(event, listener);
      return on(event, (...args: unknown[]) => {
        try {
          listener(...args);
        } catch (err) {
          if (!(err instanceof Refused)) connection.emit("error", err);
          stream.destroy?.();
        }
      });
    };
    try {
      attach(stream);
    } finally {
      if (own === undefined) delete (stream as { on?: unknown }).on;
      else Object.defineProperty(stream, "on", own);
    }
  };
}
