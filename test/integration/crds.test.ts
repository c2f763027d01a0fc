// The CRDs of crds/ against a real kube-apiserver: they install, accept the samples, apply defaults,
// reject invalid objects at admission (schema and CEL rules) and document themselves in kubectl explain.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { DATABASE_SERVERS, GROUP, VERSION, WORKSPACE_DATABASES } from "../../src/api/types.ts";
import { getGround } from "../ground/index.ts";
import { installCrds, loadCrds } from "./support/crds.ts";

const execFileP = promisify(execFile);
const KUBECTL = "/usr/bin/kubectl";
const SAMPLES_DIR = path.resolve(import.meta.dirname, "../../config/samples");

/** A plain JSON object, as custom objects travel. */
type Obj = Record<string, unknown>;

/** The `metav1.Status` an API error carries. */
interface ApiStatus {
  code?: number;
  reason?: string;
  message?: string;
}

/** Reads the Status out of an ApiException (its body is a JSON string for undeclared codes). */
function statusOf(err: unknown): { code: number; status: ApiStatus } {
  if (!(err instanceof k8s.ApiException)) throw err;
  const body: unknown = err.body;
  let status: ApiStatus = {};
  if (typeof body === "string") {
    try {
      status = JSON.parse(body) as ApiStatus;
    } catch {
      status = { message: body };
    }
  } else if (body != null && typeof body === "object") {
    status = body;
  }
  return { code: err.code, status };
}

/** Awaits a request that must be rejected with 422 Invalid and a message containing every needle. */
async function expectInvalid(request: Promise<unknown>, ...needles: string[]): Promise<string> {
  let caught: unknown;
  try {
    await request;
  } catch (err) {
    caught = err;
  }
  expect(caught, "the API server accepted an invalid object").to.exist;
  const { code, status } = statusOf(caught);
  const message = status.message ?? "";
  expect(code, `HTTP status (message: ${message})`).to.equal(422);
  for (const needle of needles) expect(message).to.contain(needle);
  return message;
}

async function kubectl(kubeconfig: string, cacheDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP(KUBECTL, ["--kubeconfig", kubeconfig, "--cache-dir", cacheDir, ...args], {
    timeout: 30_000,
  });
  return stdout;
}

/** Retries `fn` until it stops throwing (the API server publishes new OpenAPI a little later). */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

async function loadSample(file: string): Promise<Obj> {
  const docs = parseAllDocuments(await readFile(path.join(SAMPLES_DIR, file), "utf8"));
  expect(docs).to.have.length(1);
  return docs[0]!.toJS() as Obj;
}

