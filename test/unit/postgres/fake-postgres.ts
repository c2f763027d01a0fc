// A scripted fake PostgreSQL server on 127.0.0.1 for the login probe's unit tests: framing, SCRAM server side, TLS.
import { X509Certificate, createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { saslPrep } from "../../../src/postgres/saslprep.ts";
import { scramKeys } from "../../../src/postgres/scram.ts";

/** One accepted connection, driven by a test's script. */
export class FakeConnection {
  /** Every byte the client sent (decrypted when TLS is on), in order. */
  received = Buffer.alloc(0);
  /** Offset in `received` just after the StartupMessage (undefined before it). */
  startupEnd: number | undefined;
  /** Resolves when the client's socket closed. */
  readonly closed: Promise<void>;
  #stream: net.Socket | tls.TLSSocket;
  #pending = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(socket: net.Socket) {
    this.#stream = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.#listen(socket);
  }

  /** The bytes the client sent after its StartupMessage. */
  afterStartup(): Buffer {
    return this.received.subarray(this.startupEnd ?? this.received.length);
  }

  /** Reads an untyped message (SSLRequest or StartupMessage): its code and the rest. */
  async readStartup(): Promise<{ code: number; body: Buffer }> {
    const head = await this.#take(8);
    const length = head.readInt32BE(0);
    const body = await this.#take(length - 8);
    const code = head.readInt32BE(4);
    if (code !== 80877103) this.startupEnd = this.received.length - this.#pending.length;
    return { code, body };
  }

  /** Reads the StartupMessage and its parameters, answering 'N' to an SSLRequest before it. */
  async readStartupMessage(): Promise<Map<string, string>> {
    let message = await this.readStartup();
    if (message.code === 80877103) {
      this.send(Buffer.from("N"));
      message = await this.readStartup();
    }
    const parts = message.body.toString("utf8").split("\0");
    const params = new Map<string, string>();
    for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] !== "") params.set(parts[i]!, parts[i + 1]!);
    return params;
  }

  /** Reads a typed frontend message. */
  async readMessage(): Promise<{ type: string; body: Buffer }> {
    const head = await this.#take(5);
    return { type: String.fromCharCode(head[0]!), body: await this.#take(head.readInt32BE(1) - 4) };
  }

  /** The certificate this connection serves TLS with (PEM), once upgraded. */
  certificate: string | undefined;

  /** Answers 'S' and turns this connection into a TLS server with the given key and certificate. */
  upgrade(key: string, cert: string): void {
    this.certificate = cert;
    this.#stream.removeAllListeners("data");
    this.send(Buffer.from("S"));
    const secure = new tls.TLSSocket(this.#stream, { isServer: true, key, cert });
    secure.on("error", () => undefined);
    this.#stream = secure;
    this.#listen(secure);
  }

  /** Writes raw bytes. */
  send(data: Buffer): void {
    if (!this.#stream.destroyed) this.#stream.write(data);
  }

  /** Sends a backend message. */
  message(type: string, body: Buffer = Buffer.alloc(0)): void {
    const head = Buffer.alloc(5);
    head.write(type, 0, "latin1");
    head.writeInt32BE(body.length + 4, 1);
    this.send(Buffer.concat([head, body]));
  }

  /** Sends an authentication request with its data. */
  auth(code: number, data: Buffer = Buffer.alloc(0)): void {
    const head = Buffer.alloc(4);
    head.writeInt32BE(code, 0);
    this.message("R", Buffer.concat([head, data]));
  }

  /** Sends ErrorResponse FATAL with SQLSTATE `code` and `text`, then closes, as PostgreSQL does. */
  fatal(code: string, text: string): void {
    this.message("E", Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${text}\0\0`, "utf8"));
    this.#stream.end();
  }

  /** Sends what follows AuthenticationOk on a successful login: ParameterStatus, BackendKeyData, ReadyForQuery. */
  ready(): void {
    this.message("S", Buffer.from("server_version\x0015.0\0", "utf8"));
    this.message("K", Buffer.alloc(8, 1));
    this.message("Z", Buffer.from("I"));
  }

  /** Closes the connection from the server side. */
  end(): void {
    this.#stream.end();
  }

  #listen(stream: net.Socket | tls.TLSSocket): void {
    stream.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.#pending = Buffer.concat([this.#pending, chunk]);
      this.#notify();
    });
    stream.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    stream.on("error", () => undefined);
  }

  async #take(bytes: number): Promise<Buffer> {
    while (this.#pending.length < bytes) {
      if (this.#ended) throw new Error("client closed the connection");
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    const out = this.#pending.subarray(0, bytes);
    this.#pending = this.#pending.subarray(bytes);
    return out;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** A listening fake server: its port, the connections it accepted, and close(). */
export interface FakeServer {
  port: number;
  connections: FakeConnection[];
  /** Errors thrown by scripts (a failing script fails the test through this list). */
  scriptErrors: unknown[];
  close(): Promise<void>;
}

/** Starts a fake server on 127.0.0.1 that runs `script` for every connection. */
export async function fakeServer(script: (conn: FakeConnection) => Promise<void>): Promise<FakeServer> {
  const connections: FakeConnection[] = [];
  const scriptErrors: unknown[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const conn = new FakeConnection(socket);
    connections.push(conn);
    script(conn).catch((err: unknown) => {
      if (!(err instanceof Error && err.message === "client closed the connection")) scriptErrors.push(err);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    scriptErrors,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The server side of SCRAM-SHA-256 for one password: what PostgreSQL does with a stored verifier. */
export class ScramServer {
  readonly salt = randomBytes(16);
  readonly iterations: number;
  readonly #storedKey: Buffer;
  readonly #serverKey: Buffer;

  constructor(password: string, iterations = 4096) {
    this.iterations = iterations;
    const keys = scramKeys(pbkdf2Sync(Buffer.from(saslPrep(password), "utf8"), this.salt, iterations, 32, "sha256"));
    this.#storedKey = keys.storedKey;
    this.#serverKey = keys.serverKey;
  }

  /**
   * Runs the exchange on `conn` after the StartupMessage. Returns "ok" after sending SASLFinal (with
   * a wrong signature when `badSignature`), or "wrong" after sending FATAL 28P01.
   */
  async exchange(conn: FakeConnection, options: { badSignature?: boolean; offerPlus?: boolean; serverFirst?: (clientNonce: string) => string } = {}): Promise<"ok" | "wrong"> {
    // As PostgreSQL: -PLUS is offered over TLS only (unless `offerPlus: false`, a man in the middle
    // stripping it), and a client on TLS must take it, or say with `y` that it was not offered.
    const tls = conn.certificate !== undefined;
    const plus = tls && options.offerPlus !== false;
    conn.auth(10, Buffer.from(plus ? "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0" : "SCRAM-SHA-256\0\0"));
    const initial = await conn.readMessage();
    const nameEnd = initial.body.indexOf(0);
    const mechanism = initial.body.toString("utf8", 0, nameEnd);
    const expected = plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
    if (mechanism !== expected) throw new Error(`client chose ${mechanism}, not ${expected}`);
    const clientFirst = initial.body.subarray(nameEnd + 5).toString("utf8");
    const header = plus ? "p=tls-server-end-point,," : tls ? "y,," : "n,,";
    if (!clientFirst.startsWith(header)) throw new Error(`unexpected gs2 header in ${clientFirst}`);
    // The binding data: the hash of the server's certificate (SHA-256 for these test certificates).
    const binding = plus
      ? Buffer.concat([Buffer.from(header), createHash("sha256").update(new X509Certificate(conn.certificate!).raw).digest()])
      : Buffer.from(header);
    const clientFirstBare = clientFirst.slice(header.length);
    const clientNonce = /r=([^,]+)/.exec(clientFirstBare)![1]!;
    const nonce = clientNonce + randomBytes(18).toString("base64");
    const serverFirst = options.serverFirst?.(clientNonce) ?? `r=${nonce},s=${this.salt.toString("base64")},i=${this.iterations}`;
    conn.auth(11, Buffer.from(serverFirst));
    const final = (await conn.readMessage()).body.toString("utf8");
    const withoutProof = final.slice(0, final.lastIndexOf(",p="));
    const proof = Buffer.from(final.slice(final.lastIndexOf(",p=") + 3), "base64");
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = createHmac("sha256", this.#storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ clientSignature[i]!));
    const storedKey = createHash("sha256").update(clientKey).digest();
    if (withoutProof !== `c=${binding.toString("base64")},r=${nonce}` || !timingSafeEqual(storedKey, this.#storedKey)) {
      conn.fatal("28P01", "password authentication failed for user \"alice\"");
      return "wrong";
    }
    const signature = createHmac("sha256", this.#serverKey).update(authMessage).digest();
    if (options.badSignature) signature[0]! ^= 1;
    conn.auth(12, Buffer.from(`v=${signature.toString("base64")}`));
    return "ok";
  }
}
