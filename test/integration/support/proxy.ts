// A loopback TCP proxy that records what clients send to a PostgreSQL server, per connection: proof
// that nothing derived from a password crossed it.
import { createServer, connect, type Server, type Socket } from "node:net";

/** A loopback TCP proxy in front of a PostgreSQL server that records what clients send, per connection. */
export class RecordingProxy {
  readonly connections: Buffer[][] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(targetHost: string, targetPort: number) {
    this.#server = createServer((client) => {
      const sent: Buffer[] = [];
      this.connections.push(sent);
      const upstream = connect(targetPort, targetHost);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => this.#sockets.delete(s));
      }
      client.on("data", (chunk: Buffer) => {
        sent.push(chunk);
        upstream.write(chunk);
      });
      upstream.on("data", (chunk: Buffer) => client.write(chunk));
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  /** Listens on loopback: on `port` (one a closed proxy used, to bring a server back), else on any free one. */
  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(port, "127.0.0.1", resolve));
    const address = this.#server.address();
    this.port = typeof address === "object" && address !== null ? address.port : 0;
  }

  /** The frontend messages of every connection since index `from` whose StartupMessage names `user`: type letters in order. */
  messagesOf(user: string, from: number): string[][] {
    const out: string[][] = [];
    for (const chunks of this.connections.slice(from)) {
      const bytes = Buffer.concat(chunks);
      if (bytes.length < 8) continue;
      const startupLength = bytes.readInt32BE(0);
      const params = bytes.subarray(8, startupLength).toString("utf8").split("\0");
      const userIndex = params.indexOf("user");
      if (userIndex < 0 || params[userIndex + 1] !== user) continue;
      const types: string[] = [];
      for (let at = startupLength; at + 5 <= bytes.length; at += 1 + bytes.readInt32BE(at + 1)) types.push(String.fromCharCode(bytes[at]!));
      out.push(types);
    }
    return out;
  }

  everything(from: number): Buffer {
    return Buffer.concat(this.connections.slice(from).flat());
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