describe("CRDs (admission by kube-apiserver)", function () {
  this.timeout(120_000);

  const suffix = randomBytes(3).toString("hex");
  const namespace = `wsdb-crds-${suffix}`;
  let kc: k8s.KubeConfig;
  let kubeconfigPath: string;
  let custom: k8s.CustomObjectsApi;
  let core: k8s.CoreV1Api;
  let cacheDir: string;
  const createdServers: string[] = [];
  const createdDatabases: string[] = [];
  let counter = 0;
  const uniqueName = (prefix: string) => `${prefix}-${suffix}-${++counter}`;

  async function ensureNamespace(name: string): Promise<void> {
    try {
      await core.createNamespace({ body: { metadata: { name } } });
    } catch (err) {
      if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
    }
  }

  const wsdb = (spec: Obj | undefined, name = uniqueName("wsdb")): Obj => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "WorkspaceDatabase",
    metadata: { name, namespace },
    ...(spec === undefined ? {} : { spec }),
  });

  const server = (spec: Obj | undefined, name = uniqueName("server")): Obj => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "DatabaseServer",
    metadata: { name },
    ...(spec === undefined ? {} : { spec }),
  });

  const validServerSpec = (): Obj => ({
    host: "postgres.databases.svc.cluster.local",
    adminSecretRef: { namespace: "workspacedb-system", name: "pg-admin" },
  });

  /** Server-side dry-run create: full admission (defaults, schema, CEL), nothing stored. */
  const dryRunWsdb = (body: Obj): Promise<Obj> =>
    custom.createNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES, body, dryRun: "All",
    }) as Promise<Obj>;

  const dryRunServer = (body: Obj): Promise<Obj> =>
    custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: DATABASE_SERVERS, body, dryRun: "All" }) as Promise<Obj>;

  async function createWsdb(spec: Obj | undefined): Promise<Obj> {
    const body = wsdb(spec);
    const created = (await custom.createNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES, body,
    })) as Obj;
    createdDatabases.push((created.metadata as { name: string }).name);
    return created;
  }

  /** Dry-run replace of a stored WorkspaceDatabase with a changed spec: what an update would do. */
  async function dryRunUpdateWsdb(stored: Obj, change: (spec: Obj, body: Obj) => void): Promise<Obj> {
    const name = (stored.metadata as { name: string }).name;
    const current = (await custom.getNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES, name,
    })) as Obj;
    const body = structuredClone(current);
    change(body.spec as Obj, body);
    return (await custom.replaceNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES, name, body, dryRun: "All",
    })) as Obj;
  }

  before(async function () {
    const ground = getGround();
    kc = ground.kubeConfig;
    kubeconfigPath = ground.kubeconfigPath;
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    core = kc.makeApiClient(k8s.CoreV1Api);
    cacheDir = await mkdtemp(path.join(tmpdir(), "wsdb-kubectl-cache-"));
    await installCrds(kc);
    await ensureNamespace(namespace);
  });

  after(async function () {
    for (const name of createdDatabases) {
      await custom
        .deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES, name })
        .catch(() => undefined);
    }
    for (const name of createdServers) {
      await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: DATABASE_SERVERS, name }).catch(() => undefined);
    }
    // The ground's kube-controller-manager (namespace controller) deletes what is left in it.
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  describe("installation", function () {
    it("installs both CRDs, Established, with short names, categories and the status subresource", async function () {
      const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
      const expected = {
        "workspacedatabases.workspacedb.io": { scope: "Namespaced", kind: "WorkspaceDatabase", short: "wsdb" },
        "databaseservers.workspacedb.io": { scope: "Cluster", kind: "DatabaseServer", short: "dbserver" },
      };
      expect((await loadCrds()).map((c) => c.metadata!.name).sort()).to.deep.equal(Object.keys(expected).sort());
      for (const [name, want] of Object.entries(expected)) {
        const crd = await api.readCustomResourceDefinition({ name });
        const established = crd.status?.conditions?.find((c) => c.type === "Established");
        expect(established?.status, `${name} Established`).to.equal("True");
        expect(crd.spec.scope).to.equal(want.scope);
        expect(crd.spec.names.kind).to.equal(want.kind);
        expect(crd.spec.names.shortNames).to.deep.equal([want.short]);
        expect(crd.spec.names.categories).to.include("workspacedb");
        expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).to.deep.equal([[VERSION, true, true]]);
        expect(crd.spec.versions[0]!.subresources?.status).to.deep.equal({});
      }
    });

    it("installs idempotently (a second install changes nothing)", async function () {
      const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
      const name = "workspacedatabases.workspacedb.io";
      const before = (await api.readCustomResourceDefinition({ name })).metadata?.resourceVersion;
      await installCrds(kc);
      const after = (await api.readCustomResourceDefinition({ name })).metadata?.resourceVersion;
      expect(after).to.equal(before);
    });
  });

  describe("samples", function () {
    it("accepts config/samples (server-side dry run)", async function () {
      const secret = await loadSample("pg-admin-secret.yaml");
      const dbserver = await loadSample("databaseserver.yaml");
      const database = await loadSample("workspacedatabase.yaml");
      const secretNs = (secret.metadata as { namespace: string }).namespace;
      const dbNs = (database.metadata as { namespace: string }).namespace;
      expect(secretNs).to.equal("workspacedb-system");
      expect(dbNs).to.equal("workspace-malaria");
      // Namespaces the samples live in are left in place: other tests may use them.
      await ensureNamespace(secretNs);
      await ensureNamespace(dbNs);

      // Other tests may have created objects with the samples' names: dry-run under fresh names.
      (dbserver.metadata as { name: string }).name = `sample-${Date.now().toString(36)}`;
      (database.metadata as { name: string }).name = `sample-${Date.now().toString(36)}`;
      await core.createNamespacedSecret({ namespace: secretNs, body: secret, dryRun: "All" });
      const s = (await custom.createClusterCustomObject({
        group: GROUP, version: VERSION, plural: DATABASE_SERVERS, body: dbserver, dryRun: "All",
      })) as Obj;
      expect((s.spec as Obj).default).to.equal(true);
      expect((s.spec as Obj).host).to.equal("postgres.databases.svc.cluster.local");
      const w = (await custom.createNamespacedCustomObject({
        group: GROUP, version: VERSION, namespace: dbNs, plural: WORKSPACE_DATABASES, body: database, dryRun: "All",
      })) as Obj;
      expect(w.spec).to.deep.equal({
        serverRef: { name: "main" },
        databaseName: "malaria",
        deletionPolicy: "Retain",
        connectionLimit: 50,
        statementTimeout: "90min",
        idleInTransactionSessionTimeout: "5min",
        extensions: ["pg_trgm", "pgcrypto"],
        rotation: { terminateSessions: true },
      });
    });
  });

  describe("defaults", function () {
    it("defaults a WorkspaceDatabase without spec", async function () {
      const w = await dryRunWsdb(wsdb(undefined));
      expect(w.spec).to.deep.equal({
        deletionPolicy: "Retain",
        connectionLimit: 50,
        statementTimeout: "90min",
        idleInTransactionSessionTimeout: "5min",
        rotation: { terminateSessions: true },
      });
    });

    it("defaults the unset fields of a partial WorkspaceDatabase spec and keeps the set ones", async function () {
      const w = await dryRunWsdb(wsdb({ deletionPolicy: "Delete", statementTimeout: "0", rotation: {} }));
      expect(w.spec).to.deep.equal({
        deletionPolicy: "Delete",
        connectionLimit: 50,
        statementTimeout: "0",
        idleInTransactionSessionTimeout: "5min",
        rotation: { terminateSessions: true },
      });
    });

    it("defaults a DatabaseServer: port 5432, sslMode prefer, maintenanceDatabase postgres, default false", async function () {
      const s = await dryRunServer(server(validServerSpec()));
      expect(s.spec).to.deep.equal({
        ...validServerSpec(),
        port: 5432,
        sslMode: "prefer",
        maintenanceDatabase: "postgres",
        default: false,
      });
    });
  });

  describe("valid objects", function () {
    const accepted: Array<[string, Obj]> = [
      ["a 60-byte databaseName", { databaseName: `d${"a".repeat(59)}` }],
      ["databaseName with digits and underscores", { databaseName: "malaria_2026_v2" }],
      ["durations in ms and 0", { statementTimeout: "250ms", idleInTransactionSessionTimeout: "0" }],
      ["durations in us, s, h, d", { statementTimeout: "1500000us", idleInTransactionSessionTimeout: "30s" }],
      ["connectionLimit 1", { connectionLimit: 1 }],
      ["connectionLimit 10000", { connectionLimit: 10000 }],
      ["extensions with - and _", { extensions: ["postgis", "uuid-ossp", "pg_trgm"] }],
    ];
    for (const [what, spec] of accepted) {
      it(`accepts a WorkspaceDatabase with ${what}`, async function () {
        const w = await dryRunWsdb(wsdb(spec));
        for (const [k, v] of Object.entries(spec)) expect((w.spec as Obj)[k]).to.deep.equal(v);
      });
    }

    const acceptedServers: Array<[string, Obj]> = [
      ["an IPv4 host", { host: "10.0.0.12" }],
      ["an IPv6 host", { host: "fd00::12" }],
      ["externalHost and externalPort", { externalHost: "db.example.org", externalPort: 15432, sslMode: "verify-full" }],
      ["externalHost without externalPort", { externalHost: "db.example.org" }],
    ];
    for (const [what, extra] of acceptedServers) {
      it(`accepts a DatabaseServer with ${what}`, async function () {
        const s = await dryRunServer(server({ ...validServerSpec(), ...extra }));
        for (const [k, v] of Object.entries(extra)) expect((s.spec as Obj)[k]).to.deep.equal(v);
      });
    }
  });

  describe("invalid WorkspaceDatabase objects are rejected at admission", function () {
    const rejected: Array<[string, Obj, string[]]> = [
      ["databaseName with a quote", { databaseName: `mal"aria` }, ["spec.databaseName"]],
      ["databaseName with a semicolon", { databaseName: "malaria;drop" }, ["spec.databaseName"]],
      ["databaseName with upper case", { databaseName: "Malaria" }, ["spec.databaseName"]],
      ["databaseName of 61 bytes", { databaseName: `d${"a".repeat(60)}` }, ["spec.databaseName"]],
      ["databaseName starting with a digit", { databaseName: "1malaria" }, ["spec.databaseName"]],
      ["empty databaseName", { databaseName: "" }, ["spec.databaseName"]],
      ["databaseName with a hyphen", { databaseName: "mal-aria" }, ["spec.databaseName"]],
      ["unknown deletionPolicy", { deletionPolicy: "Destroy" }, ["spec.deletionPolicy", "Unsupported value"]],
      ["lower-case deletionPolicy", { deletionPolicy: "delete" }, ["spec.deletionPolicy"]],
      ["negative connectionLimit", { connectionLimit: -1 }, ["spec.connectionLimit"]],
      ["connectionLimit 0", { connectionLimit: 0 }, ["spec.connectionLimit"]],
      ["connectionLimit 1000000", { connectionLimit: 1_000_000 }, ["spec.connectionLimit"]],
      ["connectionLimit as a string", { connectionLimit: "50" }, ["spec.connectionLimit"]],
      ["statementTimeout '90 minutes'", { statementTimeout: "90 minutes" }, ["spec.statementTimeout"]],
      ["statementTimeout 'abc'", { statementTimeout: "abc" }, ["spec.statementTimeout"]],
      ["statementTimeout without unit", { statementTimeout: "5400" }, ["spec.statementTimeout"]],
      ["negative idleInTransactionSessionTimeout", { idleInTransactionSessionTimeout: "-5min" }, ["spec.idleInTransactionSessionTimeout"]],
      ["idleInTransactionSessionTimeout with SQL", { idleInTransactionSessionTimeout: "5min'; DROP" }, ["spec.idleInTransactionSessionTimeout"]],
      ["extension with a quote", { extensions: [`postgis"`] }, ["spec.extensions[0]"]],
      ["extension with a semicolon", { extensions: ["postgis", "x;drop"] }, ["spec.extensions[1]"]],
      ["duplicate extensions", { extensions: ["postgis", "postgis"] }, ["spec.extensions[1]", "Duplicate value"]],
      ["33 extensions", { extensions: Array.from({ length: 33 }, (_, i) => `ext${i}`) }, ["spec.extensions"]],
      ["serverRef without name", { serverRef: {} }, ["spec.serverRef.name"]],
      ["serverRef with an invalid name", { serverRef: { name: "Main Server" } }, ["spec.serverRef.name"]],
      ["non-boolean rotation.terminateSessions", { rotation: { terminateSessions: "yes" } }, ["spec.rotation.terminateSessions"]],
    ];
    for (const [what, spec, needles] of rejected) {
      it(`rejects ${what}`, async function () {
        await expectInvalid(dryRunWsdb(wsdb(spec)), ...needles);
      });
    }
  });

  describe("invalid DatabaseServer objects are rejected at admission", function () {
    const withSpec = (change: (spec: Obj) => void): Obj => {
      const spec = validServerSpec();
      change(spec);
      return spec;
    };
    const rejected: Array<[string, Obj | undefined, string[]]> = [
      ["no spec", undefined, ["spec"]],
      ["no host", withSpec((s) => delete s.host), ["spec.host", "Required"]],
      ["an empty host", withSpec((s) => (s.host = "")), ["spec.host"]],
      ["a host with a space", withSpec((s) => (s.host = "db host")), ["spec.host"]],
      ["a host with a slash", withSpec((s) => (s.host = "db/x")), ["spec.host"]],
      ["a host with a quote", withSpec((s) => (s.host = `db"`)), ["spec.host"]],
      ["a host with a port", withSpec((s) => (s.host = "db:5432")), ["spec.host"]],
      ["no adminSecretRef", withSpec((s) => delete s.adminSecretRef), ["spec.adminSecretRef", "Required"]],
      ["adminSecretRef without namespace", withSpec((s) => (s.adminSecretRef = { name: "pg-admin" })), ["spec.adminSecretRef.namespace"]],
      ["adminSecretRef with an invalid name", withSpec((s) => (s.adminSecretRef = { namespace: "ns", name: "Pg_Admin" })), ["spec.adminSecretRef.name"]],
      ["port 0", withSpec((s) => (s.port = 0)), ["spec.port"]],
      ["port 70000", withSpec((s) => (s.port = 70000)), ["spec.port"]],
      ["externalPort 70000", withSpec((s) => Object.assign(s, { externalHost: "db.example.org", externalPort: 70000 })), ["spec.externalPort"]],
      ["externalPort without externalHost", withSpec((s) => (s.externalPort = 5432)), ["spec.externalPort", "externalPort requires externalHost"]],
      ["an invalid externalHost", withSpec((s) => (s.externalHost = "db.example.org/x")), ["spec.externalHost"]],
      ["unknown sslMode", withSpec((s) => (s.sslMode = "verify")), ["spec.sslMode", "Unsupported value"]],
      ["maintenanceDatabase with a semicolon", withSpec((s) => (s.maintenanceDatabase = "postgres;drop")), ["spec.maintenanceDatabase"]],
      ["non-boolean default", withSpec((s) => (s.default = "yes")), ["spec.default"]],
    ];
    for (const [what, spec, needles] of rejected) {
      it(`rejects ${what}`, async function () {
        await expectInvalid(dryRunServer(server(spec)), ...needles);
      });
    }
  });

  describe("immutability (CEL transition rules)", function () {
    let named: Obj;
    let unnamed: Obj;

    before(async function () {
      named = await createWsdb({ databaseName: `imm_${suffix}`, serverRef: { name: "main" } });
      unnamed = await createWsdb({});
    });

    it("allows changing mutable fields of an object with databaseName and serverRef", async function () {
      const w = await dryRunUpdateWsdb(named, (s) => Object.assign(s, {
        connectionLimit: 75, deletionPolicy: "Delete", statementTimeout: "2h", extensions: ["postgis"],
      }));
      expect((w.spec as Obj).connectionLimit).to.equal(75);
      expect((w.spec as Obj).databaseName).to.equal(`imm_${suffix}`);
    });

    it("allows changing mutable fields of an object without databaseName and serverRef", async function () {
      const w = await dryRunUpdateWsdb(unnamed, (s) => (s.connectionLimit = 10));
      expect((w.spec as Obj).connectionLimit).to.equal(10);
    });

    it("rejects changing databaseName", async function () {
      await expectInvalid(dryRunUpdateWsdb(named, (s) => (s.databaseName = "other")), "spec.databaseName", "databaseName is immutable");
    });

    it("rejects removing databaseName", async function () {
      await expectInvalid(dryRunUpdateWsdb(named, (s) => delete s.databaseName), "spec.databaseName", "databaseName is immutable");
    });

    it("rejects adding databaseName", async function () {
      await expectInvalid(dryRunUpdateWsdb(unnamed, (s) => (s.databaseName = "added")), "spec.databaseName", "databaseName is immutable");
    });

    it("rejects removing the whole spec of an object with databaseName", async function () {
      await expectInvalid(
        dryRunUpdateWsdb(named, (_s, body) => delete body.spec),
        "databaseName is immutable",
      );
    });

    it("rejects changing serverRef", async function () {
      await expectInvalid(dryRunUpdateWsdb(named, (s) => (s.serverRef = { name: "other" })), "spec.serverRef", "serverRef is immutable");
    });

    it("rejects removing serverRef", async function () {
      await expectInvalid(dryRunUpdateWsdb(named, (s) => delete s.serverRef), "spec.serverRef", "serverRef is immutable");
    });

    it("rejects adding serverRef", async function () {
      await expectInvalid(dryRunUpdateWsdb(unnamed, (s) => (s.serverRef = { name: "main" })), "spec.serverRef", "serverRef is immutable");
    });
  });

  describe("status subresource", function () {
    const sampleStatus = (readOnlyToken: string | null): Obj => ({
      observedGeneration: 1,
      conditions: [{
        type: "Ready", status: "True", reason: "Provisioned", message: "database malaria is ready",
        lastTransitionTime: "2026-11-28T10:00:00Z", observedGeneration: 1,
      }],
      server: "main",
      database: "malaria",
      credentials: {
        readWrite: { secretName: "malaria-rw", username: "malaria", passwordChangedAt: "2026-11-28T10:00:00Z", regenerateToken: "2026-11-28T10:00" },
        readOnly: { secretName: "malaria-ro", username: "malaria_ro", passwordChangedAt: "2026-11-28T10:00:00Z", regenerateToken: readOnlyToken },
      },
    });

    async function replaceStatus(status: Obj): Promise<Obj> {
      const created = await createWsdb({});
      const body = { ...created, status };
      return (await custom.replaceNamespacedCustomObjectStatus({
        group: GROUP, version: VERSION, namespace, plural: WORKSPACE_DATABASES,
        name: (created.metadata as { name: string }).name, body,
      })) as Obj;
    }

    it("stores a status in the documented shape, keeping a null regenerateToken", async function () {
      const stored = await replaceStatus(sampleStatus(null));
      expect(stored.status).to.deep.equal(sampleStatus(null));
    });

    it("rejects a condition with an unknown status", async function () {
      const status = sampleStatus("x");
      ((status.conditions as Obj[])[0]!).status = "Maybe";
      await expectInvalid(replaceStatus(status), "status.conditions[0].status");
    });

    it("ignores status on create (status subresource): a new object carries only the defaulted observedGeneration 0, which kstatus reads as in progress", async function () {
      const created = await createWsdb({});
      expect(created.status).to.deep.equal({ observedGeneration: 0 });
      const body = wsdb({}, uniqueName("wsdb"));
      body.status = sampleStatus(null);
      const w = await dryRunWsdb(body);
      expect(w.status).to.deep.equal({ observedGeneration: 0 });
    });
  });

  describe("kubectl", function () {
    it("explains wsdb.spec.deletionPolicy with its description", async function () {
      const out = await eventually(async () => {
        const text = await kubectl(kubeconfigPath, cacheDir, "explain", "wsdb.spec.deletionPolicy");
        expect(text.replace(/\s+/g, " ")).to.contain("Retain (default) keeps the database");
        return text;
      });
      expect(out).to.contain("deletionPolicy");
    });

    it("explains dbserver.spec.sslMode with its description", async function () {
      await eventually(async () => {
        const text = await kubectl(kubeconfigPath, cacheDir, "explain", "dbserver.spec.sslMode");
        expect(text.replace(/\s+/g, " ")).to.contain("libpq sslmode");
      });
    });

    it("prints the WorkspaceDatabase and DatabaseServer columns", async function () {
      const name = uniqueName("server");
      await custom.createClusterCustomObject({
        group: GROUP, version: VERSION, plural: DATABASE_SERVERS, body: server({ ...validServerSpec(), port: 6543 }, name),
      });
      createdServers.push(name);
      const servers = await kubectl(kubeconfigPath, cacheDir, "get", "dbserver", name);
      const [serverHeader, serverRow] = servers.trim().split("\n");
      expect(serverHeader!.split(/\s+/)).to.deep.equal(["NAME", "HOST", "PORT", "DEFAULT", "VERSION", "DATABASES", "READY", "REASON", "AGE"]);
      expect(serverRow!.split(/\s+/).slice(0, 4)).to.deep.equal([name, "postgres.databases.svc.cluster.local", "6543", "false"]);

      await createWsdb({});
      const databases = await kubectl(kubeconfigPath, cacheDir, "get", "wsdb", "-n", namespace);
      expect(databases.split("\n")[0]!.split(/\s+/)).to.deep.equal(["NAME", "DATABASE", "SERVER", "READY", "REASON", "AGE"]);
      // The category lists both kinds.
      const all = await kubectl(kubeconfigPath, cacheDir, "get", "workspacedb", "-n", namespace, "-o", "name");
      expect(all).to.match(/^workspacedatabase\.workspacedb\.io\//m);
      expect(all).to.contain(`databaseserver.workspacedb.io/${name}`);
    });
  });
});
