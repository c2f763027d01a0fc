// Unit tests of the SCRAM-only login probe against a scripted fake PostgreSQL server on 127.0.0.1.
import net from "node:net";
import { expect } from "chai";
import { PostgresError } from "../../../src/postgres/errors.ts";
import { probeLogin, type LoginOutcome, type LoginProbeOptions } from "../../../src/postgres/login-probe.ts";
import { fakeServer, ScramServer, type FakeConnection, type FakeServer } from "./fake-postgres.ts";
import { makeTestCerts, type TestCerts } from "./test-certs.ts";

const PASSWORD = "correct horse battery staple";

describe("postgres/login-probe", function () {
  this.timeout(20_000);
  let servers: FakeServer[] = [];

  afterEach(async () => {
    const errors = servers.flatMap((s) => s.scriptErrors);
    for (const server of servers) await server.close();
    servers = [];
    expect(errors, "fake server script errors").to.deep.equal([]);
  });

  async function serve(script: (conn: FakeConnection) => Promise<void>): Promise<FakeServer> {
    const server = await fakeServer(script);
    servers.push(server);
    return server;
  }

  function options(server: FakeServer, extra: Partial<LoginProbeOptions> = {}): LoginProbeOptions {
    return { host: "127.0.0.1", port: server.port, database: "db", user: "alice", password: PASSWORD, sslMode: "disable", timeoutMs: 5_000, ...extra };
  }

  async function closed(conn: FakeConnection | undefined): Promise<void> {
    expect(conn, "the probe connected").to.not.equal(undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the probe left its connection open")), 3_000);
    });
    try {
      await Promise.race([conn!.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function probeFails(opts: LoginProbeOptions): Promise<PostgresError> {
    try {
      await probeLogin(opts);
    } catch (err) {
      expect(err).to.be.instanceOf(PostgresError);
      const error = err as PostgresError;
      expect(error.message).to.not.include(opts.password);
      expect(String(error.stack)).to.not.include(opts.password);
      return error;
    }
    throw new Error("expected the probe to fail");
  }

  /** A server that logs `password` in with SCRAM; `seen` collects what it observed. */
  function scramServer(password: string, seen: { terminate?: boolean; params?: Map<string, string> } = {}) {
    return async (conn: FakeConnection): Promise<void> => {
      seen.params = await conn.readStartupMessage();
      if ((await new ScramServer(password).exchange(conn)) === "wrong") return;
      conn.auth(0);
      conn.ready();
      seen.terminate = (await conn.readMessage()).type === "X";
    };
  }

  describe("refuses every method but SCRAM-SHA-256, sending nothing", () => {
    const cases: [string, (conn: FakeConnection) => void, string][] = [
      ["cleartext", (c) => c.auth(3), "cleartext"],
      ["MD5", (c) => c.auth(5, Buffer.from([1, 2, 3, 4])), "md5"],
      ["GSSAPI", (c) => c.auth(7), "gss"],
      ["SSPI", (c) => c.auth(9), "sspi"],
      ["trust (no password asked)", (c) => c.auth(0), "trust"],
      ["SASL with SCRAM-SHA-256-PLUS only", (c) => c.auth(10, Buffer.from("SCRAM-SHA-256-PLUS\0\0")), "SASL SCRAM-SHA-256-PLUS"],
      ["SASL with another mechanism", (c) => c.auth(10, Buffer.from("OAUTHBEARER\0\0")), "SASL OAUTHBEARER"],
    ];
    for (const [name, ask, method] of cases) {
      it(`${name} → insecure`, async () => {
        const server = await serve(async (conn) => {
          await conn.readStartupMessage();
          ask(conn);
          await conn.closed;
        });
        const outcome = await probeLogin(options(server));
        expect(outcome).to.deep.equal({ kind: "insecure", method });
        await closed(server.connections[0]);
        const conn = server.connections[0]!;
        expect(conn.startupEnd, "the StartupMessage was sent").to.be.a("number");
        expect(conn.afterStartup().length, "bytes sent after the StartupMessage").to.equal(0);
        expect(conn.received.includes(Buffer.from(PASSWORD))).to.equal(false);
      });
    }
  });

  it("logs in with SCRAM-SHA-256, verifies the server, reaches ReadyForQuery and sends Terminate → accepted", async () => {
    const seen: { terminate?: boolean; params?: Map<string, string> } = {};
    const server = await serve(scramServer(PASSWORD, seen));
    expect(await probeLogin(options(server, { applicationName: "probe-test" }))).to.deep.equal({ kind: "accepted" });
    await closed(server.connections[0]);
    expect(seen.terminate).to.equal(true);
    expect(Object.fromEntries(seen.params!)).to.deep.equal({ user: "alice", database: "db", application_name: "probe-test", client_encoding: "UTF8" });
    expect(server.connections[0]!.received.includes(Buffer.from(PASSWORD))).to.equal(false);
  });

  it("applies PostgreSQL's SASLprep to the password (NBSP and a ligature)", async () => {
    const server = await serve(scramServer("pa ss\uFB01"));
    expect(await probeLogin(options(server, { password: "pa\u00A0ss\uFB01" }))).to.deep.equal({ kind: "accepted" });
    expect(await probeLogin(options(server, { password: "pa ssfi" }))).to.deep.equal({ kind: "accepted" });
  });

  it("28P01 in answer to the proof → wrongPassword", async () => {
    const server = await serve(scramServer("another password"));
    const outcome = await probeLogin(options(server));
    expect(outcome).to.deep.equal({ kind: "wrongPassword", code: "28P01", message: "password authentication failed for user \"alice\"" });
    await closed(server.connections[0]);
  });

  it("an ErrorResponse before authentication (53300, or even 28P01 before any proof) → inconclusive", async () => {
    for (const [code, text] of [["53300", "sorry, too many clients already"], ["28P01", "password authentication failed"], ["57P03", "the database system is starting up"]] as const) {
      const server = await serve(async (conn) => {
        await conn.readStartupMessage();
        conn.fatal(code, text);
      });
      expect(await probeLogin(options(server))).to.deep.equal({ kind: "inconclusive", code, message: text });
      await closed(server.connections[0]);
    }
  });

  it("an ErrorResponse after AuthenticationOk → refusedAfterAuthentication", async () => {
    const server = await serve(async (conn) => {
      await conn.readStartupMessage();
      await new ScramServer(PASSWORD).exchange(conn);
      conn.auth(0);
      conn.fatal("53300", "too many connections for role \"alice\"");
    });
    const outcome = await probeLogin(options(server));
    expect(outcome).to.deep.equal({ kind: "refusedAfterAuthentication", code: "53300", message: "too many connections for role \"alice\"" });
    await closed(server.connections[0]);
  });

  it("a wrong server signature → insecure (the server does not know the verifier)", async () => {
    const server = await serve(async (conn) => {
      await conn.readStartupMessage();
      await new ScramServer(PASSWORD).exchange(conn, { badSignature: true });
      conn.auth(0);
      conn.ready();
      await conn.closed;
    });
    const outcome = await probeLogin(options(server));
    expect(outcome.kind).to.equal("insecure");
    expect((outcome as Extract<LoginOutcome, { kind: "insecure" }>).method).to.match(/could not prove it knows the verifier/);
    await closed(server.connections[0]);
  });

  it("AuthenticationOk without the server's proof → insecure", async () => {
    const server = await serve(async (conn) => {
      await conn.readStartupMessage();
      conn.auth(10, Buffer.from("SCRAM-SHA-256\0\0"));
      await conn.readMessage();
      conn.auth(0);
      await conn.closed;
    });
    expect((await probeLogin(options(server))).kind).to.equal("insecure");
  });

  it("a server nonce that does not extend the client's, or too many iterations → Unavailable (protocol violation)", async () => {
    const firsts: ((nonce: string) => string)[] = [
      () => "r=someoneelsesnonce,s=c2FsdA==,i=4096",
      (nonce) => `r=${nonce}x,s=c2FsdA==,i=1000000`,
      (nonce) => `m=ext,r=${nonce}x,s=c2FsdA==,i=4096`,
    ];
    for (const serverFirst of firsts) {
      const server = await serve(async (conn) => {
        await conn.readStartupMessage();
        await new ScramServer(PASSWORD).exchange(conn, { serverFirst });
      });
      const error = await probeFails(options(server));
      expect(error.kind).to.equal("Unavailable");
      expect(error.message).to.match(/protocol violation/);
      await closed(server.connections[0]);
      expect(server.connections[0]!.afterStartup().includes(Buffer.from("p="))).to.equal(false);
    }
  });

  it("connection refused → PostgresError Unavailable without the password", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const error = await probeFails({ host: "127.0.0.1", port, database: "db", user: "alice", password: "alice", sslMode: "disable" });
    expect(error.kind).to.equal("Unavailable");
    expect(error.code).to.equal("ECONNREFUSED");
    expect(error.message).to.not.include("alice");
  });

  it("a silent server → timeout error, connection closed", async () => {
    const server = await serve(async (conn) => {
      await conn.closed;
    });
    const started = Date.now();
    const error = await probeFails(options(server, { timeoutMs: 300 }));
    expect(error.kind).to.equal("Unavailable");
    expect(error.message).to.match(/timed out after 300 ms/);
    expect(Date.now() - started).to.be.below(2_000);
    await closed(server.connections[0]);
  });

  it("a server that hangs up mid-authentication → Unavailable", async () => {
    const server = await serve(async (conn) => {
      await conn.readStartupMessage();
      conn.end();
    });
    const error = await probeFails(options(server));
    expect(error.kind).to.equal("Unavailable");
    expect(error.message).to.match(/closed the connection unexpectedly/);
  });

  it("rejects invalid options with InvalidSpec before connecting", async () => {
    for (const bad of [{ port: 0 }, { user: "" }, { sslMode: "sometimes" }, { database: "a\0b" }, { timeoutMs: -1 }]) {
      const error = await probeFails({ ...options({ port: 5432 } as FakeServer), ...bad } as LoginProbeOptions);
      expect(error.kind, JSON.stringify(bad)).to.equal("InvalidSpec");
    }
  });

  describe("TLS", () => {
    let certs: TestCerts;
    before(async () => {
      certs = await makeTestCerts();
    });

    function tlsServer(key: () => string, cert: () => string, seen: { tls?: boolean } = {}) {
      return async (conn: FakeConnection): Promise<void> => {
        const request = await conn.readStartup();
        if (request.code !== 80877103) throw new Error("expected SSLRequest");
        conn.upgrade(key(), cert());
        await conn.readStartupMessage();
        seen.tls = true;
        await new ScramServer(PASSWORD).exchange(conn);
        conn.auth(0);
        conn.ready();
        await conn.readMessage();
      };
    }

    it("require (no CA) and prefer encrypt without verifying; verify-full and verify-ca verify", async () => {
      const seen: { tls?: boolean } = {};
      const server = await serve(tlsServer(() => certs.key, () => certs.cert, seen));
      for (const extra of [{ sslMode: "require" }, { sslMode: "prefer" }, { sslMode: "verify-full", ca: certs.ca }, { sslMode: "verify-ca", ca: certs.ca }] as const) {
        seen.tls = false;
        expect(await probeLogin(options(server, extra)), extra.sslMode).to.deep.equal({ kind: "accepted" });
        expect(seen.tls).to.equal(true);
      }
    });

    it("over TLS without -PLUS offered (stripped by a man in the middle?) says so with the gs2 header y", async () => {
      const server = await serve(async (conn) => {
        await conn.readStartup();
        conn.upgrade(certs.key, certs.cert);
        await conn.readStartupMessage();
        await new ScramServer(PASSWORD).exchange(conn, { offerPlus: false });
        conn.auth(0);
        conn.ready();
        await conn.readMessage();
      });
      expect(await probeLogin(options(server, { sslMode: "require" }))).to.deep.equal({ kind: "accepted" });
    });

    it("verify-ca checks the chain but not the host name", async () => {
      const server = await serve(tlsServer(() => certs.wrongNameKey, () => certs.wrongNameCert));
      expect(await probeLogin(options(server, { sslMode: "verify-ca", ca: certs.ca }))).to.deep.equal({ kind: "accepted" });
    });

    it("a certificate from another CA → TLSVerificationFailed saying the chain does not verify against the CA", async () => {
      const server = await serve(tlsServer(() => certs.key, () => certs.cert));
      for (const sslMode of ["verify-ca", "verify-full", "require"] as const) {
        const error = await probeFails(options(server, { sslMode, ca: certs.otherCa }));
        expect(error.kind).to.equal("TLSVerificationFailed");
        expect(error.message, sslMode).to.match(/certificate does not verify against the CA of tls\.caSecretRef/);
      }
    });

    it("verify-full with a certificate for another name → TLSVerificationFailed saying the host name does not match", async () => {
      const server = await serve(tlsServer(() => certs.wrongNameKey, () => certs.wrongNameCert));
      const error = await probeFails(options(server, { sslMode: "verify-full", ca: certs.ca }));
      expect(error.kind).to.equal("TLSVerificationFailed");
      expect(error.message).to.match(/is not for host 127\.0\.0\.1/);
    });

    it("a server without TLS: require fails, prefer continues in plaintext", async () => {
      const server = await serve(scramServer(PASSWORD));
      const error = await probeFails(options(server, { sslMode: "require" }));
      expect(error.kind).to.equal("TLSVerificationFailed");
      expect(error.message).to.match(/does not offer TLS, which sslMode require requires/);
      expect(await probeLogin(options(server, { sslMode: "prefer" }))).to.deep.equal({ kind: "accepted" });
    });

    it("an ErrorResponse instead of an answer to SSLRequest → Unavailable", async () => {
      const server = await serve(async (conn) => {
        await conn.readStartup();
        conn.fatal("53300", "sorry, too many clients already");
      });
      const error = await probeFails(options(server, { sslMode: "prefer" }));
      expect(error.kind).to.equal("Unavailable");
      expect(error.message).to.match(/error response during the SSL exchange/);
    });

    it("bytes sent after 'S' before the handshake → protocol violation (no injection into the TLS session)", async () => {
      const server = await serve(async (conn) => {
        await conn.readStartup();
        conn.send(Buffer.from("SR\0\0\0\x08\0\0\0\0"));
        await conn.closed;
      });
      const error = await probeFails(options(server, { sslMode: "require" }));
      expect(error.message).to.match(/protocol violation: server sent data after accepting SSLRequest/);
    });
  });
});
