// The data API through kube-apiserver's aggregation layer: APIService Available, discovery, tables and
// previews for real users (client certificates bound by RBAC), and the front proxy's trust rules.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import type pg from "pg";
import { getGround } from "../../ground/index.ts";
import { freePort } from "../../ground/procs.ts";
import { createPki, type KeyPair, type Pki, type TestCa } from "../../support/pki.ts";
import { run, tools, type Tools } from "../support/deploy.ts";
import {
  asSuperuser,
  canLogin,
  createWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  operatorMetrics,
  readSecret,
  setupServer,
  sumMetric,
  unique,
  waitReady,
  withLogin,
} from "../support/fixtures.ts";
import { DATA_APISERVICE as APISERVICE, frontProxyPair, pluginBin, requestDataApi, prepareDataApi, registerDataApi, unregisterDataApi } from "../support/data-api.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { createPeople } from "../support/people.ts";


const readText = (path: string): string => readFileSync(path, "utf8");

describe("data API and kubectl wsdb (aggregated, e2e)", function () {
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
  let pluginPath = "";
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
    await setupServer("main", { default: true });
    const setup = await prepareDataApi(servingCa);
    port = setup.port;
    // A short statement timeout, so that the sleeping view below times out quickly.
    operator = startOperator({ ...setup.env, WSDB_DATA_API_STATEMENT_TIMEOUT: "2s" }, "operator-data-api");
    await operator.httpPort();
    await eventually("the data API listening", async () => (/serving the data API/.test(operator.log()) ? true : undefined), 30_000);
    // What the chart installs: a Service (ExternalName to the loopback port here) and the APIService.
    await registerDataApi(port, servingCa);

    // People, with the roles of config/rbac (DESIGN's table): a viewer, an editor and an admin of ns
    // (editors and admins also get the two credentials Secrets by name), a user with no role, and a
    // viewer of another namespace.
    ns = unique("data");
    other = unique("data-other");
    await ensureNamespace(ns);
    await ensureNamespace(other);
    const people = await createPeople(clusterCa, ns, other, ["malaria"]);
    Object.assign(kubeconfigs, people.kubeconfigs);
    Object.assign(pairs, people.pairs);
    // The plugin as kubectl finds it: an executable kubectl-wsdb on PATH.
    const bin = pluginBin();
    pluginPath = `${bin}:${process.env.PATH ?? ""}`;

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

  /** `kubectl wsdb ARGS` as `user` (kubectl finds the plugin on PATH). */
  const plugin = (user: string, args: string[]) =>
    run(process.env.KUBECTL ?? "kubectl", ["wsdb", ...args, "-n", ns, "--kubeconfig", kubeconfigs[user]!], { env: { ...process.env, PATH: pluginPath }, allowFailure: true });

  after(async () => {
    // An APIService without its server stalls namespace deletion in the whole cluster: it goes first.
    await unregisterDataApi();
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

  it("keeps DESIGN's role table cell by cell, through kubectl and through the plugin", async () => {
    const table = `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables/malaria.public.~43ases~202024/preview?limit=3`;
    const roles: Record<string, { wsdb: boolean; tables: boolean; secrets: boolean; regenerate: boolean }> = {
      vera: { wsdb: true, tables: true, secrets: false, regenerate: false },
      edda: { wsdb: true, tables: true, secrets: true, regenerate: false },
      adam: { wsdb: true, tables: true, secrets: true, regenerate: true },
      nobody: { wsdb: false, tables: false, secrets: false, regenerate: false },
      olga: { wsdb: false, tables: false, secrets: false, regenerate: false },
    };
    const ok = async (args: string[], user: string) => (await kubectl(args, { kubeconfig: kubeconfigs[user]!, allowFailure: true })).code === 0;
    for (const [user, may] of Object.entries(roles)) {
      const cells = {
        wsdb: (await ok(["get", "wsdb", "-n", ns], user)) && (await ok(["get", "wsdb", "malaria", "-n", ns], user)),
        tables: (await ok(["get", "workspacetables", "-n", ns], user)) && (await ok(["get", "--raw", table], user)),
        secrets: (await ok(["get", "secret", "malaria-rw", "-n", ns], user)) && (await ok(["get", "secret", "malaria-ro", "-n", ns], user)),
        regenerate: await ok(["annotate", "--overwrite", "--dry-run=server", "wsdb", "malaria", "-n", ns, "workspacedb.io/regenerate-ro=dry"], user),
      };
      expect(cells, `${user} through kubectl`).to.deep.equal(may);

      const tablesOut = await plugin(user, ["tables"]);
      const previewOut = await plugin(user, ["preview", "malaria", '"Cases 2024"', "--limit", "2"]);
      const credentialsOut = await plugin(user, ["credentials", "malaria", "--read-only", "-o", "uri"]);
      if (may.tables) {
        expect(tablesOut.code, `${user}: ${tablesOut.stderr}`).to.equal(0);
        expect(tablesOut.stdout).to.match(/^WORKSPACE\s+TABLE\s+TYPE\s+ROWS\s+SIZE$/m).and.match(/malaria\s+public\.Cases 2024\s+table/);
        expect(previewOut.code, `${user}: ${previewOut.stderr}`).to.equal(0);
        expect(previewOut.stdout).to.match(/^ id \|\s+district\s+\|/).and.include("  1 | district 1 |").and.include("(2 rows)").and.include("--continue");
      } else {
        expect(tablesOut.stderr.trim(), user).to.equal(`error: your role in namespace ${ns} does not allow browsing tables`);
        expect(previewOut.stderr.trim(), user).to.equal(`error: your role in namespace ${ns} does not allow browsing tables`);
      }
      if (may.secrets) {
        expect(credentialsOut.code, `${user}: ${credentialsOut.stderr}`).to.equal(0);
        expect(await withLogin(credentialsOut.stdout.trim(), async (db) => (await db.query("SELECT current_user AS u")).rows[0] as { u: string })).to.deep.equal({ u: (await readSecret(ns, "malaria-ro"))!.username });
      } else {
        expect(credentialsOut.stderr.trim(), user).to.equal(`error: your role in namespace ${ns} does not allow reading credentials`);
      }
      if (!may.regenerate) {
        const refused = await plugin(user, ["regenerate", "malaria", "--read-only"]);
        expect(refused.stderr.trim(), user).to.equal(`error: your role in namespace ${ns} does not allow regenerating passwords`);
      }
    }

    // The admin regenerates for real: the plugin waits, says so, and the old password is refused.
    const before = (await readSecret(ns, "malaria-ro"))!;
    const done = await plugin("adam", ["regenerate", "malaria", "--read-only", "--wait", "--timeout", "60"]);
    expect(done.code, done.stderr).to.equal(0);
    expect(done.stdout).to.match(/The read-only password was regenerated at \S+: the old one no longer works/);
    expect(await canLogin(before.uri!)).to.equal(false);
    const after = (await readSecret(ns, "malaria-ro"))!;
    expect(after.password).to.not.equal(before.password);
    expect(await canLogin(after.uri!)).to.equal(true);
  });

  it("explains its commands and refuses bad usage with exit code 2", async () => {
    for (const command of ["tables", "preview", "credentials", "regenerate"]) {
      const help = await plugin("vera", [command, "--help"]);
      expect(help.code, command).to.equal(0);
      expect(help.stdout, command).to.include(`kubectl wsdb ${command}`).and.include("--namespace");
    }
    expect((await plugin("vera", ["--help"])).stdout).to.include("Commands:");
    const bad = await plugin("adam", ["regenerate", "malaria"]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include("exactly one of --read-write, --read-only, --all");
    expect((await plugin("vera", ["bogus"])).code).to.equal(2);
  });

  /** GET on the operator's port as the front proxy for a viewer of ns: the status and the parsed body. */
  async function asViewer<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await requestDataApi(port, path, { ca: servingCa.cert, cert: frontProxyPair(), headers: { "X-Remote-User": "vera", "X-Remote-Group": `${ns}:viewers` } });
    return { status: res.status, body: JSON.parse(res.body) as T };
  }
  const api = () => `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables`;
  type Listed = { items: Array<{ metadata: { name: string }; schema: string; table: string; type: string }>; metadata: { continue?: string } };
  type Previewed = { rows: unknown[][]; columns: Array<{ name: string; type: string }>; truncated: boolean; metadata: { continue?: string }; message?: string; code?: number; reason?: string };
  const asOwner = async <T>(fn: (db: pg.Client) => Promise<T>): Promise<T> => withLogin((await readSecret(ns, "malaria-rw"))!.uri!, fn);

  it("lists every kind of relation in any schema, as it is now, hostile names included", async () => {
    await asOwner(async (db) => {
      await db.query(`CREATE SCHEMA raw`);
      await db.query(`CREATE TABLE raw.visits (id int PRIMARY KEY, place text)`);
      await db.query(`INSERT INTO raw.visits VALUES (1, 'a'), (2, 'b')`);
      await db.query(`CREATE MATERIALIZED VIEW raw.visit_count AS SELECT count(*) AS n FROM raw.visits`);
      await db.query(`CREATE TABLE measures (at date NOT NULL, v int) PARTITION BY RANGE (at)`);
      await db.query(`CREATE TABLE measures_2024 PARTITION OF measures FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`);
      await db.query(`CREATE TABLE y (id int)`);
      await db.query(`CREATE TABLE "x""; drop table y; --" (id int PRIMARY KEY, note text)`);
      await db.query(`INSERT INTO "x""; drop table y; --" VALUES (7, 'evil but harmless')`);
      await db.query(`CREATE TABLE "Upper Case Table" ("Some Column" text)`);
      await db.query(`INSERT INTO "Upper Case Table" VALUES ('UP')`);
    });
    const database = (await waitReady(ns, "malaria")).status!.database!;
    const foreign = await asSuperuser(database, async (db) => {
      const available = (await db.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw'`)).rowCount === 1;
      if (!available) return false;
      await db.query(`CREATE EXTENSION IF NOT EXISTS postgres_fdw`);
      await db.query(`CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'nowhere')`);
      await db.query(`CREATE FOREIGN TABLE public.remote_cases (id int) SERVER elsewhere`);
      return true;
    });
    const listed = await asViewer<Listed>(api());
    expect(listed.status).to.equal(200);
    const types = Object.fromEntries(listed.body.items.map((i) => [`${i.schema}.${i.table}`, i.type]));
    expect(types).to.include({
      "public.Cases 2024": "table",
      "public.cases_view": "view",
      "raw.visits": "table",
      "raw.visit_count": "materialized-view",
      "public.measures": "partitioned-table",
      "public.measures_2024": "table",
      'public.x"; drop table y; --': "table",
      "public.Upper Case Table": "table",
    });
    if (foreign) expect(types).to.include({ "public.remote_cases": "foreign-table" });
    const evil = listed.body.items.find((i) => i.table === 'x"; drop table y; --')!;
    expect(evil.metadata.name).to.equal("malaria.public.x~22~3b~20drop~20table~20y~3b~20--");
    const evilRows = await asViewer<Previewed>(`${api()}/${evil.metadata.name}/preview`);
    expect(evilRows.body.rows).to.deep.equal([[7, "evil but harmless"]]);
    const upper = await asViewer<Previewed>(`${api()}/malaria.public.~55pper~20~43ase~20~54able/preview`);
    expect(upper.body).to.deep.include({ columns: [{ name: "Some Column", type: "text" }], rows: [["UP"]] });
    expect(await asOwner(async (db) => (await db.query(`SELECT 1 FROM y`)).rowCount)).to.equal(0);

    // No cache between the catalog and the answer: a new table appears, a dropped one disappears.
    await asOwner((db) => db.query(`CREATE TABLE raw.brand_new (id int)`));
    expect((await asViewer<Listed>(api())).body.items.map((i) => i.table)).to.include("brand_new");
    await asOwner((db) => db.query(`DROP TABLE raw.brand_new`));
    expect((await asViewer<Listed>(api())).body.items.map((i) => i.table)).to.not.include("brand_new");
    expect((await asViewer<Previewed>(`${api()}/malaria.raw.brand~5fnew/preview`)).status).to.equal(404);
  });

  it("pages through 1,200 tables with limit and continue", async () => {
    await asOwner((db) => db.query(`CREATE SCHEMA many; DO $$ BEGIN FOR i IN 1..1200 LOOP EXECUTE format('CREATE TABLE many.t%s (id int)', lpad(i::text, 4, '0')); END LOOP; END $$`));
    try {
      const names: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await asViewer<Listed>(`${api()}?limit=100${token === undefined ? "" : `&continue=${encodeURIComponent(token)}`}`);
        expect(page.status).to.equal(200);
        expect(page.body.items.length).to.be.at.most(100);
        names.push(...page.body.items.map((i) => i.metadata.name));
        token = page.body.metadata.continue;
        pages++;
      } while (token !== undefined);
      const many = names.filter((n) => n.startsWith("malaria.many."));
      expect(many).to.have.length(1200);
      expect(new Set(names).size).to.equal(names.length);
      expect(pages).to.be.at.least(12);
      // kubectl pages by itself (500 at a time).
      const all = await kubectl(["get", "workspacetables", "-n", ns, "-o", "name"]);
      expect(all.stdout.split("\n").filter((l) => l.includes("malaria.many.")).length).to.equal(1200);
    } finally {
      await asOwner((db) => db.query(`DROP SCHEMA many CASCADE`));
    }
  });

  it("previews column types and NULLs, cutting a 10 MB value inside the query", async () => {
    await asOwner(async (db) => {
      await db.query(`CREATE TABLE kinds (id int PRIMARY KEY, n numeric, t text, ts timestamptz, j jsonb, b bytea, a int[], big bigint)`);
      await db.query(`INSERT INTO kinds VALUES (1, 12345.678, 'hello', '2024-05-01 12:00:00+00', '{"a": [1, 2]}', '\\xdeadbeef', '{1,2,3}', 9007199254740993)`);
      await db.query(`INSERT INTO kinds (id) VALUES (2)`);
      await db.query(`INSERT INTO kinds (id, t) VALUES (3, repeat('y', 10 * 1024 * 1024))`);
    });
    const res = await asViewer<Previewed>(`${api()}/malaria.public.kinds/preview`);
    expect(res.status).to.equal(200);
    expect(res.body.columns.map((c) => c.type)).to.deep.equal(["integer", "numeric", "text", "timestamp with time zone", "jsonb", "bytea", "integer[]", "bigint"]);
    const [one, two, three] = res.body.rows;
    expect(one!.slice(0, 3)).to.deep.equal([1, "12345.678", "hello"]);
    expect(String(one![3])).to.match(/^2024-05-01 12:00:00\+00/);
    expect(one!.slice(4)).to.deep.equal([{ a: [1, 2] }, "\\xdeadbeef", "{1,2,3}", "9007199254740993"]);
    expect(two).to.deep.equal([2, null, null, null, null, null, null, null]);
    expect((three![2] as string).length).to.equal(1000);
    expect(res.body.truncated).to.equal(true);
    expect(JSON.stringify(res.body).length).to.be.below(20_000);
    // The cut happens in the statement: it asked for at most 1,001 characters of the column.
    const log = getGround().postgres.logFile;
    if (log !== undefined) expect(readText(log)).to.match(/\[workspacedb-data-api\][^\n]*left\("t"::text, 1001\)[^\n]*FROM "public"\."kinds"/);
  });

  it("reads a wide table in chunks that fit the size cap at their widest, with and without a primary key, and still gives every row", async () => {
    const columns = Array.from({ length: 50 }, (_, i) => `c${i} text`).join(", ");
    await asOwner(async (db) => {
      await db.query(`CREATE TABLE fifty_cols (id int PRIMARY KEY, ${columns})`);
      await db.query(`INSERT INTO fifty_cols (id, c0, c49) SELECT g, 'a' || g, 'z' FROM generate_series(1, 230) g`);
      await db.query(`CREATE TABLE fifty_cols_heap (${columns})`);
      await db.query(`INSERT INTO fifty_cols_heap (c0) SELECT 'h' || g FROM generate_series(1, 230) g`);
    });
    for (const table of ["fifty~5fcols", "fifty~5fcols~5fheap"]) {
      const rows: unknown[][] = [];
      let token: string | undefined;
      do {
        const page = await asViewer<Previewed>(`${api()}/malaria.public.${table}/preview?limit=500${token === undefined ? "" : `&continue=${encodeURIComponent(token)}`}`);
        expect(page.status, table).to.equal(200);
        rows.push(...page.body.rows);
        token = page.body.metadata.continue;
      } while (token !== undefined);
      expect(rows, table).to.have.length(230);
    }
    // 50 text columns of at most 1,001 characters: 20 rows a statement under the 1 MiB cap.
    const log = getGround().postgres.logFile;
    if (log !== undefined) {
      const statements = readText(log).split("\n").filter((l) => l.includes("[workspacedb-data-api]") && /FROM (ONLY )?"public"\."fifty_cols(_heap)?"/.test(l));
      expect(statements.some((l) => / LIMIT 20\b/.test(l))).to.equal(true);
      expect(statements.some((l) => / LIMIT (50[01]|2[1-9]|[3-9]\d|\d{3})\b/.test(l)), statements.slice(0, 3).join("\n")).to.equal(false);
    }
    await asOwner((db) => db.query(`DROP TABLE fifty_cols, fifty_cols_heap`));
  });

  it("pages through 10,000 rows in a stable order, and serves page 1,000 of a million rows fast, with and without a primary key", async function () {
    this.timeout(300_000);
    await asOwner(async (db) => {
      await db.query(`CREATE TABLE tenk (id int PRIMARY KEY, v text)`);
      await db.query(`INSERT INTO tenk SELECT g, 'v' || g FROM generate_series(1, 10000) g ORDER BY random()`);
      await db.query(`CREATE TABLE million (id int PRIMARY KEY, v text)`);
      await db.query(`INSERT INTO million SELECT g, md5(g::text) FROM generate_series(1, 1000000) g`);
      await db.query(`CREATE TABLE million_heap AS SELECT * FROM million`);
      await db.query(`ANALYZE million, million_heap`);
    });
    const ids: number[] = [];
    let token: string | undefined;
    do {
      const page = await asViewer<Previewed>(`${api()}/malaria.public.tenk/preview?limit=500${token === undefined ? "" : `&continue=${encodeURIComponent(token)}`}`);
      ids.push(...page.body.rows.map((r) => r[0] as number));
      token = page.body.metadata.continue;
    } while (token !== undefined);
    expect(ids).to.deep.equal(Array.from({ length: 10000 }, (_, i) => i + 1));

    for (const table of ["million", "million~5fheap"]) {
      // Page 1,000 of 20 rows: follow the tokens to row 19,980 (in pages of 500), then ask for 20.
      let next: string | undefined;
      const seen: unknown[] = [];
      for (let i = 0; i < 40; i++) {
        const limit = i < 39 ? 500 : 480;
        const page: { body: Previewed } = await asViewer<Previewed>(`${api()}/malaria.public.${table}/preview?limit=${limit}${next === undefined ? "" : `&continue=${encodeURIComponent(next)}`}`);
        seen.push(...page.body.rows.map((r) => r[0]));
        next = page.body.metadata.continue;
      }
      const path = `${api()}/malaria.public.${table}/preview?limit=20&continue=${encodeURIComponent(next!)}`;
      let best = Number.POSITIVE_INFINITY;
      let rows: unknown[][] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const started = performance.now();
        const page = await asViewer<Previewed>(path);
        best = Math.min(best, performance.now() - started);
        rows = page.body.rows;
      }
      expect(seen, table).to.have.length(19_980);
      expect(new Set(seen).size, table).to.equal(19_980);
      expect(rows, table).to.have.length(20);
      if (table === "million") expect(rows.map((r) => r[0])).to.deep.equal(Array.from({ length: 20 }, (_, i) => 19_981 + i));
      expect(rows.every((r) => !seen.includes(r[0])), table).to.equal(true);
      expect(best, `${table}: page 1,000 took ${best.toFixed(0)} ms`).to.be.below(300);
    }
    await asOwner((db) => db.query(`DROP TABLE million, million_heap, tenk`));
  });

  it("answers 410 after TRUNCATE and 504 when a view outlives the statement timeout", async () => {
    await asOwner(async (db) => {
      await db.query(`CREATE TABLE emptied (id int PRIMARY KEY)`);
      await db.query(`INSERT INTO emptied SELECT generate_series(1, 50)`);
      await db.query(`CREATE VIEW slow AS SELECT 1 AS s FROM pg_sleep(5)`);
    });
    const first = await asViewer<Previewed>(`${api()}/malaria.public.emptied/preview?limit=10`);
    await asOwner((db) => db.query(`TRUNCATE emptied`));
    const stale = await asViewer<Previewed>(`${api()}/malaria.public.emptied/preview?limit=10&continue=${encodeURIComponent(first.body.metadata.continue!)}`);
    expect(stale.status).to.equal(410);
    expect(stale.body).to.include({ kind: "Status", reason: "Expired", code: 410 });
    const slow = await asViewer<Previewed>(`${api()}/malaria.public.slow/preview`);
    expect(slow.status).to.equal(504);
    expect(slow.body).to.include({ reason: "Timeout", code: 504 });
  });

  it("stays bounded against a tenant's huge comment and a policy that lifts the statement timeout", async () => {
    await asOwner(async (db) => {
      await db.query(`CREATE TABLE chatty (id int PRIMARY KEY)`);
      await db.query(`DO $$ BEGIN EXECUTE format('COMMENT ON TABLE chatty IS %L', repeat('c', 2000000)); END $$`);
      await db.query(`CREATE TABLE sleepy (id int PRIMARY KEY)`);
      await db.query(`INSERT INTO sleepy VALUES (1)`);
      await db.query(`ALTER TABLE sleepy ENABLE ROW LEVEL SECURITY`);
      // Runs as the read-only login during the preview: lifts its statement_timeout, then sleeps.
      await db.query(`CREATE POLICY lift ON sleepy FOR SELECT USING (set_config('statement_timeout', '0', false) IS NOT NULL AND pg_sleep(30) IS NOT NULL)`);
    });
    const listed = await asViewer<{ items: Array<{ table: string; comment?: string }> }>(api());
    expect(listed.body.items.find((i) => i.table === "chatty")?.comment).to.have.length(1000);
    const started = Date.now();
    const slow = await asViewer<Previewed>(`${api()}/malaria.public.sleepy/preview`);
    expect(slow.status).to.equal(504);
    expect(Date.now() - started).to.be.below(10_000);
    await asOwner((db) => db.query(`DROP TABLE chatty, sleepy`));
  });

  it("reads only as the read-only login, puts no request text into SQL, and logs no row data", async () => {
    const marker = "zz-request-text-zz";
    await asViewer(`${api()}?fieldSelector=${encodeURIComponent(`workspace=${marker}`)}`);
    await asViewer(`${api()}/malaria.public.${marker}/preview?continue=${encodeURIComponent(Buffer.from(`{"oid":"1","filenode":"1","mode":"pk","after":["${marker}"]}`).toString("base64url"))}`);
    const log = getGround().postgres.logFile;
    if (log !== undefined) {
      const lines = readText(log).split("\n").filter((l) => l.includes("[workspacedb-data-api]"));
      expect(lines.length).to.be.greaterThan(10);
      const database = (await getWorkspace(ns, "malaria"))!.status!.database!;
      // Every statement of the data API (of any operator on this ground) ran as a read-only login of its database.
      for (const line of lines) {
        const who = / (\S+)@(\S+) (LOG|DETAIL|ERROR|STATEMENT|FATAL)/.exec(line);
        expect(who, line).to.not.equal(null);
        expect(who![1], line).to.equal(`${who![2]}_ro`);
      }
      expect(lines.some((l) => l.includes(` ${database}_ro@${database} `))).to.equal(true);
      // Names from requests reach PostgreSQL only as bind parameters (the DETAIL lines), never in SQL text.
      const statements = lines.filter((l) => !l.includes("DETAIL:"));
      expect(statements.some((l) => l.includes(marker)), statements.filter((l) => l.includes(marker)).join("\n")).to.equal(false);
    }
    const previews = operator.log().split("\n").filter((l) => l.includes('"message":"preview"'));
    expect(previews.length).to.be.greaterThan(5);
    for (const line of previews) {
      expect(line).to.not.include("district 1").and.not.include("evil but harmless").and.not.include("hello");
      expect(line, line).to.match(/"user":"(vera|edda|adam|admin)"/).and.match(/"rows":\d+/).and.match(/"table":"malaria\./);
    }
  });

  it("lets a namespace with workspace databases be deleted while the APIService is registered", async () => {
    const doomed = unique("data-doomed");
    await ensureNamespace(doomed);
    await createWorkspace(doomed, "gone", { deletionPolicy: "Delete" });
    await waitReady(doomed, "gone");
    await kubectl(["delete", "namespace", doomed, "--wait=false"]);
    await eventually("namespace deleted", async () =>
      (await kubectl(["get", "namespace", doomed], { allowFailure: true })).code !== 0 ? true : undefined, 120_000, 1_000);
  });

  it("leaves out a workspace it cannot read with a warning, and lists the others", async () => {
    await createWorkspace(ns, "second");
    const second = await waitReady(ns, "second");
    const database = second.status!.database!;
    // Its read-only login cannot log in for a moment (the operator repairs the limit at its next pass).
    await asSuperuser("postgres", (db) => db.query(`ALTER ROLE "${database}_ro" CONNECTION LIMIT 0`));
    try {
      const out = await kubectl(["get", "workspacetables", "-n", ns], { kubeconfig: kubeconfigs.vera! });
      expect(out.stdout).to.include("malaria.public.");
      expect(out.stderr).to.match(new RegExp(`Warning: workspace ${ns}/second left out: the database of workspace ["']second["'] cannot be read now`));
      // The caller learns nothing of the server's address or the login's name.
      expect(out.stderr).to.not.include(getGround().postgres.host).and.not.include(`${database}_ro`);
      const only = await kubectl(["get", "workspacetables", "-n", ns, "--field-selector", "workspace=second"], { kubeconfig: kubeconfigs.vera!, allowFailure: true });
      expect(only.code).to.not.equal(0);
      expect(only.stderr).to.include("ServiceUnavailable");
    } finally {
      await asSuperuser("postgres", (db) => db.query(`ALTER ROLE "${database}_ro" CONNECTION LIMIT -1`));
    }
  });

  it("keeps discovery answering while PostgreSQL is down, and says which workspace cannot be read", async () => {
    const ground = getGround();
    if (!ground.local) return;
    await ground.postgres.stop();
    try {
      const resources = JSON.parse((await kubectl(["get", "--raw", "/apis/data.workspacedb.io/v1alpha1"])).stdout) as { resources: unknown[] };
      expect(resources.resources).to.have.length(2);
      expect((await kubectl(["get", "apiservice", APISERVICE, "-o", "jsonpath={.status.conditions[?(@.type==\"Available\")].status}"])).stdout).to.equal("True");
      const down = await kubectl(["get", "workspacetables", "-n", ns], { allowFailure: true });
      // Each workspace is named as one that cannot be read now, unless the operator saw the server go
      // first and marked it not Ready (ServerUnavailable): the data API lists Ready workspaces only (DESIGN).
      for (const name of ["malaria", "second"]) {
        if (down.stderr.includes(`"${name}"`)) continue;
        const ready = (await getWorkspace(ns, name))?.status?.conditions?.find((c) => c.type === "Ready");
        expect(ready?.status, `${name}: neither named nor left out as not Ready (${JSON.stringify(ready)}); ${down.stderr}`).to.not.equal("True");
      }
      expect(down.stdout).to.not.include("malaria.public.");
      if (/"(malaria|second)"/.test(down.stderr)) expect(down.stderr).to.match(/can(not)? be read now/);
      if (down.code !== 0) expect(down.stderr).to.match(/ServiceUnavailable/);
    } finally {
      await ground.postgres.start();
    }
    await eventually("tables again", async () => ((await kubectl(["get", "workspacetables", "-n", ns], { allowFailure: true })).code === 0 ? true : undefined), 30_000, 500);
  });

  it("is served by a standby replica too", async () => {
    // A second replica that does not hold the lease (the first one does) serves the same answers.
    const standbyPort = await freePort();
    const standby = startOperator({
      WSDB_DATA_API_ENABLED: "true",
      WSDB_DATA_API_HOST: "127.0.0.1",
      WSDB_DATA_API_PORT: String(standbyPort),
      WSDB_DATA_API_CERT_FILE: join(getGround().root, "data-api.crt"),
      WSDB_DATA_API_KEY_FILE: join(getGround().root, "data-api.key"),
    }, "operator-data-api-standby");
    try {
      await eventually("the standby's data API", async () => (/serving the data API/.test(standby.log()) ? true : undefined), 30_000);
      const proxy = frontProxyPair();
      const path = `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables`;
      const answer = await eventually("tables from the standby's caches", async () => {
        const res = await requestDataApi(standbyPort, path, { ca: servingCa.cert, cert: proxy, headers: { "X-Remote-User": "vera", "X-Remote-Group": `${ns}:viewers` } });
        return res.status === 200 && res.body.includes("malaria.public.") ? res : undefined;
      }, 30_000, 500);
      expect(JSON.parse(answer.body)).to.have.property("kind", "WorkspaceTableList");
      expect(standby.log()).to.not.match(/"message":"(leading|caches synced: starting controllers)/);
    } finally {
      await standby.stop();
    }
  });

  it("trusts identity headers only from the front proxy", async () => {
    const path = `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables`;
    const ca = servingCa.cert;
    const admin = { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" };
    // No client certificate at all.
    expect((await requestDataApi(port, path, { ca, headers: admin })).status).to.equal(401);
    // The requestheader CA, but a name that is not allowed.
    const impostor = await frontProxyCa.issue({ cn: "not-the-front-proxy", usage: "client" });
    expect((await requestDataApi(port, path, { ca, cert: impostor, headers: admin })).status).to.equal(401);
    // A user's own certificate: the headers are ignored, the user is nobody.
    const asNobody = await requestDataApi(port, path, { ca, cert: pairs.nobody!, headers: admin });
    expect(asNobody.status).to.equal(403);
    expect(asNobody.body).to.include('User \\"nobody\\"');
    // The real front proxy's certificate with a viewer's headers.
    const proxy = frontProxyPair();
    expect((await requestDataApi(port, path, { ca, cert: proxy, headers: { "X-Remote-User": "vera", "X-Remote-Group": `${ns}:viewers` } })).status).to.equal(200);
    // Discovery in the aggregated form when asked for it (as kube-apiserver does), the legacy one otherwise.
    const aggregator = { "X-Remote-User": "system:kube-aggregator", "X-Remote-Group": "system:masters" };
    const v2 = await requestDataApi(port, "/apis", { ca, cert: proxy, headers: { ...aggregator, Accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json" } });
    expect(JSON.parse(v2.body)).to.include({ kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2" });
    const legacy = await requestDataApi(port, "/apis", { ca, cert: proxy, headers: aggregator });
    expect(JSON.parse(legacy.body)).to.include({ kind: "APIGroupList" });
    // Health answers anyone.
    expect((await requestDataApi(port, "/healthz", { ca })).status).to.equal(200);
  });

  it("answers 429 with Retry-After beyond a user's concurrent requests, serves other users meanwhile, and kubectl waits its turn", async () => {
    await asOwner((db) => db.query(`CREATE VIEW crawl AS SELECT 1 AS s FROM pg_sleep(5)`));
    const path = `${api()}/malaria.public.crawl/preview`;
    const ca = servingCa.cert;
    const proxy = frontProxyPair();
    const as = (user: string, group: string, to = path) => requestDataApi(port, to, { ca, cert: proxy, headers: { "X-Remote-User": user, "X-Remote-Group": group } });
    // Four slow previews of vera (the default per-user limit), each held for the 2 s statement timeout.
    const slow = [1, 2, 3, 4].map(() => as("vera", `${ns}:viewers`));
    // A slot is taken right after the TLS handshake, before anything slow.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const refused = await as("vera", `${ns}:viewers`, api());
    expect(refused.status).to.equal(429);
    expect(JSON.parse(refused.body)).to.deep.include({ kind: "Status", reason: "TooManyRequests", code: 429, details: { retryAfterSeconds: 1 } });
    expect(refused.body).to.include('too many data API requests of user \\"vera\\" at once');
    // Another member is not held up by vera.
    expect((await as("edda", `${ns}:editors`, api())).status).to.equal(200);
    // kubectl (client-go) honours Retry-After and gets its answer once a slot is free.
    const started = Date.now();
    const listed = await kubectl(["--as=vera", `--as-group=${ns}:viewers`, "get", "--raw", api()]);
    expect(JSON.parse(listed.stdout)).to.include({ kind: "WorkspaceTableList" });
    expect(Date.now() - started).to.be.below(15_000);
    for (const answer of await Promise.all(slow)) expect(answer.status).to.equal(504);
    expect((await as("vera", `${ns}:viewers`, api())).status).to.equal(200);
    const metrics = await operatorMetrics(await operator.httpPort());
    expect(sumMetric(metrics, "workspacedb_data_api_requests_total", (l) => l.code === "429")).to.be.greaterThan(0);
  });

  it("counts its answers and preview latency in the operator's metrics", async () => {
    const text = await operatorMetrics(await operator.httpPort());
    expect(sumMetric(text, "workspacedb_data_api_requests_total", (l) => l.resource === "workspacetables" && l.verb === "list" && l.code === "200")).to.be.greaterThan(0);
    expect(sumMetric(text, "workspacedb_data_api_requests_total", (l) => l.verb === "preview" && l.code === "200")).to.be.greaterThan(0);
    // kube-apiserver applies RBAC before it forwards a request: the 401s and 403s here are the direct ones of the test above.
    expect(sumMetric(text, "workspacedb_data_api_requests_total", (l) => l.code === "403")).to.be.greaterThan(0);
    expect(sumMetric(text, "workspacedb_data_api_requests_total", (l) => l.code === "401")).to.be.greaterThan(0);
    expect(sumMetric(text, "workspacedb_data_api_requests_total", (l) => l.resource === "discovery")).to.be.greaterThan(0);
    expect(sumMetric(text, "workspacedb_data_api_preview_duration_seconds_count")).to.be.greaterThan(0);
  });
});
