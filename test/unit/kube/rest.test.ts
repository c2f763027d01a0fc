// The REST client against a local HTTPS server with its own CA: TLS and auth, Status errors, 401 retry, timeouts, watch streams.
import { expect } from "chai";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Authenticator, Credentials, KubeConfig } from "../../../src/kube/config.ts";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { KubeApiError } from "../../../src/kube/errors.ts";
import { createRestClient, type RestClient } from "../../../src/kube/rest.ts";
import { openWatch } from "../../../src/runtime/watch.ts";
import { makeKubeTestCerts, type KubeTestCerts } from "./test-certs.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  clientCN: string | undefined;
}

/** A fixed set of credentials; `invalidate` calls are counted and may switch to `next`. */
function staticAuth(creds: Credentials, next?: Credentials): Authenticator & { invalidated: number } {
  let current = creds;
  return {
    invalidated: 0,
    async credentials() {
      return current;
    },
    invalidate(used) {
      this.invalidated++;
      if (next !== undefined && used.token === current.token) current = next;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function caught(promise: Promise<unknown>): Promise<KubeApiError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(KubeApiError);
    return err as KubeApiError;
  }
  throw new Error("expected a KubeApiError");
}

describe("REST client (local HTTPS server)", function () {
  this.timeout(20_000);
  let certs: KubeTestCerts;
  let server: https.Server;
  let port: number;
  let handler: Handler;
  let seen: Seen[];
  let connections: number;
  const sockets = new Set<Socket>();
  const clients: RestClient[] = [];

  before(async () => {
    certs = await makeKubeTestCerts();
    server = https.createServer({ key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const socket = req.socket as TLSSocket;
        const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, clientCN: typeof peer?.subject?.CN === "string" ? peer.subject.CN : undefined });
        handler(req, res, body);
      });
    });
    server.on("secureConnection", (s: Socket) => {
      connections++;
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen = [];
    connections = 0;
    handler = (_req, res) => json(res, 200, { kind: "Thing", ok: true });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const config = (overrides: Partial<KubeConfig> = {}): KubeConfig => ({
    source: "test",
    server: `https://127.0.0.1:${port}`,
    ca: certs.ca,
    insecureSkipTlsVerify: false,
    auth: staticAuth({ cert: certs.clientCert, key: certs.clientKey }),
    ...overrides,
  });
  const client = (overrides: Partial<KubeConfig> = {}, timeoutMs?: number): RestClient => {
    const c = createRestClient(config(overrides), timeoutMs === undefined ? {} : { timeoutMs });
    clients.push(c);
    return c;
  };

  describe("requests", () => {
    it("keeps nothing of a large answer once it was parsed (an idle keep-alive socket holds its last request)", async function () {
      this.timeout(20_000);
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      const big = "x".repeat(24 * 1024 * 1024);
      handler = (_req, res) => json(res, 200, { kind: "SecretList", items: [{ data: big }] });
      const used = async (): Promise<number> => {
        // Twice: external strings and buffers are released by the collection after the one that found them dead.
        gc();
        await sleep(50);
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.external;
      };
      await client().request("GET", "/api/v1/secrets?small=1");
      const before = await used();
      // The large answer is the first request of a new socket: the https Agent keeps the request that
      // opened a socket reachable from it (its TLS session listener) for as long as the socket lives.
      const c = client();
      // Only the length leaves this function: its caller drops the answer at once.
      const length = await (async () => (await c.request<{ items: Array<{ data: string }> }>("GET", "/api/v1/secrets")).items[0]!.data.length)();
      expect(length).to.equal(big.length);
      await sleep(50); // the socket back in the Agent's pool, idle
      const after = await used();
      expect(after - before, `bytes still held after the answer was dropped: ${after - before}`).to.be.below(8 * 1024 * 1024);
    });

    it("presents its client certificate, verifies the server with the CA and parses the JSON answer", async () => {
      const answer = await client().request<{ ok: boolean }>("GET", "/api/v1/namespaces/a");
      expect(answer).to.deep.equal({ kind: "Thing", ok: true });
      expect(seen[0]!.clientCN).to.equal("client");
      expect(seen[0]!.headers.accept).to.equal("application/json");
      expect(seen[0]!.headers["user-agent"]).to.equal("workspacedb-operator");
    });

    it("gets through to a server that requires a client certificate only with one", async () => {
      const strict = https.createServer({ key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
        json(res, 200, { user: (req.socket as TLSSocket).getPeerCertificate().subject.CN });
      });
      await new Promise<void>((resolve) => strict.listen(0, "127.0.0.1", resolve));
      try {
        const server = `https://127.0.0.1:${(strict.address() as AddressInfo).port}`;
        expect(await client({ server }).request("GET", "/x")).to.deep.equal({ user: "client" });
        const err = await caught(client({ server, auth: staticAuth({ token: "t" }) }).request("GET", "/x"));
        expect([err.code, err.reason]).to.deep.equal([0, "Unreachable"]);
      } finally {
        for (const c of clients.splice(0)) c.close();
        await new Promise((resolve) => strict.close(resolve));
      }
    });

    it("refuses a server whose certificate another CA signed, unless told to skip verification; checks tls-server-name", async () => {
      const err = await caught(client({ ca: certs.otherCa }).request("GET", "/x", { context: "reading x" }));
      expect(err.code).to.equal(0);
      expect(err.reason).to.equal("Unreachable");
      expect(err.message).to.match(/^reading x: /);
      expect(await client({ ca: certs.otherCa, insecureSkipTlsVerify: true }).request("GET", "/x")).to.deep.include({ ok: true });
      expect(await client({ tlsServerName: "kubernetes.test" }).request("GET", "/x")).to.deep.include({ ok: true });
      const wrongName = await caught(client({ tlsServerName: "other.test" }).request("GET", "/x"));
      expect(wrongName.message).to.match(/other\.test/);
    });

    it("sends a bearer token or basic credentials", async () => {
      await client({ auth: staticAuth({ token: "tok" }) }).request("GET", "/x");
      expect(seen[0]!.headers.authorization).to.equal("Bearer tok");
      expect(seen[0]!.clientCN).to.equal(undefined);
      await client({ auth: staticAuth({ basic: { username: "u", password: "p:w" } }) }).request("GET", "/x");
      expect(seen[1]!.headers.authorization).to.equal(`Basic ${Buffer.from("u:p:w").toString("base64")}`);
    });

    it("sends the query, a JSON body with its content type, and reuses one kept-alive connection", async () => {
      const c = client();
      await c.request("PATCH", "/apis/g/v1/things/a/status", {
        query: { fieldManager: "me", dryRun: undefined, limit: 5, watch: false },
        body: { status: { note: "ünïcode" } },
        contentType: "application/merge-patch+json",
      });
      await c.request("DELETE", "/api/v1/namespaces/n/secrets/s", { body: { preconditions: { uid: "u1" } } });
      await c.request("GET", "/x");
      expect(seen.map((s) => `${s.method} ${s.url}`)).to.deep.equal([
        "PATCH /apis/g/v1/things/a/status?fieldManager=me&limit=5&watch=false",
        "DELETE /api/v1/namespaces/n/secrets/s",
        "GET /x",
      ]);
      expect(seen[0]!.headers["content-type"]).to.equal("application/merge-patch+json");
      expect(JSON.parse(seen[0]!.body)).to.deep.equal({ status: { note: "ünïcode" } });
      expect(seen[1]!.headers["content-type"]).to.equal("application/json");
      expect(JSON.parse(seen[1]!.body)).to.deep.equal({ preconditions: { uid: "u1" } });
      expect(connections).to.equal(1);
    });

    it("throws a KubeApiError with the Status code, reason and message", async () => {
      handler = (_req, res) => json(res, 409, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "AlreadyExists", code: 409, message: 'secrets "s" already exists' });
      const err = await caught(client().request("POST", "/api/v1/namespaces/n/secrets", { body: {}, context: "creating Secret n/s" }));
      expect(err.code).to.equal(409);
      expect(err.reason).to.equal("AlreadyExists");
      expect(err.message).to.equal('creating Secret n/s: secrets "s" already exists');
      handler = (_req, res) => {
        res.writeHead(502);
        res.end("<html>bad gateway</html>");
      };
      const proxy = await caught(client().request("GET", "/x"));
      expect([proxy.code, proxy.reason, proxy.message]).to.deep.equal([502, "HTTP502", "GET /x: <html>bad gateway</html>"]);
    });

    it("retries once with fresh credentials after a 401, only when they changed", async () => {
      handler = (req, res) => {
        if (req.headers.authorization === "Bearer new") json(res, 200, { ok: true });
        else json(res, 401, { kind: "Status", reason: "Unauthorized", code: 401, message: "Unauthorized" });
      };
      const rotating = staticAuth({ token: "old" }, { token: "new" });
      expect(await client({ auth: rotating }).request("GET", "/x")).to.deep.equal({ ok: true });
      expect(seen.map((s) => s.headers.authorization)).to.deep.equal(["Bearer old", "Bearer new"]);
      expect(rotating.invalidated).to.equal(1);
      seen = [];
      const fixed = staticAuth({ token: "bad" });
      const err = await caught(client({ auth: fixed }).request("GET", "/x"));
      expect([err.code, err.reason]).to.deep.equal([401, "Unauthorized"]);
      expect(seen).to.have.length(1);
    });

    it("gives up after its timeout and reports an unreachable server with code 0", async () => {
      handler = () => undefined; // never answers
      const err = await caught(client({}, 200).request("GET", "/slow", { context: "reading slow" }));
      expect([err.code, err.reason, err.message]).to.deep.equal([0, "Unreachable", "reading slow: no answer within 200 ms"]);
      const closed = https.createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const freePort = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const refused = await caught(client({ server: `https://127.0.0.1:${freePort}` }).request("GET", "/x"));
      expect([refused.code, refused.reason]).to.deep.equal([0, "Unreachable"]);
      expect(refused.message).to.include("ECONNREFUSED");
    });

    it("reports credentials that cannot be had (a failing exec plugin) as a KubeApiError", async () => {
      const failing: Authenticator = { credentials: () => Promise.reject(new Error("exec plugin failed")), invalidate: () => undefined };
      const err = await caught(client({ auth: failing }).request("GET", "/x", { context: "listing x" }));
      expect([err.code, err.reason, err.message]).to.deep.equal([0, "NoCredentials", "listing x: exec plugin failed"]);
      expect(seen).to.have.length(0);
    });
  });

  describe("watch", () => {
    /** Streams `text` in chunks of the given sizes (then the rest), a pause between each, and ends. */
    const stream = (text: string, sizes: number[]): Handler => (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const bytes = Buffer.from(text, "utf8");
      void (async () => {
        let at = 0;
        for (const size of sizes) {
          res.write(bytes.subarray(at, at + size));
          at += size;
          await sleep(5);
        }
        if (at < bytes.length) res.write(bytes.subarray(at));
        res.end();
      })();
    };
    const events = [
      { type: "ADDED", object: { kind: "ConfigMap", metadata: { name: "a", resourceVersion: "11" }, data: { v: "naïve ☃" } } },
      { type: "MODIFIED", object: { kind: "ConfigMap", metadata: { name: "a", resourceVersion: "12" } } },
      { type: "BOOKMARK", object: { kind: "ConfigMap", metadata: { resourceVersion: "15" } } },
      { type: "DELETED", object: { kind: "ConfigMap", metadata: { name: "a", resourceVersion: "16" } } },
    ];
    const body = events.map((e) => JSON.stringify(e)).join("\n") + "\n";

    it("delivers newline-delimited events split across odd chunks, then reports the end once", async () => {
      // Chunk borders inside JSON, inside a multi-byte character (ï is 2 bytes, ☃ 3) and at newlines.
      const snowman = Buffer.from(body, "utf8").indexOf(Buffer.from("☃", "utf8"));
      handler = stream(body, [1, 7, snowman - 8 + 1, 1, 40, 3, 97]);
      const got: Array<[string, unknown]> = [];
      const done: unknown[] = [];
      const controller = await client().watch("/api/v1/namespaces/n/configmaps", { resourceVersion: "10", allowWatchBookmarks: true, labelSelector: undefined }, (t, o) => got.push([t, o]), (e) => done.push(e));
      expect(controller).to.be.instanceOf(AbortController);
      for (let i = 0; i < 100 && done.length === 0; i++) await sleep(10);
      expect(got).to.deep.equal(events.map((e) => [e.type, e.object]));
      expect(done).to.deep.equal([null]);
      expect(seen[0]!.url).to.equal("/api/v1/namespaces/n/configmaps?resourceVersion=10&allowWatchBookmarks=true&watch=true");
      await sleep(30);
      expect(done).to.have.length(1);
    });

    it("reports a refused watch through onDone with its status code, so that 410 means gone", async () => {
      handler = (_req, res) => json(res, 410, { kind: "Status", reason: "Expired", code: 410, message: "too old resource version: 1 (20)" });
      const done: unknown[] = [];
      await client().watch("/x", {}, () => undefined, (e) => done.push(e));
      expect(done).to.have.length(1);
      const err = done[0] as KubeApiError;
      expect([err.code, err.reason]).to.deep.equal([410, "Expired"]);
      const ended = await openWatch({ watch: client(), path: "/x", query: {}, inactivityMs: 5000, onEvent: () => undefined }).ended;
      expect(ended).to.deep.equal({ kind: "gone" });
      handler = (_req, res) => json(res, 403, { kind: "Status", reason: "Forbidden", code: 403, message: "forbidden" });
      const forbidden = await openWatch({ watch: client(), path: "/x", query: {}, inactivityMs: 5000, onEvent: () => undefined }).ended;
      expect(forbidden.kind).to.equal("error");
    });

    it("aborts: the connection closes and onDone is called once", async () => {
      handler = (_req, res) => {
        res.writeHead(200);
        res.write(body.slice(0, 10)); // no complete line; the stream stays open
      };
      const got: string[] = [];
      const done: unknown[] = [];
      const controller = await client().watch("/x", {}, (t) => got.push(t), (e) => done.push(e));
      await sleep(50);
      const before = sockets.size;
      controller.abort();
      controller.abort();
      await sleep(50);
      expect(done).to.have.length(1);
      expect((done[0] as Error).name).to.equal("AbortError");
      expect(sockets.size).to.equal(before - 1);
      expect(got).to.have.length(0); // the first chunk held no complete line
    });

    it("ends with an error when the server drops the connection mid-stream or sends a line that is not JSON", async () => {
      handler = (req, res) => {
        res.writeHead(200);
        res.write(`${JSON.stringify(events[0])}\n`);
        setTimeout(() => req.socket.destroy(), 20);
      };
      const done: unknown[] = [];
      const got: string[] = [];
      await client().watch("/x", {}, (t) => got.push(t), (e) => done.push(e));
      for (let i = 0; i < 100 && done.length === 0; i++) await sleep(10);
      expect(got).to.deep.equal(["ADDED"]);
      expect((done[0] as KubeApiError).code).to.equal(0);
      handler = stream("{\"type\":\"ADDED\",\"object\":{}}\nnot json\n", []);
      done.length = 0;
      await client().watch("/x", {}, () => undefined, (e) => done.push(e));
      for (let i = 0; i < 100 && done.length === 0; i++) await sleep(10);
      expect((done[0] as Error).message).to.match(/not JSON/);
    });
  });
});
