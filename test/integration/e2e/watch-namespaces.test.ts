// End to end: watchNamespaces and workspaceSelector, installed with the chart's namespaced RBAC and
// run under its ServiceAccount. Only labelled WorkspaceDatabases of a watched namespace are touched; the
// account cannot read Secrets outside the watched namespaces (and can only get them in its own); a
// selector the API server refuses stops the process with a message.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AuthorizationV1Api, PatchStrategy, setHeaderOptions, type V1ResourceAttributes } from "@kubernetes/client-node";
import { expect } from "chai";
import { stringify } from "yaml";
import type { WorkspaceDatabase, WorkspaceDatabaseSpec } from "../../../src/api/types.ts";
import { loadSettings } from "../../../src/config/settings.ts";
import { deriveDatabaseName } from "../../../src/postgres/naming.ts";
import { getGround } from "../../ground/index.ts";
import { CHART, documents, serviceAccountKubeconfig, tools } from "../support/deploy.ts";
import {
  GROUP,
  SYSTEM_NAMESPACE,
  VERSION,
  canLogin,
  clients,
  databaseServerBody,
  deleteDatabaseServer,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getDatabaseServer,
  getWorkspace,
  listEvents,
  readSecret,
  setupServer,
  unique,
  waitGone,
  waitReady,
  waitServerReason,
} from "../support/fixtures.ts";
import { frontProxyPair, requestDataApi } from "../support/data-api.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { databaseExists } from "../support/targets.ts";

const SELECTOR_LABEL = "workspacedb.example.org/shard";

/** Creates a WorkspaceDatabase with labels. */
async function createLabelled(namespace: string, name: string, labels: Record<string, string>, spec: WorkspaceDatabaseSpec = {}): Promise<void> {
  const { custom } = clients();
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: "workspacedatabases",
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: "WorkspaceDatabase", metadata: { name, namespace, labels }, spec },
  });
}

