// The data API through kube-apiserver's aggregation layer: APIService Available, discovery, tables and
// previews for real users (client certificates bound by RBAC), and the front proxy's trust rules.
import { request } from "node:https";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { freePort } from "../../ground/procs.ts";
import { createPki, type KeyPair, type Pki, type TestCa } from "../../support/pki.ts";
import { tools, type Tools } from "../support/deploy.ts";
import {
  SYSTEM_NAMESPACE,
  createWorkspace,
  ensureNamespace,
  eventually,
  readSecret,
  setupServer,
  unique,
  waitReady,
  withLogin,
} from "../support/fixtures.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";

const SERVICE = "workspacedb-data-api";
const APISERVICE = "v1alpha1.data.workspacedb.io";

const readText = (path: string): string => readFileSync(path, "utf8");

/** A kubeconfig for `user` with a client certificate of the cluster's CA. */
function userKubeconfig(path: string, server: string, ca: string, pair: KeyPair): string {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  writeFileSync(path, [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: c, cluster: {server: "${server}", certificate-authority-data: ${b64(ca)}}}]`,
    `users: [{name: u, user: {client-certificate-data: ${b64(pair.cert)}, client-key-data: ${b64(pair.key)}}}]`,
    "contexts: [{name: c, context: {cluster: c, user: u}}]",
    "current-context: c",
    "",
  ].join("\n"), { mode: 0o600 });
  return path;
}

/** GET on the operator's data API port directly (not through kube-apiserver). */
function direct(port: number, path: string, opts: { ca: string; cert?: KeyPair; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1", port, path, method: "GET", ca: opts.ca, servername: `${SERVICE}.${SYSTEM_NAMESPACE}.svc`,
      ...(opts.cert === undefined ? {} : { cert: opts.cert.cert, key: opts.cert.key }),
      headers: opts.headers ?? {},
    }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("data API (aggregated, e2e)", function () {
  this.timeout(240_000);
  let pki: Pki;
  let servingCa: TestCa;
  let clusterCa: TestCa;
  let frontProxyCa: TestCa;
  let operator: OperatorProcess;
  let port: number;
  let kubectl: Tools["kubectl"];
  let ns: string;
  let other: string;
  const kubeconfigs: Record<string, string> = {};
  const pairs: Record<string, KeyPair> = {};

  before(async function () {
    const ground = getGround();
    if (ground.certs === undefined) this.skip();
    const certs = ground.certs;
    kubectl = tools().kubectl;
    pki = createPki();
    servingCa = await pki.ca("data-api-ca");
    clusterCa = pki.existing(certs.caCert, certs.caKey);
    frontProxyCa = pki.existing(certs.frontProxyCaCert, certs.frontProxyCaKey);
    const serving = await servingCa.issue({ cn: SERVICE, usage: "server", san: [`DNS:${SERVICE}.${SYSTEM_NAMESPACE}.svc`, `DNS:${SERVICE}.${SYSTEM_NAMESPACE}.svc.cluster.local`] });
    const certFile = join(ground.root, "data-api.crt");
    const keyFile = join(ground.root, "data-api.key");
    writeFileSync(certFile, serving.cert);
    writeFileSync(keyFile, serving.key, { mode: 0o600 });

    await ensureNamespace(SYSTEM_NAMESPACE);
    await setupServer("main", { default: true });
    port = await freePort();
    operator = startOperator({
      WSDB_DATA_API_ENABLED: "true",
      WSDB_DATA_API_HOST: "127.0.0.1",
      WSDB_DATA_API_PORT: String(port),
      WSDB_DATA_API_CERT_FILE: certFile,
      WSDB_DATA_API_KEY_FILE: keyFile,
    }, "operator-data-api");
    await operator.httpPort();
    await eventually("the data API listening", async () => (/serving the data API/.test(operator.log()) ? true : undefined), 30_000);

    // What the chart installs: a Service (ExternalName to the loopback port here) and the APIService.
    await kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "Service", metadata: { name: SERVICE, namespace: SYSTEM_NAMESPACE }, spec: { type: "ExternalName", externalName: "localhost", ports: [{ name: "https", port, protocol: "TCP" }] } },
          {
            apiVersion: "apiregistration.k8s.io/v1",
            kind: "APIService",
            metadata: { name: APISERVICE },
            spec: {
              group: "data.workspacedb.io", version: "v1alpha1", groupPriorityMinimum: 1000, versionPriority: 15,
              service: { namespace: SYSTEM_NAMESPACE, name: SERVICE, port },
              caBundle: Buffer.from(servingCa.cert).toString("base64"),
            },
          },
        ],
      }),
    });
    await eventually("APIService Available", async () => {
      const out = await kubectl(["get", "apiservice", APISERVICE, "-o", "jsonpath={.status.conditions[?(@.type==\"Available\")].status}"], { allowFailure: true });
      return out.stdout.trim() === "True" ? true : undefined;
    }, 90_000, 500);

    // People: a viewer of ns, a user with no role, a member of another namespace.
    ns = unique("data");
    other = unique("data-other");
    await ensureNamespace(ns);
    await ensureNamespace(other);
    await kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "test-workspacedb-table-viewer" },
            rules: [{ apiGroups: ["data.workspacedb.io"], resources: ["workspacetables", "workspacetables/preview"], verbs: ["get", "list"] }],
          },
          ...[[ns, "viewer"], [other, "outsider"]].map(([namespace, group]) => ({
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "table-viewers", namespace },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "test-workspacedb-table-viewer" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }],
          })),
        ],
      }),
    });
    for (const [user, groups] of [["vera", ["viewer"]], ["nobody", []], ["olga", ["outsider"]]] as const) {
      pairs[user] = await clusterCa.issue({ cn: user, o: [...groups], usage: "client" });
      kubeconfigs[user] = userKubeconfig(join(ground.root, `${user}.kubeconfig`), ground.apiServerUrl, readText(certs.caCert), pairs[user]);
    }

    await createWorkspace(ns, "malaria");
    await waitReady(ns, "malaria");
    const rw = await readSecret(ns, "malaria-rw");
    await withLogin(rw?.uri ?? "", async (db) => {
      await db.query(`CREATE TABLE "Cases 2024" (id int PRIMARY KEY, district text NOT NULL, note text, payload bytea)`);
      await db.query(`INSERT INTO "Cases 2024" SELECT g, 'district ' || g, repeat('x', 3000), '\\x00ff' FROM generate_series(1, 45) g`);
      await db.query(`COMMENT ON TABLE "Cases 2024" IS 'weekly cases'`);
      await db.query(`CREATE VIEW cases_view AS SELECT id, district FROM "Cases 2024"`);
      await db.query(`ANALYZE "Cases 2024"`);
    });
  });

  after(async () => {
    // An APIService without its server stalls namespace deletion in the whole cluster: it goes first.
    await kubectl?.(["delete", "apiservice", APISERVICE, "--ignore-not-found", "--wait=true"], { allowFailure: true });
    await kubectl?.(["delete", "clusterrole", "test-workspacedb-table-viewer", "--ignore-not-found"], { allowFailure: true });
    await operator?.stop();
    pki?.dispose();
  });

  it("answers discovery and OpenAPI through the aggregator", async () => {
    const resources = JSON.parse((await kubectl(["get", "--raw", "/apis/data.workspacedb.io/v1alpha1"])).stdout) as { resources: Array<{ name: string; verbs: string[] }> };
    expect(resources.resources.map((r) => r.name)).to.deep.equal(["workspacetables", "workspacetables/preview"]);
    const resourcesOut = await kubectl(["api-resources", "--api-group=data.workspacedb.io"]);
    expect(resourcesOut.stdout).to.match(/workspacetables\s+wstable\s+data\.workspacedb\.io\/v1alpha1\s+true\s+WorkspaceTable/);
    // kube-apiserver downloads the APIService's OpenAPI document in the background.
    await eventually("the data API's OpenAPI document in kube-apiserver's", async () =>
      (await kubectl(["get", "--raw", "/openapi/v3"])).stdout.includes('"apis/data.workspacedb.io/v1alpha1"') ? true : undefined, 150_000, 1_000);
    const explained = await kubectl(["explain", "workspacetables.columns"]);
    expect(explained.stdout).to.include("primaryKey");
  });

  it("lists and gets tables with server-side printing, as a viewer", async () => {
    const asVera = { kubeconfig: kubeconfigs.vera! };
    const listed = await kubectl(["get", "workspacetables", "-n", ns], asVera);
    const lines = listed.stdout.trim().split("\n");
    expect(lines[0]).to.match(/^NAME\s+WORKSPACE\s+TYPE\s+ROWS\s+SIZE$/);
    expect(listed.stdout).to.match(/malaria\.public\.~43ases~202024\s+malaria\s+table\s+~?45\s+\d/);
    expect(listed.stdout).to.match(/malaria\.public\.cases~5fview\s+malaria\s+view/);
    const got = JSON.parse((await kubectl(["get", "workspacetable", "malaria.public.~43ases~202024", "-n", ns, "-o", "json"], asVera)).stdout) as Record<string, unknown>;
    expect(got).to.deep.include({ kind: "WorkspaceTable", workspace: "malaria", schema: "public", table: "Cases 2024", type: "table", rows: 45, rowsExact: true, comment: "weekly cases" });
    expect(got.columns).to.deep.equal([
      { name: "id", type: "integer", nullable: false, primaryKey: true },
      { name: "district", type: "text", nullable: false, primaryKey: false },
      { name: "note", type: "text", nullable: true, primaryKey: false },
      { name: "payload", type: "bytea", nullable: true, primaryKey: false },
    ]);
    const filtered = JSON.parse((await kubectl(["get", "--raw", `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables?fieldSelector=workspace%3Dnone`], asVera)).stdout) as { items: unknown[] };
    expect(filtered.items).to.deep.equal([]);
  });

  it("previews rows keyset-paged, truncated, as a viewer", async () => {
    const base = `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables/malaria.public.~43ases~202024/preview`;
    const asVera = { kubeconfig: kubeconfigs.vera! };
    const first = JSON.parse((await kubectl(["get", "--raw", `${base}?limit=20`], asVera)).stdout) as { rows: unknown[][]; truncated: boolean; metadata: { continue?: string }; columns: unknown[] };
    expect(first.columns).to.deep.equal([{ name: "id", type: "integer" }, { name: "district", type: "text" }, { name: "note", type: "text" }, { name: "payload", type: "bytea" }]);
    expect(first.rows).to.have.length(20);
    expect(first.rows[0]).to.deep.equal([1, "district 1", "x".repeat(1000), "\\x00ff"]);
    expect(first.truncated).to.equal(true);
    const seen = first.rows.map((r) => r[0]);
    let token = first.metadata.continue;
    while (token !== undefined) {
      const page = JSON.parse((await kubectl(["get", "--raw", `${base}?limit=20&continue=${encodeURIComponent(token)}`], asVera)).stdout) as { rows: unknown[][]; metadata: { continue?: string } };
      seen.push(...page.rows.map((r) => r[0]));
      token = page.metadata.continue;
    }
    expect(seen).to.deep.equal(Array.from({ length: 45 }, (_, i) => i + 1));
    expect(operator.log()).to.match(/"message":"preview"[^\n]*"user":"vera"|"user":"vera"[^\n]*"message":"preview"/);
  });

  it("answers 410 to a continue token of a rewritten table", async () => {
    const base = `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables/malaria.public.~43ases~202024/preview`;
    const first = JSON.parse((await kubectl(["get", "--raw", `${base}?limit=5`])).stdout) as { metadata: { continue?: string } };
    const rw = await readSecret(ns, "malaria-rw");
    await withLogin(rw?.uri ?? "", (db) => db.query(`VACUUM FULL "Cases 2024"`));
    const stale = await kubectl(["get", "--raw", `${base}?limit=5&continue=${encodeURIComponent(first.metadata.continue ?? "")}`], { allowFailure: true });
    expect(stale.code).to.not.equal(0);
    expect(stale.stderr).to.match(/rewritten|Expired|410|too old/i);
  });

  it("refuses a user without a role and a member of another namespace", async () => {
    for (const user of ["nobody", "olga"]) {
      const out = await kubectl(["get", "workspacetables", "-n", ns], { kubeconfig: kubeconfigs[user]!, allowFailure: true });
      expect(out.code, user).to.not.equal(0);
      expect(out.stderr, user).to.match(new RegExp(`User "${user}" cannot list resource "workspacetables"`));
    }
    const olgaOwn = await kubectl(["get", "workspacetables", "-n", other], { kubeconfig: kubeconfigs.olga! });
    expect(olgaOwn.stdout + olgaOwn.stderr).to.match(/No resources found/);
  });

  it("trusts identity headers only from the front proxy", async () => {
    const certs = getGround().certs!;
    const path = `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables`;
    const ca = servingCa.cert;
    const admin = { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" };
    // No client certificate at all.
    expect((await direct(port, path, { ca, headers: admin })).status).to.equal(401);
    // The requestheader CA, but a name that is not allowed.
    const impostor = await frontProxyCa.issue({ cn: "not-the-front-proxy", usage: "client" });
    expect((await direct(port, path, { ca, cert: impostor, headers: admin })).status).to.equal(401);
    // A user's own certificate: the headers are ignored, the user is nobody.
    const asNobody = await direct(port, path, { ca, cert: pairs.nobody!, headers: admin });
    expect(asNobody.status).to.equal(403);
    expect(asNobody.body).to.include('User \\"nobody\\"');
    // The real front proxy's certificate with a viewer's headers.
    const proxy = { cert: readText(certs.frontProxyClientCert), key: readText(certs.frontProxyClientKey) };
    expect((await direct(port, path, { ca, cert: proxy, headers: { "X-Remote-User": "vera", "X-Remote-Group": "viewer" } })).status).to.equal(200);
    // Health answers anyone.
    expect((await direct(port, "/healthz", { ca })).status).to.equal(200);
  });
});
