// The in-cluster page's host against a stand-in API server that records what reaches it: a request
// without a bearer token makes no API call; a token is forwarded as it came; POSTs need the CSRF token.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { createPki, type Pki } from "../../support/pki.ts";
import { startClusterPage, type ClusterPage } from "../../../src/ui/cluster.ts";
import { pageSettings } from "../../../src/ui/main.ts";

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
}

describe("the in-cluster page's host", function () {
  this.timeout(20_000);
  let pki: Pki;
  let ca = "";
  let api: Server;
  let page: ClusterPage;
  let dir: string;
  const seen: Seen[] = [];

  before(async () => {
    pki = createPki();
    const root = await pki.ca("page-ca");
    ca = root.cert;
    const serving = await root.issue({ cn: "page", usage: "server", san: ["DNS:page.test", "IP:127.0.0.1"] });
    dir = mkdtempSync(join(tmpdir(), "wsdb-page-"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>page</title>");
    api = createServer((req: IncomingMessage, res) => {
      seen.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization });
      req.resume();
      res.setHeader("content-type", "application/json");
      if (req.url === "/apis/authentication.k8s.io/v1/selfsubjectreviews") return res.end(JSON.stringify({ status: { userInfo: { username: "vera" } } }));
      res.statusCode = 403;
      res.end(JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message: "forbidden" }));
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    const port = (api.address() as { port: number }).port;
    page = await startClusterPage({
      host: "127.0.0.1",
      port: 0,
      certificate: serving,
      apiServer: { url: `http://127.0.0.1:${port}` },
      signIn: "Sign in at https://login.example.org first.",
      limits: { total: 4, perUser: 2 },
      staticDir: dir,
      log: () => undefined,
    });
  });

  after(async () => {
    await page?.close();
    await new Promise((resolve) => api?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
    pki?.dispose();
  });

  function call(path: string, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: page.port, path, method, ca, servername: "page.test", headers }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  it("serves its files and probes without a token, and answers the API 401 with how to sign in, making no API call", async () => {
    seen.length = 0;
    expect((await call("/")).status).to.equal(200);
    expect((await call("/healthz")).status).to.equal(200);
    for (const headers of [{} as Record<string, string>, { authorization: "Basic dmVyYTpwdw==" }, { authorization: "Bearer two words" }, { authorization: "Bearer <script>" }]) {
      const answer = await call("/api/session", headers);
      expect(answer.status, JSON.stringify(headers)).to.equal(401);
      expect(JSON.parse(answer.body)).to.deep.equal({ message: "You are not signed in.", signIn: "Sign in at https://login.example.org first." });
    }
    expect(seen).to.deep.equal([]);
  });

  it("forwards the caller's bearer token as it came (Authorization, or oauth2-proxy's X-Forwarded-Access-Token)", async () => {
    seen.length = 0;
    const answer = await call("/api/session", { authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln" });
    expect(answer.status).to.equal(200);
    expect(JSON.parse(answer.body)).to.include({ host: "cluster", user: "vera" });
    expect(answer.headers["cache-control"]).to.equal("no-store");
    expect(seen.map((s) => s.authorization)).to.deep.equal(["Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"]);
    seen.length = 0;
    expect((await call("/api/session", { "x-forwarded-access-token": "opaque-token_1" })).status).to.equal(200);
    expect(seen.map((s) => s.authorization)).to.deep.equal(["Bearer opaque-token_1"]);
  });

  it("refuses a POST without the session's CSRF token before any API call, and accepts one with it", async () => {
    const token = { authorization: "Bearer tok-a" };
    seen.length = 0;
    const refused = await call("/api/namespaces/ns/workspaces/malaria/regenerate", { ...token, "content-type": "application/json" }, "POST", JSON.stringify({ login: "read-only" }));
    expect(refused.status).to.equal(403);
    expect(seen).to.deep.equal([]);
    const csrf = (JSON.parse((await call("/api/session", token)).body) as { csrf: string }).csrf;
    // Another user's CSRF token is not this one's.
    const otherCsrf = (JSON.parse((await call("/api/session", { authorization: "Bearer tok-b" })).body) as { csrf: string }).csrf;
    expect(otherCsrf).to.not.equal(csrf);
    seen.length = 0;
    const crossed = await call("/api/namespaces/ns/workspaces/malaria/regenerate", { ...token, "content-type": "application/json", "x-csrf-token": otherCsrf }, "POST", JSON.stringify({ login: "read-only" }));
    expect(crossed.status).to.equal(403);
    expect(seen).to.deep.equal([]);
    const sent = await call("/api/namespaces/ns/workspaces/malaria/regenerate", { ...token, "content-type": "application/json", "x-csrf-token": csrf }, "POST", JSON.stringify({ login: "read-only" }));
    // The stand-in API server forbids it: the PATCH reached it with the caller's token.
    expect(sent.status).to.equal(403);
    expect(JSON.parse(sent.body)).to.deep.equal({ message: "Your role does not allow regenerating the passwords of malaria." });
    expect(seen).to.deep.equal([{ method: "PATCH", path: "/apis/workspacedb.io/v1alpha1/namespaces/ns/workspacedatabases/malaria", authorization: "Bearer tok-a" }]);
  });

  it("reads its settings from WSDB_PAGE_* and the pod's environment, naming a bad one", () => {
    expect(pageSettings({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" })).to.include({ apiServer: "https://10.96.0.1:443", port: 8443, maxConcurrentRequests: 64 });
    expect(pageSettings({ KUBERNETES_SERVICE_HOST: "fd00::1" }).apiServer).to.equal("https://[fd00::1]:443");
    expect(() => pageSettings({})).to.throw("WSDB_PAGE_API_SERVER: not set");
    expect(() => pageSettings({ WSDB_PAGE_API_SERVER: "http://api" })).to.throw("expected an https:// URL");
    expect(() => pageSettings({ WSDB_PAGE_API_SERVER: "https://api", WSDB_PAGE_PORT: "http" })).to.throw(`WSDB_PAGE_PORT="http": expected a whole number from 0 to 65535`);
  });
});