async function labelWorkspace(namespace: string, name: string, labels: Record<string, string | null>): Promise<void> {
  const { custom } = clients();
  await custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: "workspacedatabases", name, body: { metadata: { labels } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

/** Everything the operator would have left on an object it handled: finalizer, status, Secrets, Events, database. */
async function traces(namespace: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const obj = (await getWorkspace(namespace, name)) as WorkspaceDatabase;
  if ((obj.metadata.finalizers ?? []).length > 0) found.push(`finalizers ${JSON.stringify(obj.metadata.finalizers)}`);
  // The CRD defaults status to { observedGeneration: 0 } until the operator's first pass writes it.
  if (obj.status !== undefined && JSON.stringify(obj.status) !== JSON.stringify({ observedGeneration: 0 })) found.push(`status ${JSON.stringify(obj.status)}`);
  for (const secret of [`${name}-rw`, `${name}-ro`]) if (await readSecret(namespace, secret)) found.push(`Secret ${secret}`);
  const events = await listEvents(namespace, name);
  if (events.length > 0) found.push(`Events ${events.map((e) => e.reason).join(",")}`);
  if (await databaseExists(getGround().postgres, deriveDatabaseName(namespace, name))) found.push("database");
  return found;
}

describe("watchNamespaces and workspaceSelector with the chart's namespaced RBAC (end to end)", function () {
  this.timeout(300_000);
  const id = unique("wn");
  const watched = `${id}-a`;
  const unwatched = `${id}-b`;
  const release = id;
  const fullname = `${release}-workspacedb-operator`;
  const saUser = `system:serviceaccount:${SYSTEM_NAMESPACE}:${fullname}`;
  const saGroups = ["system:serviceaccounts", `system:serviceaccounts:${SYSTEM_NAMESPACE}`, "system:authenticated"];
  const selector = `${SELECTOR_LABEL}=one`;
  const serverInWatched = `${id}-admin-in-a`;
  const serverInUnwatched = `${id}-admin-in-b`;
  let installed = false;
  let saKubeconfig = "";
  let settingsFile = "";
  let operator: OperatorProcess | undefined;
  let ignoredSince = 0;

  /** Whether the chart's ServiceAccount may do `attrs` (SubjectAccessReview, asked by the admin). */
  async function saCan(attrs: V1ResourceAttributes): Promise<boolean> {
    const api = getGround().kubeConfig.makeApiClient(AuthorizationV1Api);
    const review = await api.createSubjectAccessReview({ body: { spec: { user: saUser, groups: saGroups, resourceAttributes: attrs } } });
    return review.status?.allowed === true;
  }

  before(async () => {
    await setupServer("main");
    await ensureNamespace(watched);
    await ensureNamespace(unwatched);
    const ground = getGround();
    const values = join(ground.root, `values-${id}.yaml`);
    writeFileSync(values, stringify({
      watchNamespaces: [watched],
      workspaceSelector: selector,
      leaderElection: { leaseName: `lease-${id}` },
      userRoles: { create: false },
      // The data API runs (below, with the chart's certificate and RBAC); no APIService, since no pod
      // of this release would answer it and an unanswered APIService stalls namespace deletion.
      dataApi: { apiService: { create: false } },
    }));
    const { helm } = tools();
    await helm(["install", release, CHART, "--namespace", SYSTEM_NAMESPACE, "--values", values, "--kubeconfig", ground.kubeconfigPath]);
    installed = true;
    saKubeconfig = await serviceAccountKubeconfig(SYSTEM_NAMESPACE, fullname);
    // The operator's settings file exactly as the chart's ConfigMap holds it.
    const { core } = clients();
    const cm = await core.readNamespacedConfigMap({ name: `${fullname}-config`, namespace: SYSTEM_NAMESPACE });
    settingsFile = join(ground.root, `settings-${id}.yaml`);
    writeFileSync(settingsFile, cm.data?.["operator.yaml"] ?? "");
    // The data API's certificate the chart generated, where the pod would mount it.
    const tls = await core.readNamespacedSecret({ name: `${fullname}-data-api-tls`, namespace: SYSTEM_NAMESPACE });
    for (const key of ["tls.crt", "tls.key", "ca.crt"]) writeFileSync(join(ground.root, `${id}-${key}`), Buffer.from(tls.data?.[key] ?? "", "base64"));
    // The authorizer's RBAC cache follows new bindings within moments.
    await eventually("the chart's Roles in effect", async () =>
      (await saCan({ group: GROUP, resource: "workspacedatabases", verb: "watch", namespace: watched })) ? true : undefined, 15_000);
  });

  after(async () => {
    try {
      if (operator !== undefined && operator.proc.child.exitCode === null) {
        // Deleted while the operator runs, so that its finalizers are handled.
        for (const [ns, name] of [[watched, "sales"], [watched, "unlabelled"], [watched, "other-shard"], [unwatched, "sales"]] as const) {
          await deleteWorkspace(ns, name).catch(() => undefined);
          await waitGone(ns, name, 60_000).catch(() => undefined);
        }
        for (const server of [serverInWatched, serverInUnwatched]) {
          await deleteDatabaseServer(server).catch(() => undefined);
          await eventually(`DatabaseServer ${server} gone`, async () => ((await getDatabaseServer(server)) === undefined ? true : undefined), 60_000).catch(() => undefined);
        }
      }
    } finally {
      await operator?.stop();
      if (installed) await tools().helm(["uninstall", release, "--namespace", SYSTEM_NAMESPACE, "--kubeconfig", getGround().kubeconfigPath]).catch(() => undefined);
      const { core } = clients();
      for (const ns of [watched, unwatched]) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
  });

  it("renders a ClusterRole with only cluster-scoped rules and a Role per watched namespace and the release's", async () => {
    const { helm } = tools();
    const docs = documents((await helm(["template", release, CHART, "--namespace", SYSTEM_NAMESPACE, "--set", `watchNamespaces={${watched},${unwatched}}`])).stdout);
    type Rbac = { kind: string; metadata: { name: string; namespace?: string }; rules?: Array<{ resources: string[]; verbs: string[] }> };
    const rbac = docs as unknown as Rbac[];
    const clusterRole = rbac.find((d) => d.kind === "ClusterRole" && d.metadata.name === fullname)!;
    expect(clusterRole.rules!.flatMap((r) => r.resources)).to.have.members([
      "databaseservers", "databaseservers/finalizers", "databaseservers/status", "namespaces", "customresourcedefinitions",
    ]);
    const roles = rbac.filter((d) => d.kind === "Role" && d.metadata.name === fullname);
    expect(roles.map((r) => r.metadata.namespace)).to.have.members([watched, unwatched, SYSTEM_NAMESPACE]);
    const bindings = rbac.filter((d) => d.kind === "RoleBinding" && d.metadata.name === fullname);
    expect(bindings.map((r) => r.metadata.namespace)).to.have.members([watched, unwatched, SYSTEM_NAMESPACE]);
    const own = roles.find((r) => r.metadata.namespace === SYSTEM_NAMESPACE)!;
    expect(own.rules!.find((r) => r.resources.includes("secrets"))!.verbs).to.deep.equal(["get"]);
    expect(own.rules!.flatMap((r) => r.resources)).to.not.include("workspacedatabases");
    const settings = loadSettings(["--config", settingsFile], { POD_NAMESPACE: SYSTEM_NAMESPACE });
    expect(settings).to.include({ workspaceSelector: selector });
    expect(settings.watchNamespaces).to.deep.equal([watched]);

    const failure = async (args: string[]): Promise<string> => {
      try {
        await helm(["template", release, CHART, ...args]);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`helm template ${args.join(" ")} should have failed`);
    };
    // values.schema.json refuses them first, naming the value; the templates still do with --skip-schema-validation.
    expect(await failure(["--set", "watchNamespaces=team-a"])).to.contain("at '/watchNamespaces': got string, want array");
    expect(await failure(["--set", "watchNamespaces={Team_A}"])).to.contain("at '/watchNamespaces/0': 'Team_A' does not match pattern");
    expect(await failure(["--set", "settings.watchNamespaces={a}"])).to.match(/at '\/settings': additional properties? 'watchNamespaces' not allowed/);
    expect(await failure(["--set", "settings.workspaceSelector=a"])).to.match(/at '\/settings': additional properties? 'workspaceSelector' not allowed/);
    expect(await failure(["--skip-schema-validation", "--set", "watchNamespaces=team-a"])).to.contain("watchNamespaces must be a list of namespace names");
    expect(await failure(["--skip-schema-validation", "--set", "watchNamespaces={Team_A}"])).to.contain('watchNamespaces: "Team_A" is not a namespace name');
    expect(await failure(["--skip-schema-validation", "--set", "settings.watchNamespaces={a}"])).to.contain("settings.watchNamespaces is not allowed");
    expect(await failure(["--skip-schema-validation", "--set", "settings.workspaceSelector=a"])).to.contain("settings.workspaceSelector is not allowed");
  });

  it("gives the ServiceAccount namespaced rights only: no Secrets or WorkspaceDatabases cluster-wide", async () => {
    const allowed: V1ResourceAttributes[] = [
      { group: GROUP, resource: "workspacedatabases", verb: "list", namespace: watched },
      { group: GROUP, resource: "workspacedatabases", subresource: "status", verb: "patch", namespace: watched },
      { group: GROUP, resource: "workspacedatabases", subresource: "finalizers", verb: "update", namespace: watched },
      { group: "", resource: "secrets", verb: "list", namespace: watched },
      { group: "", resource: "secrets", verb: "create", namespace: watched },
      { group: "", resource: "secrets", verb: "get", namespace: SYSTEM_NAMESPACE, name: "main-admin" },
      { group: "", resource: "events", verb: "create", namespace: watched },
      { group: "", resource: "events", verb: "create", namespace: SYSTEM_NAMESPACE },
      { group: GROUP, resource: "databaseservers", verb: "watch" },
      { group: GROUP, resource: "databaseservers", subresource: "status", verb: "patch" },
      { group: "", resource: "namespaces", verb: "get", name: watched },
      { group: "coordination.k8s.io", resource: "leases", verb: "update", namespace: SYSTEM_NAMESPACE, name: `lease-${id}` },
    ];
    for (const attrs of allowed) expect(await saCan(attrs), `allowed: ${JSON.stringify(attrs)}`).to.equal(true);
    const denied: V1ResourceAttributes[] = [
      { group: "", resource: "secrets", verb: "list" },
      { group: "", resource: "secrets", verb: "get" },
      { group: "", resource: "secrets", verb: "watch" },
      { group: "", resource: "secrets", verb: "get", namespace: unwatched, name: "anything" },
      { group: "", resource: "secrets", verb: "list", namespace: SYSTEM_NAMESPACE },
      { group: "", resource: "secrets", verb: "create", namespace: SYSTEM_NAMESPACE },
      { group: GROUP, resource: "workspacedatabases", verb: "list" },
      { group: GROUP, resource: "workspacedatabases", verb: "get", namespace: unwatched },
      { group: GROUP, resource: "workspacedatabases", subresource: "status", verb: "patch", namespace: unwatched },
      { group: "", resource: "events", verb: "create", namespace: unwatched },
      { group: "", resource: "events", verb: "create" },
    ];
    for (const attrs of denied) expect(await saCan(attrs), `denied: ${JSON.stringify(attrs)}`).to.equal(false);
    // The same question as kubectl asks it.
    const { kubectl } = tools();
    const canI = await kubectl(["auth", "can-i", "list", "secrets", "--all-namespaces", `--as=${saUser}`], { allowFailure: true });
    expect(canI.stdout.trim()).to.equal("no");
    const inWatched = await kubectl(["auth", "can-i", "list", "secrets", "-n", watched, `--as=${saUser}`], { allowFailure: true });
    expect(inWatched.stdout.trim()).to.equal("yes");
  });

  it("runs the real operator under that ServiceAccount: a labelled WorkspaceDatabase of the watched namespace becomes Ready", async () => {
    // Created first: the operator must leave them alone.
    await createLabelled(unwatched, "sales", { [SELECTOR_LABEL]: "one" }, { deletionPolicy: "Delete" });
    await createLabelled(watched, "unlabelled", {}, { deletionPolicy: "Delete" });
    await createLabelled(watched, "other-shard", { [SELECTOR_LABEL]: "two" }, { deletionPolicy: "Delete" });
    ignoredSince = Date.now();
    const root = getGround().root;
    operator = startOperator({
      KUBECONFIG: saKubeconfig, WSDB_CONFIG: settingsFile, POD_NAMESPACE: SYSTEM_NAMESPACE,
      WSDB_DATA_API_HOST: "127.0.0.1", WSDB_DATA_API_PORT: "0", WSDB_DATA_API_CERT_FILE: join(root, `${id}-tls.crt`), WSDB_DATA_API_KEY_FILE: join(root, `${id}-tls.key`),
    }, "watch-namespaces");
    await createLabelled(watched, "sales", { [SELECTOR_LABEL]: "one" }, { deletionPolicy: "Delete" });
    const obj = await waitReady(watched, "sales", 90_000);
    expect(obj.metadata.finalizers).to.include("workspacedb.io/finalizer");
    const rw = await readSecret(watched, "sales-rw");
    expect(await canLogin(rw!.uri!)).to.equal(true);
    expect(await databaseExists(getGround().postgres, obj.status!.database!)).to.equal(true);
    expect(operator.log()).to.contain("became the leader");
    expect(operator.log()).to.contain("watching WorkspaceDatabases and their Secrets in these namespaces only");
  });

  it("never touches a WorkspaceDatabase of an unwatched namespace, nor one the selector excludes (through resyncs)", async () => {
    // Past one resync period (10 s in tests) since the operator saw them.
    await sleep(Math.max(0, ignoredSince + 13_000 - Date.now()));
    expect(await traces(unwatched, "sales"), `${unwatched}/sales`).to.deep.equal([]);
    expect(await traces(watched, "unlabelled"), `${watched}/unlabelled`).to.deep.equal([]);
    expect(await traces(watched, "other-shard"), `${watched}/other-shard`).to.deep.equal([]);
    expect(operator!.log()).to.not.contain(unwatched.concat("/sales"));
  });

  it("takes an object over once it gets the label, and deletes it", async () => {
    await labelWorkspace(watched, "unlabelled", { [SELECTOR_LABEL]: "one" });
    const obj = await waitReady(watched, "unlabelled", 60_000);
    expect(obj.metadata.finalizers).to.include("workspacedb.io/finalizer");
    await deleteWorkspace(watched, "unlabelled");
    await waitGone(watched, "unlabelled", 60_000);
    expect(await databaseExists(getGround().postgres, obj.status!.database!)).to.equal(false);
    // The other shard's object is still untouched, and removable at once.
    expect(await traces(watched, "other-shard")).to.deep.equal([]);
    await deleteWorkspace(watched, "other-shard");
    await waitGone(watched, "other-shard", 10_000);
  });

  it("reads a DatabaseServer's admin Secret in its own namespace or a watched one, and is refused it elsewhere", async () => {
    const ground = getGround();
    const { core, custom } = clients();
    for (const ns of [watched, unwatched]) {
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: "pg-admin", namespace: ns }, stringData: { username: ground.postgres.adminUser, password: ground.postgres.adminPassword } },
      });
    }
    await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", body: databaseServerBody(serverInWatched, { adminSecretRef: { namespace: watched, name: "pg-admin" } }) });
    await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "databaseservers", body: databaseServerBody(serverInUnwatched, { adminSecretRef: { namespace: unwatched, name: "pg-admin" } }) });
    // "main" keeps its admin Secret in the release's namespace: it served the workspaces above.
    expect((await getDatabaseServer("main"))?.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
    await waitServerReason(serverInWatched, "Connected", 60_000);
    const refused = await eventually(`DatabaseServer ${serverInUnwatched} not Ready`, async () => {
      const ready = (await getDatabaseServer(serverInUnwatched))?.status?.conditions?.find((c) => c.type === "Ready");
      return ready?.status === "False" ? ready : undefined;
    }, 60_000);
    expect(refused.message).to.match(/forbidden/i);
    expect(refused.message).to.contain(unwatched);
  });

  it("serves the data API with the chart's certificate and only the chart's RBAC (SubjectAccessReviews, the authentication ConfigMap)", async () => {
    if (getGround().certs === undefined) return;
    const op = operator!;
    const port = Number(/"message":"serving the data API"[^\n]*"port":(\d+)|"port":(\d+)[^\n]*"message":"serving the data API"/.exec(op.log())?.slice(1).find((p) => p !== undefined) ?? 0);
    expect(port).to.be.greaterThan(0);
    const ask = async (headers: Record<string, string>) => (await requestDataApi(port, `/apis/data.workspacedb.io/v1alpha1/namespaces/${watched}/workspacetables`, {
      ca: readFileSync(join(getGround().root, `${id}-ca.crt`), "utf8"), cert: frontProxyPair(), headers, service: `${fullname}-data-api`,
    })).status;
    // 403, not 503: the ServiceAccount could ask the API server (a SubjectAccessReview), which said no.
    expect(await ask({ "X-Remote-User": "alice", "X-Remote-Group": "nobody-in-particular" })).to.equal(403);
    expect(await ask({ "X-Remote-User": "admin", "X-Remote-Group": "system:masters" })).to.equal(200);
  });

  it("was refused nothing by the API server but that admin Secret (operator log)", () => {
    const refusals = operator!.log().split("\n").filter((l) => /forbidden|"code":403/i.test(l));
    for (const line of refusals) expect(line).to.contain(unwatched);
  });

  it("exits with code 2 naming workspaceSelector when the API server refuses it", async () => {
    const op = startOperator({ WSDB_LEADER_ELECTION: "false", WSDB_WATCH_NAMESPACES: watched, WSDB_WORKSPACE_SELECTOR: "shard one" }, "bad-selector");
    const code = await Promise.race([op.proc.exited, sleep(60_000).then(() => "still running")]);
    if (code === "still running") await op.kill();
    expect(code).to.equal(2);
    expect(op.log()).to.contain('setting "workspaceSelector" ("shard one") was refused by the API server');
  });
});
