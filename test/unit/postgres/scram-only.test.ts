// The SCRAM-only node-postgres client against fake servers: nothing derived from a password reaches a server that asks for another method.
import { expect } from "chai";
import { createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { classifyPgError } from "../../../src/postgres/errors.ts";
import { InsecureAuthenticationError, ScramOnlyClient } from "../../../src/postgres/scram-only.ts";
import { fakeServer as scriptedServer, ScramServer, type FakeConnection } from "./fake-postgres.ts";
import { makeTestCerts } from "./test-certs.ts";

const PASSWORD = "correct-horse-battery-staple";

/** A fake server that answers the startup message with one authentication request and records what the client sends. */
async function requestingServer(request: Buffer): Promise<{ server: Server; port: number; received: () => Buffer; closed: () => boolean }> {
  const chunks: Buffer[] = [];
  let closed = false;
  const server = createServer((socket: Socket) => {
    socket.once("close", () => (closed = true));
    let startup = false;
    socket.on("data", (data: Buffer) => {
      chunks.push(data);
      if (!startup) {
        startup = true;
        socket.write(request);
      }
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address !== null ? address.port : 0, received: () => Buffer.concat(chunks), closed: () => closed };
}

/** An AuthenticationRequest message ('R') with `code` and extra bytes. */
function authRequest(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), extra]);
  body.writeInt32BE(code, 0);
  const head = Buffer.alloc(5);
  head.write("R", 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** Connects a ScramOnlyClient to 127.0.0.1:`port`; resolves with the error, or undefined once connected. */
async function connectTo(port: number, ssl: pg.ClientConfig["ssl"] = false): Promise<unknown> {
  const client = new ScramOnlyClient({ host: "127.0.0.1", port, user: "alice", password: PASSWORD, database: "db", ssl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe("postgres/scram-only: the operator's node-postgres client", () => {
  it("still finds the node-postgres internals it overrides (pg's Client binds these handlers by name)", () => {
    const proto = pg.Client.prototype as unknown as Record<string, unknown>;
    for (const name of ["_attachListeners", "_handleAuthCleartextPassword", "_handleAuthMD5Password", "_handleAuthSASL", "_handleAuthSASLFinal", "_handleReadyForQuery", "_handleErrorWhileConnecting"]) {
      expect(typeof proto[name], name).to.equal("function");
    }
  });

  const cases: Array<[string, Buffer, string]> = [
    ["cleartext (pg_hba password)", authRequest(3), "cleartext"],
    ["md5", authRequest(5, Buffer.from([1, 2, 3, 4])), "md5"],
    ["trust (AuthenticationOk at once)", authRequest(0), "trust"],
    // As a real trust server sends it: AuthenticationOk and ReadyForQuery in one packet.
    ["trust, with ReadyForQuery in the same packet", Buffer.concat([authRequest(0), Buffer.from([0x5a, 0, 0, 0, 5, 0x49])]), "trust"],
    ["gss", authRequest(7), "gss"],
    ["SASL without SCRAM-SHA-256", authRequest(10, Buffer.from("OAUTHBEARER\0\0")), "SASL OAUTHBEARER"],
  ];
  for (const [what, request, method] of cases) {
    it(`refuses ${what}, sending nothing derived from the password`, async () => {
      const fake = await requestingServer(request);
      try {
        const err = await connectTo(fake.port);
        expect(err, "the connection fails").to.be.instanceOf(Error);
        const classified = classifyPgError(err, "connecting", [PASSWORD]);
        expect(classified.kind).to.equal("InsecureAuthentication");
        expect(classified.message).to.contain(method);
        expect(classified.message).to.contain("SET password_encryption = 'scram-sha-256'");
        if (err instanceof InsecureAuthenticationError) expect(err.method).to.contain(method.split(" ")[0]!);
        // Give a misbehaving client time to answer, then look at everything it sent.
        await new Promise((r) => setTimeout(r, 100));
        const sent = fake.received();
        expect(sent.includes(Buffer.from(PASSWORD)), "the password").to.equal(false);
        // After the startup message (no type byte) nothing but Terminate ('X') may follow.
        const startupLength = sent.readInt32BE(0);
        const rest = sent.subarray(startupLength);
        expect(rest.length === 0 || rest[0] === 0x58, `no PasswordMessage or SASL response (sent ${rest.subarray(0, 1).toString()})`).to.equal(true);
        expect(fake.closed(), "the client closed the connection").to.equal(true);
      } finally {
        fake.server.close();
      }
    });
  }

  describe("SCRAM against a fake server (the server side as PostgreSQL runs it)", () => {
    /** Plain, or TLS first (then the fake offers -PLUS and insists the client binds the channel). */
    function script(tls: { key: string; cert: string } | undefined, badSignature = false) {
      return async (conn: FakeConnection): Promise<void> => {
        if (tls !== undefined) {
          const request = await conn.readStartup();
          if (request.code !== 80877103) throw new Error("expected SSLRequest");
          conn.upgrade(tls.key, tls.cert);
        }
        await conn.readStartupMessage();
        const result = await new ScramServer(PASSWORD).exchange(conn, { badSignature });
        if (result !== "ok") return;
        conn.auth(0);
        conn.ready();
        await conn.readMessage();
      };
    }

    it("logs in with SCRAM-SHA-256 in plaintext, and with SCRAM-SHA-256-PLUS (channel binding) over TLS", async () => {
      const certs = await makeTestCerts();
      const plain = await scriptedServer(script(undefined));
      const tls = await scriptedServer(script({ key: certs.key, cert: certs.cert }));
      try {
        expect(await connectTo(plain.port)).to.equal(undefined);
        expect(await connectTo(tls.port, { rejectUnauthorized: false })).to.equal(undefined);
        expect([...plain.scriptErrors, ...tls.scriptErrors]).to.deep.equal([]);
      } finally {
        await plain.close();
        await tls.close();
      }
    });

    it("refuses a server that cannot prove it knows the verifier (wrong server signature), and closes the connection", async () => {
      const server = await scriptedServer(script(undefined, true));
      try {
        const err = await connectTo(server.port);
        expect(err).to.be.instanceOf(Error);
        expect((err as Error).message).to.match(/server signature does not match/);
        await Promise.race([server.connections[0]!.closed, new Promise((_, reject) => setTimeout(() => reject(new Error("the connection stayed open")), 2_000))]);
      } finally {
        await server.close();
      }
    });
  });

  it("a connection that drops in the middle of a query fails the query, not the process", async () => {
    const server = await scriptedServer(async (conn) => {
      await conn.readStartupMessage();
      if ((await new ScramServer(PASSWORD).exchange(conn)) !== "ok") return;
      conn.auth(0);
      conn.ready();
      await conn.readMessage(); // the query
      conn.send(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 7])); // an authentication request (GSS) where none belongs
    });
    const client = new ScramOnlyClient({ host: "127.0.0.1", port: server.port, user: "alice", password: PASSWORD, database: "db", connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      const failure = await client.query("SELECT 1").then(() => undefined, (err: unknown) => err);
      expect(failure).to.be.instanceOf(Error);
    } finally {
      await client.end().catch(() => undefined);
      await server.close();
    }
  });
});
