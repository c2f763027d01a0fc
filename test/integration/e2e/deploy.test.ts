// End to end: the install manifests (Helm chart, config/manager, config/rbac) are accepted by a real
// API server, and the operator's RBAC is least privilege for real: the operator runs with nothing but
// the ServiceAccount of config/rbac and still does its whole job, and that account can do nothing else.
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ResourceAttributes,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { parse, parseAllDocuments, stringify } from "yaml";
import { loadSettings } from "../../../src/config/settings.ts";
import { REPO_ROOT, getGround } from "../../ground/index.ts";
import { installCrds } from "../support/crds.ts";
import {
  SYSTEM_NAMESPACE,
  annotateWorkspace,
  canLogin,
  clients,
  createWorkspace,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  listEvents,
  readSecret,
  setupServer,
  unique,
  waitGone,
  waitReady,
} from "../support/fixtures.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { groundBinary } from "../../support/bin.ts";

const CHART = join(REPO_ROOT, "charts", "workspacedb-operator");
const SERVICE_ACCOUNT = "workspacedb-operator";
const SA_USER = `system:serviceaccount:${SYSTEM_NAMESPACE}:${SERVICE_ACCOUNT}`;
const SA_GROUPS = ["system:serviceaccounts", `system:serviceaccounts:${SYSTEM_NAMESPACE}`, "system:authenticated"];

interface Output {
  stdout: string;
  stderr: string;
}

/** Runs a command; rejects with its output when it exits non-zero. */
function run(command: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(" ")} exited with ${String(code)}:\n${stderr}${stdout}`));
    });
    child.stdin.end(opts.input ?? "");
  });
}

interface Tools {
  helm: (args: string[]) => Promise<Output>;
  kubectl: (args: string[], input?: string, kubeconfig?: string) => Promise<Output>;
}
let cachedTools: Tools | undefined;

/** Helm and kubectl with their caches and settings in the ground's folder, never in $HOME. */
function tools(): Tools {
  if (cachedTools) return cachedTools;
  const ground = getGround();
  const home = join(ground.root, "deploy-tools");
  mkdirSync(home, { recursive: true });
  const helm = groundBinary("helm");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CACHE_HOME: join(home, "helm-cache"),
    HELM_CONFIG_HOME: join(home, "helm-config"),
    HELM_DATA_HOME: join(home, "helm-data"),
  };
  return (cachedTools = {
    helm: (args) => run(helm, args, { env }),
    kubectl: (args, input, kubeconfig = ground.kubeconfigPath) =>
      run(process.env.KUBECTL ?? "kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(home, "kube-cache"), ...args], { input, env }),
  });
}

/** The documents of a multi-document YAML text (empty ones dropped). */
function documents(text: string): Array<Record<string, unknown>> {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, unknown> | null)
    .filter((d): d is Record<string, unknown> => d !== null && typeof d === "object");
}

function kindsOf(docs: Array<Record<string, unknown>>): string[] {
  return docs.map((d) => String(d.kind)).sort();
}

/** Loads the settings file of the ConfigMap among `docs` exactly as the operator in the pod would. */
function settingsOf(docs: Array<Record<string, unknown>>, podNamespace: string): ReturnType<typeof loadSettings> {
  const cm = docs.find((d) => d.kind === "ConfigMap") as { data?: Record<string, string> } | undefined;
  const text = cm?.data?.["operator.yaml"];
  expect(text, "ConfigMap with operator.yaml").to.be.a("string");
  const file = join(getGround().root, `settings-${unique("cm")}.yaml`);
  writeFileSync(file, text!);
  return loadSettings(["--config", file], { POD_NAMESPACE: podNamespace });
}

/** Applies manifests with --dry-run=server and returns kubectl's output; every object must be accepted. */
async function serverDryRun(manifests: string, kubeconfig?: string): Promise<Output> {
  const out = await tools().kubectl(["apply", "--dry-run=server", "-f", "-"], manifests, kubeconfig);
  const expected = documents(manifests).length;
  const accepted = out.stdout.split("\n").filter((l) => /\(server dry run\)$/.test(l.trim()));
  expect(accepted, out.stdout).to.have.length(expected);
  return out;
}

/** A minimal ServiceMonitor CRD (the Prometheus Operator's kind), so that the chart's one can be dry-run. */
async function ensureServiceMonitorCrd(): Promise<void> {
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "servicemonitors.monitoring.coreos.com" },
    spec: {
      group: "monitoring.coreos.com",
      scope: "Namespaced",
      names: { kind: "ServiceMonitor", plural: "servicemonitors", singular: "servicemonitor", listKind: "ServiceMonitorList" },
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  };
  const { kubectl } = tools();
  await kubectl(["apply", "-f", "-"], stringify(crd));
  await kubectl(["wait", "--for=condition=Established", "--timeout=30s", "crd/servicemonitors.monitoring.coreos.com"]);
}

describe("install manifests (end to end)", function () {
  this.timeout(180_000);

  before(async () => {
    await installCrds(getGround().kubeConfig);
    await ensureNamespace(SYSTEM_NAMESPACE);
  });
  after(async () => {
    await tools().kubectl(["delete", "--ignore-not-found", "crd/servicemonitors.monitoring.coreos.com"]).catch(() => undefined);
  });

  it("ships the chart's CRDs byte-identical to crds/", () => {
    const top = readdirSync(join(REPO_ROOT, "crds")).filter((f) => f.endsWith(".yaml")).sort();
    const chart = readdirSync(join(CHART, "crds")).filter((f) => f.endsWith(".yaml")).sort();
    expect(chart).to.deep.equal(top);
    for (const file of top) {
      const a = readFileSync(join(REPO_ROOT, "crds", file));
      const b = readFileSync(join(CHART, "crds", file));
      expect(b.equals(a), `charts/workspacedb-operator/crds/${file} differs from crds/${file}: copy it again`).to.equal(true);
    }
  });

  it("passes helm lint --strict, with default values and with overrides", async () => {
    const { helm } = tools();
    const out = await helm(["lint", "--strict", CHART]);
    expect(out.stdout).to.contain("0 chart(s) failed");
    await helm(["lint", "--strict", CHART, "--set", "replicaCount=1,leaderElection.enabled=false,metrics.serviceMonitor.enabled=true"]);
  });

  it("renders with default values into manifests the API server accepts", async () => {
    const { helm } = tools();
    const rendered = (await helm(["template", "workspacedb-operator", CHART, "--namespace", SYSTEM_NAMESPACE, "--include-crds"])).stdout;
    const docs = documents(rendered);
    expect(kindsOf(docs)).to.deep.equal([
      "APIService", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "ConfigMap",
      "CustomResourceDefinition", "CustomResourceDefinition", "Deployment", "Pod", "PodDisruptionBudget",
      "Role", "RoleBinding", "RoleBinding", "Secret", "Service", "Service", "ServiceAccount",
    ]);
    // The one Pod is the `helm test` hook (a pod of the operator's image, deleted once it succeeded).
    const testPod = docs.find((d) => d.kind === "Pod") as { metadata: { name: string; annotations: Record<string, string> } };
    expect(testPod.metadata.name).to.equal("workspacedb-operator-test-leader");
    expect(testPod.metadata.annotations).to.include({ "helm.sh/hook": "test", "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded" });
    const deployment = docs.find((d) => d.kind === "Deployment") as {
      metadata: { name: string; namespace: string };
      spec: { replicas: number; template: { spec: { serviceAccountName: string; containers: Array<Record<string, unknown>> } } };
    };
    expect(deployment.metadata).to.include({ name: "workspacedb-operator", namespace: SYSTEM_NAMESPACE });
    expect(deployment.spec.replicas).to.equal(2);
    expect(deployment.spec.template.spec.serviceAccountName).to.equal(SERVICE_ACCOUNT);
    const container = deployment.spec.template.spec.containers[0]!;
    expect(container.image).to.equal("workspacedb-operator:0.1.0");
    expect(container.args).to.deep.equal(["--config", "/etc/workspacedb/operator.yaml"]);
    expect(container.securityContext).to.deep.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });

    const settings = settingsOf(docs, SYSTEM_NAMESPACE);
    expect(settings.leaderElection).to.include({ enabled: true, namespace: SYSTEM_NAMESPACE, leaseName: "workspacedb-operator" });
    expect(settings.metricsPort).to.equal(8080);
    // The data API: its port, the mounted certificate the settings point at, and the APIService trusting its CA.
    expect(settings.dataApi).to.include({ enabled: true, port: 8443, certFile: "/var/run/workspacedb/data-api/tls.crt" });
    expect(container.ports).to.deep.include({ name: "data-api", containerPort: 8443, protocol: "TCP" });
    expect(container.volumeMounts).to.deep.include({ name: "data-api-tls", mountPath: "/var/run/workspacedb/data-api", readOnly: true });
    const tls = docs.find((d) => d.kind === "Secret") as { data: Record<string, string> };
    const apiService = docs.find((d) => d.kind === "APIService") as { spec: { caBundle: string; service: { name: string; namespace: string; port: number } } };
    expect(apiService.spec.caBundle).to.equal(tls.data["ca.crt"]);
    expect(apiService.spec.service).to.deep.equal({ namespace: SYSTEM_NAMESPACE, name: "workspacedb-operator-data-api", port: 443 });
    const serving = new X509Certificate(Buffer.from(tls.data["tls.crt"]!, "base64"));
    expect(serving.checkHost("workspacedb-operator-data-api.workspacedb-system.svc")).to.equal("workspacedb-operator-data-api.workspacedb-system.svc");
    expect(serving.verify(new X509Certificate(Buffer.from(tls.data["ca.crt"]!, "base64")).publicKey)).to.equal(true);

    await serverDryRun(rendered);
  });

  it("renders with overrides (one replica, ServiceMonitor, custom settings) into accepted manifests that meet the restricted Pod Security Standard", async () => {
    const ns = unique("wsdb-chart");
    const { core } = clients();
    await core.createNamespace({
      body: { metadata: { name: ns, labels: { "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted" } } },
    });
    await ensureServiceMonitorCrd();
    const { helm } = tools();
    const rendered = (await helm([
      "template", "wsdb", CHART, "--namespace", ns,
      "--set", "replicaCount=1,leaderElection.enabled=false,metrics.serviceMonitor.enabled=true,metrics.port=9090",
      "--set", "settings.logLevel=debug,settings.workers=8,settings.resyncPeriod=1m,image.tag=dev",
      "--set", "userRoles.aggregateToDefaultRoles=true,userRoles.adminsAnnotationsOnly.enabled=true",
    ])).stdout;
    const docs = documents(rendered);
    expect(kindsOf(docs)).to.deep.equal([
      "APIService", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "ConfigMap", "Deployment",
      "Pod", "RoleBinding", "Secret", "Service", "Service", "ServiceAccount", "ServiceMonitor", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    ]);
    const settings = settingsOf(docs, ns);
    expect(settings).to.include({ logLevel: "debug", workers: 8, resyncPeriod: 60_000, metricsPort: 9090 });
    expect(settings.leaderElection).to.include({ enabled: false, namespace: ns });
    expect(rendered).to.contain("image: \"workspacedb-operator:dev\"");

    const out = await serverDryRun(rendered);
    expect(out.stderr).to.not.match(/violate PodSecurity/i);
  });

  it("renders without its own ServiceAccount, RBAC or Service, pinned by digest, into accepted manifests", async () => {
    const ns = unique("wsdb-chart");
    await ensureNamespace(ns);
    const values = join(getGround().root, `values-${ns}.yaml`);
    writeFileSync(values, stringify({
      serviceAccount: { create: false, name: "default" },
      rbac: { create: false },
      userRoles: { create: false },
      metrics: { service: { enabled: false } },
      image: { repository: "registry.example.org/wsdb", digest: `sha256:${"a".repeat(64)}` },
      extraEnv: [{ name: "WSDB_PASSWORD_LENGTH", value: "48" }],
      leaderElection: { leaseName: "custom-lease" },
      dataApi: { enabled: false },
    }));
    const { helm } = tools();
    const rendered = (await helm(["template", "wsdb", CHART, "--namespace", ns, "--values", values])).stdout;
    const docs = documents(rendered);
    expect(kindsOf(docs)).to.deep.equal(["ConfigMap", "Deployment", "PodDisruptionBudget"]);
    expect(rendered).to.contain(`registry.example.org/wsdb@sha256:${"a".repeat(64)}`);
    expect(settingsOf(docs, ns).leaderElection.leaseName).to.equal("custom-lease");
    await serverDryRun(rendered);
  });

  it("gives the operator the same rules in the chart as in config/rbac", async () => {
    const { helm } = tools();
    const docs = documents((await helm(["template", "workspacedb-operator", CHART, "--namespace", SYSTEM_NAMESPACE])).stdout);
    const rulesOf = (list: Array<Record<string, unknown>>, kind: string, name: string): unknown =>
      (list.find((d) => d.kind === kind && (d.metadata as { name?: string }).name === name) as { rules?: unknown } | undefined)?.rules;
    const plain = ["role.yaml", "leader_election_role.yaml", "data_api_role.yaml", "workspace-viewer.yaml", "workspace-editor.yaml", "workspace-admin.yaml"]
      .flatMap((f) => documents(readFileSync(join(REPO_ROOT, "config", "rbac", f), "utf8")));
    expect(rulesOf(docs, "ClusterRole", "workspacedb-operator")).to.deep.equal(rulesOf(plain, "ClusterRole", "workspacedb-operator")).and.to.not.equal(undefined);
    expect(rulesOf(docs, "Role", "workspacedb-operator-leader-election")).to.deep.equal(rulesOf(plain, "Role", "workspacedb-operator-leader-election")).and.to.not.equal(undefined);
    expect(rulesOf(docs, "ClusterRole", "workspacedb-operator-data-api")).to.deep.equal(rulesOf(plain, "ClusterRole", "workspacedb-operator-data-api")).and.to.not.equal(undefined);
    const roleRef = (list: Array<Record<string, unknown>>) => (list.find((d) => d.kind === "RoleBinding" && (d.metadata as { namespace?: string }).namespace === "kube-system") as { roleRef?: unknown } | undefined)?.roleRef;
    expect(roleRef(docs)).to.deep.equal(roleRef(plain)).and.to.not.equal(undefined);
    for (const role of ["viewer", "editor", "admin"]) {
      const name = `workspacedb-operator-workspace-${role}`;
      expect(rulesOf(docs, "ClusterRole", name), name).to.deep.equal(rulesOf(plain, "ClusterRole", `workspacedb-workspace-${role}`)).and.to.not.equal(undefined);
    }
    const withPolicy = documents((await helm(["template", "workspacedb-operator", CHART, "--set", "userRoles.adminsAnnotationsOnly.enabled=true"])).stdout);
    const policySpec = (list: Array<Record<string, unknown>>): unknown => list.find((d) => d.kind === "ValidatingAdmissionPolicy")?.spec;
    expect(policySpec(withPolicy)).to.deep.equal(policySpec(plain)).and.to.not.equal(undefined);
  });

  it("refuses values that cannot work, naming the value", async () => {
    const { helm } = tools();
    const failure = async (args: string[]): Promise<string> => {
      try {
        await helm(["template", "wsdb", CHART, ...args]);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`helm template ${args.join(" ")} should have failed`);
    };
    expect(await failure(["--set", "leaderElection.enabled=false"])).to.contain("needs leaderElection.enabled");
    expect(await failure(["--set", "metrics.serviceMonitor.enabled=true,metrics.service.enabled=false"])).to.contain("needs metrics.service.enabled");
    expect(await failure(["--set", "serviceAccount.create=false"])).to.contain("serviceAccount.name is required");
    // Settings the chart owns are refused by values.schema.json, naming them.
    expect(await failure(["--set", "settings.leaderElection.enabled=false"])).to.match(/at '\/settings': additional properties? 'leaderElection' not allowed/);
    expect(await failure(["--set", "settings.dataApi.enabled=false"])).to.match(/at '\/settings': additional properties? 'dataApi' not allowed/);
    expect(await failure(["--set", "dataApi.certificate.source=self"])).to.contain("at '/dataApi/certificate/source'");
    // Without the schema (helm --skip-schema-validation), the templates still refuse them.
    expect(await failure(["--skip-schema-validation", "--set", "settings.leaderElection.enabled=false"])).to.contain("settings.leaderElection is not allowed");
    expect(await failure(["--skip-schema-validation", "--set", "dataApi.certificate.source=self"])).to.contain("dataApi.certificate.source");
    expect(await failure(["--set", "dataApi.certificate.source=certManager"])).to.contain("dataApi.certificate.certManager.issuerRef.name is required");
    expect(await failure(["--set", "dataApi.certificate.source=secret"])).to.contain("dataApi.certificate.secretName is required");
  });

  it("refuses a wrong type or an unknown key with helm install, template and lint, naming it (values.schema.json)", async () => {
    const { helm } = tools();
    const ns = unique("wsdb-schema");
    const refusal = async (args: string[]): Promise<string> => {
      try {
        await helm(args);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`helm ${args.join(" ")} should have failed`);
    };
    const cases: Array<[string[], RegExp]> = [
      [["--set", "settings.workers=many"], /at '\/settings\/workers': got string, want integer/],
      [["--set", "settings.workers=0"], /at '\/settings\/workers': minimum: got 0, want 1/],
      [["--set", "settings.postgres.maxConnections=3"], /at '\/settings\/postgres': additional properties? 'maxConnections' not allowed/],
      [["--set", "replicas=3"], /at '': additional properties? 'replicas' not allowed/],
      [["--set", "settings.resyncPeriod=soon"], /at '\/settings\/resyncPeriod'/],
      [["--set", "image.pullPolicy=Sometimes"], /at '\/image\/pullPolicy'/],
    ];
    for (const [set, why] of cases) {
      expect(await refusal(["template", "wsdb", CHART, ...set]), `template ${set.join(" ")}`).to.match(why);
      expect(await refusal(["lint", "--strict", CHART, ...set]), `lint ${set.join(" ")}`).to.match(why);
    }
    // install refuses before it creates anything: no release, no namespace.
    const install = await refusal(["install", "wsdb-schema", CHART, "--namespace", ns, "--create-namespace", "--kubeconfig", getGround().kubeconfigPath, "--set", "settings.logFormat=xml"]);
    expect(install).to.match(/at '\/settings\/logFormat': value must be one of 'json', 'text'/);
    expect((await tools().kubectl(["get", "namespace", ns, "--ignore-not-found", "-o", "name"])).stdout.trim()).to.equal("");
    // A parent chart's global values are allowed; durations as strings or milliseconds.
    await helm(["template", "wsdb", CHART, "--set", "global.imageRegistry=mirror.internal", "--set", "settings.resyncPeriod=90000", "--set", "leaderElection.leaseDuration=40s"]);
  });

  it("renders the optional NetworkPolicy (checked by rendering: the ground's CNI does not enforce policies) and the Artifact Hub examples, accepted by the API server", async () => {
    const { helm } = tools();
    const rendered = await helm(["template", "wsdb", CHART, "--namespace", SYSTEM_NAMESPACE,
      "--set", "networkPolicy.enabled=true", "--set", "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
      "--set", "networkPolicy.postgres.peers[0].ipBlock.cidr=10.20.0.0/16", "--set", "networkPolicy.postgres.peers[1].namespaceSelector.matchLabels.team=databases",
      "--set", "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring"]);
    const policy = documents(rendered.stdout).find((d) => d.kind === "NetworkPolicy") as { spec: { podSelector: unknown; ingress: Array<{ ports: Array<{ port: string }>; from?: unknown[] }>; egress: Array<{ to?: unknown[]; ports: Array<{ port: number | string }> }> } } | undefined;
    expect(policy, "NetworkPolicy rendered").to.not.equal(undefined);
    expect(policy!.spec.podSelector).to.deep.equal({ matchLabels: { "app.kubernetes.io/name": "workspacedb-operator", "app.kubernetes.io/instance": "wsdb" } });
    expect(policy!.spec.ingress.map((r) => r.ports[0]!.port)).to.deep.equal(["metrics", "data-api"]);
    expect(policy!.spec.ingress[0]!.from).to.deep.equal([{ namespaceSelector: { matchLabels: { name: "monitoring" } } }]);
    expect(policy!.spec.ingress[1]!.from).to.equal(undefined);
    expect(policy!.spec.egress.map((r) => r.ports.map((p) => p.port))).to.deep.equal([[53, 53], [6443], [5432]]);
    expect(policy!.spec.egress[1]!.to).to.deep.equal([{ ipBlock: { cidr: "10.0.0.1/32" } }]);
    expect(policy!.spec.egress[2]!.to).to.deep.equal([{ ipBlock: { cidr: "10.20.0.0/16" } }, { namespaceSelector: { matchLabels: { team: "databases" } } }]);
    await serverDryRun(stringify(policy));
    const incomplete = await helm(["template", "wsdb", CHART, "--set", "networkPolicy.enabled=true"]).then(() => "rendered", (err: Error) => err.message);
    expect(incomplete).to.contain("networkPolicy.apiServer.cidrs is required");

    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { annotations: Record<string, string> };
    const examples = parse(chart.annotations["artifacthub.io/crdsExamples"]!) as Array<Record<string, unknown>>;
    const crds = parse(chart.annotations["artifacthub.io/crds"]!) as Array<{ kind: string }>;
    expect(examples.map((e) => e.kind)).to.deep.equal(crds.map((c) => c.kind));
    await ensureNamespace("team-a");
    await serverDryRun(examples.map((e) => stringify(e)).join("---\n"));
  });

  it("accepts config/manager and config/rbac (operator RBAC and the people examples) on the API server", async () => {
    await ensureNamespace("workspace-malaria");
    const { kubectl } = tools();
    const manager = readFileSync(join(REPO_ROOT, "config", "manager", "deployment.yaml"), "utf8");
    const managerDocs = documents(manager);
    expect(kindsOf(managerDocs)).to.deep.equal(["ConfigMap", "Deployment", "Namespace", "Service"]);
    await serverDryRun(manager);
    const settings = settingsOf(managerDocs, SYSTEM_NAMESPACE);
    expect(settings.leaderElection).to.include({ enabled: true, namespace: SYSTEM_NAMESPACE, leaseName: "workspacedb-operator" });
    expect(settings.metricsPort).to.equal(8080);

    const rbac = await kubectl(["apply", "--dry-run=server", "-k", join(REPO_ROOT, "config", "rbac")]);
    expect(rbac.stdout.trim().split("\n")).to.have.length(8);
    await serverDryRun(["service.yaml", "apiservice.yaml"].map((f) => readFileSync(join(REPO_ROOT, "config", "data-api", f), "utf8").replace("REPLACE_WITH_BASE64_CA", Buffer.from("not a CA").toString("base64"))).join("\n---\n"));
    const examples = ["workspace-viewer.yaml", "workspace-editor.yaml", "workspace-admin.yaml"]
      .map((f) => readFileSync(join(REPO_ROOT, "config", "rbac", f), "utf8"))
      .join("\n---\n");
    await serverDryRun(examples);
  });

  it("installs and uninstalls with helm (CRDs already present are left alone)", async () => {
    const ns = unique("wsdb-helm");
    const { helm } = tools();
    const kubeconfig = ["--kubeconfig", getGround().kubeconfigPath];
    // No controllers run on the ground, so the Deployment never gets pods: no --wait. Its APIService
    // then has no server, which stalls namespace deletion cluster-wide: it is removed whatever happens.
    try {
      const install = await helm(["install", "wsdb-it", CHART, "--namespace", ns, "--create-namespace", ...kubeconfig]);
      expect(install.stdout).to.contain("STATUS: deployed");
      expect(install.stdout).to.contain("kubectl -n " + ns + " rollout status deployment/wsdb-it-workspacedb-operator");
      expect(install.stdout).to.contain("is a placeholder");
      const { kubectl } = tools();
      const objects = await kubectl(["-n", ns, "get", "deployment,configmap,serviceaccount,service,role,rolebinding,poddisruptionbudget", "-o", "name"]);
      for (const name of ["deployment.apps/wsdb-it-workspacedb-operator", "configmap/wsdb-it-workspacedb-operator-config", "serviceaccount/wsdb-it-workspacedb-operator"]) {
        expect(objects.stdout).to.contain(name);
      }
      const caOf = async () => (await kubectl(["-n", ns, "get", "secret", "wsdb-it-workspacedb-operator-data-api-tls", "-o", "jsonpath={.data.ca\\.crt}"])).stdout;
      const ca = await caOf();
      expect(ca).to.not.equal("");
      const upgrade = await helm(["upgrade", "wsdb-it", CHART, "--namespace", ns, "--set", "settings.logLevel=debug", ...kubeconfig]);
      expect(upgrade.stdout).to.contain("REVISION: 2");
      // The data API's CA (trusted by the APIService) survives upgrades.
      expect(await caOf()).to.equal(ca);
      expect((await kubectl(["get", "apiservice", "v1alpha1.data.workspacedb.io", "-o", "jsonpath={.spec.caBundle}"])).stdout).to.equal(ca);
      await helm(["uninstall", "wsdb-it", "--namespace", ns, ...kubeconfig]);
      const after = await kubectl(["get", "clusterrole", "wsdb-it-workspacedb-operator", "--ignore-not-found", "-o", "name"]);
      expect(after.stdout.trim()).to.equal("");
      // CRDs in a chart's crds/ are never deleted by helm: the custom resources stay safe.
      await kubectl(["get", "crd", "workspacedatabases.workspacedb.io"]);
    } finally {
      await tools().kubectl(["delete", "apiservice", "v1alpha1.data.workspacedb.io", "--ignore-not-found"]).catch(() => undefined);
    }
  });

  it("builds an image from exactly what the operator needs (Dockerfile, .dockerignore, production dependencies)", () => {
    const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
    // Both bases default to the public Node.js image of the version hack/lib/node.sh pins, by digest.
    const nodeVersion = /WSDB_NODE_VERSION:-([0-9.]+)/.exec(readFileSync(join(REPO_ROOT, "hack", "lib", "node.sh"), "utf8"))![1]!;
    for (const arg of ["BUILD_BASE", "BASE"]) {
      expect(dockerfile).to.match(new RegExp(`^ARG ${arg}=node:${nodeVersion.replaceAll(".", "\\.")}-slim@sha256:[0-9a-f]{64}$`, "m"));
    }
    expect(dockerfile).to.match(/^FROM \$\{BUILD_BASE\} AS build$/m);
    expect(dockerfile).to.match(/^FROM \$\{BASE\}$/m);
    expect(dockerfile).to.match(/^\s+npm ci --no-audit/m);
    expect(dockerfile).to.match(/^USER 1000:1000$/m);
    expect(dockerfile).to.match(/^CMD \["node", "dist\/main\.js"\]$/m);
    // Everything the Dockerfile copies from the build context exists and is not excluded.
    const ignored = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(copied).to.include.members(["package.json", "package-lock.json", "tsconfig.json", "src", "config/operator.yaml"]);
    // As Docker reads it: the last rule that matches decides, "!" re-includes.
    const excluded = (path: string) => ignored.reduce((out, rule) => {
      const negated = rule.startsWith("!");
      const pattern = negated ? rule.slice(1) : rule;
      return path === pattern || path.startsWith(`${pattern}/`) ? !negated : out;
    }, false);
    for (const path of copied) {
      expect(existsSync(join(REPO_ROOT, path)), path).to.equal(true);
      expect(excluded(path), `${path} is in .dockerignore`).to.equal(false);
    }
    // The runtime stage has production dependencies only: src may import nothing else.
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
    for (const file of sources(join(REPO_ROOT, "src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import\()\s*"([^".][^"]*)"/g)) {
        const spec = m[1]!;
        if (spec.startsWith("node:")) continue;
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
        expect(pkg.dependencies, `${file} imports ${name}`).to.have.property(name);
      }
    }
  });

  it("gives the plain manifests' Deployment a pod the restricted Pod Security Standard admits", async () => {
    const ns = unique("wsdb-psa");
    const { core } = clients();
    await core.createNamespace({ body: { metadata: { name: ns, labels: { "pod-security.kubernetes.io/warn": "restricted" } } } });
    const deployment = documents(readFileSync(join(REPO_ROOT, "config", "manager", "deployment.yaml"), "utf8")).find((d) => d.kind === "Deployment")!;
    (deployment.metadata as { namespace: string }).namespace = ns;
    const out = await serverDryRun(stringify(deployment));
    expect(out.stderr).to.not.match(/violate PodSecurity/i);
  });
});

describe("least-privilege RBAC (end to end)", function () {
  this.timeout(240_000);
  const ns = unique("ws-rbac");
  let saKubeconfig = "";
  let operator: OperatorProcess | undefined;

  /** Whether the ServiceAccount may do `attrs`, asked by the ServiceAccount itself. */
  async function saCan(attrs: V1ResourceAttributes): Promise<boolean> {
    const kc = new KubeConfig();
    kc.loadFromFile(saKubeconfig);
    const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attrs } } });
    return review.status?.allowed === true;
  }

  /** Whether a user in `groups` may do `attrs`, asked by the admin (SubjectAccessReview). */
  async function userCan(groups: string[], attrs: V1ResourceAttributes): Promise<boolean> {
    const api = getGround().kubeConfig.makeApiClient(AuthorizationV1Api);
    const review = await api.createSubjectAccessReview({ body: { spec: { user: "alice", groups: [...groups, "system:authenticated"], resourceAttributes: attrs } } });
    return review.status?.allowed === true;
  }

  before(async () => {
    const ground = getGround();
    await setupServer("main");
    await ensureNamespace(ns);
    const { kubectl } = tools();
    await kubectl(["apply", "-k", join(REPO_ROOT, "config", "rbac")]);

    // A token of the ServiceAccount, from the TokenRequest API, in a kubeconfig of its own.
    const { core } = clients();
    const token = await core.createNamespacedServiceAccountToken({
      name: SERVICE_ACCOUNT,
      namespace: SYSTEM_NAMESPACE,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = ground.kubeConfig.getCurrentCluster();
    expect(cluster, "ground kubeconfig's cluster").to.not.equal(null);
    const caData = cluster!.caData ?? (cluster!.caFile ? readFileSync(cluster!.caFile).toString("base64") : undefined);
    saKubeconfig = join(ground.root, "operator-sa.kubeconfig");
    writeFileSync(saKubeconfig, stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "ground", cluster: { server: cluster!.server, "certificate-authority-data": caData } }],
      users: [{ name: SERVICE_ACCOUNT, user: { token: token.status?.token } }],
      contexts: [{ name: "operator", context: { cluster: "ground", user: SERVICE_ACCOUNT } }],
      "current-context": "operator",
    }), { mode: 0o600 });
  });

  after(async () => {
    await operator?.stop();
  });

  it("authenticates the operator's kubeconfig as the ServiceAccount", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(saKubeconfig);
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).to.equal(SA_USER);
    expect(review.status?.userInfo?.groups).to.include.members(SA_GROUPS);
  });

  it("runs the real operator with only that ServiceAccount: leader, Ready, Secrets that log in, Events", async () => {
    operator = startOperator({ KUBECONFIG: saKubeconfig, WSDB_LEADER_ELECTION: "true", WSDB_NAMESPACE: SYSTEM_NAMESPACE }, "operator-rbac");
    await createWorkspace(ns, "sales", { deletionPolicy: "Delete" });
    const obj = await waitReady(ns, "sales", 60_000);
    expect(obj.metadata.finalizers).to.include("workspacedb.io/finalizer");
    const rw = await readSecret(ns, "sales-rw");
    const ro = await readSecret(ns, "sales-ro");
    expect(await canLogin(rw!.uri!)).to.equal(true);
    expect(await canLogin(ro!.uri!)).to.equal(true);

    const lease = await getGround().kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "workspacedb-operator", namespace: SYSTEM_NAMESPACE });
    expect(operator.log()).to.contain("became the leader");
    expect(lease.spec?.holderIdentity ?? "").to.not.equal("");
    await eventually("an Event about sales", async () => ((await listEvents(ns, "sales")).length > 0 ? true : undefined));
  });

  it("regenerates a password with only that ServiceAccount", async () => {
    const before = await readSecret(ns, "sales-rw");
    await annotateWorkspace(ns, "sales", { "workspacedb.io/regenerate-rw": "rbac-1" });
    await eventually("read/write password regenerated", async () => {
      const obj = await getWorkspace(ns, "sales");
      return obj?.status?.credentials?.readWrite?.regenerateToken === "rbac-1" ? true : undefined;
    }, 60_000);
    const after = await readSecret(ns, "sales-rw");
    expect(after!.password).to.not.equal(before!.password);
    expect(await canLogin(after!.uri!)).to.equal(true);
    expect(await canLogin(before!.uri!)).to.equal(false);
    await eventually("PasswordRegenerated Event", async () =>
      (await listEvents(ns, "sales")).find((e) => e.reason === "PasswordRegenerated") ? true : undefined);
  });

  it("deletes with only that ServiceAccount: Secrets removed, finalizer removed, object gone", async () => {
    await deleteWorkspace(ns, "sales");
    await waitGone(ns, "sales", 60_000);
    expect(await readSecret(ns, "sales-rw")).to.equal(undefined);
    expect(await readSecret(ns, "sales-ro")).to.equal(undefined);
  });

  it("grants the ServiceAccount what the operator needs", async () => {
    const allowed: V1ResourceAttributes[] = [
      { group: "workspacedb.io", resource: "workspacedatabases", verb: "watch" },
      { group: "workspacedb.io", resource: "workspacedatabases", verb: "patch", namespace: ns },
      { group: "workspacedb.io", resource: "workspacedatabases", subresource: "status", verb: "patch", namespace: ns },
      { group: "workspacedb.io", resource: "workspacedatabases", subresource: "finalizers", verb: "update", namespace: ns },
      { group: "workspacedb.io", resource: "databaseservers", verb: "list" },
      { group: "workspacedb.io", resource: "databaseservers", subresource: "status", verb: "patch" },
      // Its finalizer (metadata: RBAC cannot tell it from spec; the operator never writes spec).
      { group: "workspacedb.io", resource: "databaseservers", verb: "patch", name: "main" },
      { group: "", resource: "namespaces", verb: "get", name: ns },
      { group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "get", name: "workspacedatabases.workspacedb.io" },
      { group: "", resource: "secrets", verb: "create", namespace: ns },
      { group: "", resource: "secrets", verb: "get", namespace: SYSTEM_NAMESPACE, name: "main-admin" },
      { group: "", resource: "events", verb: "create", namespace: ns },
      { group: "events.k8s.io", resource: "events", verb: "create", namespace: ns },
      { group: "coordination.k8s.io", resource: "leases", verb: "update", namespace: SYSTEM_NAMESPACE, name: "workspacedb-operator" },
    ];
    for (const attrs of allowed) expect(await saCan(attrs), JSON.stringify(attrs)).to.equal(true);
  });

  it("denies the ServiceAccount everything else (namespaces, pods, spec writes, RBAC, other leases)", async () => {
    const denied: V1ResourceAttributes[] = [
      { group: "", resource: "namespaces", verb: "delete", name: ns },
      { group: "", resource: "namespaces", verb: "list" },
      { group: "", resource: "namespaces", verb: "patch", name: ns },
      { group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "get", name: "other.example.org" },
      { group: "", resource: "pods", verb: "create", namespace: ns },
      { group: "", resource: "pods", verb: "list" },
      { group: "", resource: "configmaps", verb: "get", namespace: SYSTEM_NAMESPACE },
      { group: "", resource: "serviceaccounts", subresource: "token", verb: "create", namespace: SYSTEM_NAMESPACE, name: SERVICE_ACCOUNT },
      { group: "", resource: "secrets", verb: "patch", namespace: ns },
      { group: "", resource: "secrets", verb: "deletecollection", namespace: ns },
      { group: "apps", resource: "deployments", verb: "update", namespace: SYSTEM_NAMESPACE },
      { group: "workspacedb.io", resource: "workspacedatabases", verb: "create", namespace: ns },
      { group: "workspacedb.io", resource: "workspacedatabases", verb: "delete", namespace: ns },
      { group: "workspacedb.io", resource: "databaseservers", verb: "create" },
      { group: "workspacedb.io", resource: "databaseservers", verb: "delete", name: "main" },
      { group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "update" },
      { group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "create" },
      { group: "rbac.authorization.k8s.io", resource: "rolebindings", verb: "create", namespace: ns },
      { group: "coordination.k8s.io", resource: "leases", verb: "update", namespace: SYSTEM_NAMESPACE, name: "another-lease" },
      { group: "coordination.k8s.io", resource: "leases", verb: "delete", namespace: SYSTEM_NAMESPACE, name: "workspacedb-operator" },
      { group: "coordination.k8s.io", resource: "leases", verb: "create", namespace: "kube-system" },
      { group: "", resource: "users", verb: "impersonate", name: "admin" },
    ];
    for (const attrs of denied) expect(await saCan(attrs), JSON.stringify(attrs)).to.equal(false);
  });

  it("the example roles: viewers never read Secrets, editors read exactly the two credentials Secrets, admins regenerate", async () => {
    await ensureNamespace("workspace-malaria");
    const { kubectl } = tools();
    for (const f of ["workspace-viewer.yaml", "workspace-editor.yaml", "workspace-admin.yaml"]) {
      await kubectl(["apply", "-f", join(REPO_ROOT, "config", "rbac", f)]);
    }
    // The authorizer's RBAC cache follows the new bindings within moments.
    await eventually("example bindings in effect", async () =>
      (await userCan(["workspace-malaria:viewers"], { group: "workspacedb.io", resource: "workspacedatabases", verb: "list", namespace: "workspace-malaria" })) ? true : undefined, 10_000);

    const wsdb = (verb: string, namespace = "workspace-malaria"): V1ResourceAttributes => ({ group: "workspacedb.io", resource: "workspacedatabases", verb, namespace, name: "malaria" });
    const secret = (verb: string, name?: string): V1ResourceAttributes => ({ group: "", resource: "secrets", verb, namespace: "workspace-malaria", ...(name ? { name } : {}) });

    const viewers = ["workspace-malaria:viewers"];
    expect(await userCan(viewers, wsdb("get"))).to.equal(true);
    expect(await userCan(viewers, wsdb("get", ns))).to.equal(false);
    expect(await userCan(viewers, wsdb("patch"))).to.equal(false);
    expect(await userCan(viewers, secret("get", "malaria-rw"))).to.equal(false);
    expect(await userCan(viewers, secret("get", "malaria-ro"))).to.equal(false);
    expect(await userCan(viewers, secret("list"))).to.equal(false);

    const editors = ["workspace-malaria:editors"];
    expect(await userCan(editors, wsdb("get"))).to.equal(true);
    expect(await userCan(editors, secret("get", "malaria-rw"))).to.equal(true);
    expect(await userCan(editors, secret("get", "malaria-ro"))).to.equal(true);
    expect(await userCan(editors, secret("get", "other"))).to.equal(false);
    expect(await userCan(editors, secret("list"))).to.equal(false);
    expect(await userCan(editors, wsdb("patch"))).to.equal(false);

    const admins = ["workspace-malaria:admins"];
    expect(await userCan(admins, wsdb("patch"))).to.equal(true);
    expect(await userCan(admins, secret("get", "malaria-rw"))).to.equal(true);
    expect(await userCan(admins, wsdb("delete"))).to.equal(false);
    expect(await userCan(admins, wsdb("create"))).to.equal(false);
    expect(await userCan(admins, secret("update", "malaria-rw"))).to.equal(false);

    const rbac = getGround().kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const viewer = await rbac.readClusterRole({ name: "workspacedb-workspace-viewer" });
    expect(viewer.rules?.flatMap((r) => r.resources ?? [])).to.deep.equal(["workspacedatabases", "workspacetables", "workspacetables/preview"]);
    // The data API (DESIGN's table): every role browses tables and previews rows; nobody writes them.
    const tables = (verb: string, subresource?: string, namespace = "workspace-malaria"): V1ResourceAttributes =>
      ({ group: "data.workspacedb.io", resource: "workspacetables", verb, namespace, ...(subresource === undefined ? {} : { subresource }) });
    for (const groups of [viewers, editors, admins]) {
      expect(await userCan(groups, tables("list")), groups[0]).to.equal(true);
      expect(await userCan(groups, tables("get", "preview")), groups[0]).to.equal(true);
      expect(await userCan(groups, tables("list", undefined, ns)), groups[0]).to.equal(false);
      expect(await userCan(groups, tables("create")), groups[0]).to.equal(false);
    }
    expect(await userCan([], tables("list"))).to.equal(false);
  });

  it("the example admin policy: workspace admins regenerate a password, and change nothing else", async () => {
    // Runs after the previous test applied the examples; the operator of this suite provisions it.
    const namespace = "workspace-malaria";
    await createWorkspace(namespace, "malaria", { deletionPolicy: "Delete" });
    await waitReady(namespace, "malaria", 60_000);
    const { kubectl } = tools();
    const as = (user: string, group: string): string[] => ["--as", user, "--as-group", group, "-n", namespace];
    const admin = as("alice", "workspace-malaria:admins");
    const refused = async (args: string[]): Promise<string> => {
      try {
        await kubectl(args);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`kubectl ${args.join(" ")} should have been refused`);
    };
    try {
      // The policy is enforced once the API server's policy informer has it (each try changes the spec).
      let limit = 5;
      expect(await eventually("the admins policy in effect", async () => {
        const patch = JSON.stringify({ spec: { connectionLimit: limit++ } });
        const message = await refused([...admin, "patch", "wsdb/malaria", "--type", "merge", "-p", patch]).catch(() => undefined);
        return message?.includes("may only change annotations") ? message : undefined;
      }, 15_000)).to.contain("workspacedb-workspace-admins-annotations-only");
      expect(await refused([...admin, "patch", "wsdb/malaria", "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]'])).to.contain("may not change finalizers");
      expect(await refused([...admin, "label", "wsdb/malaria", "team=x"])).to.contain("may not change labels");
      expect(await refused([...admin, "annotate", "wsdb/malaria", "workspacedb.io/adopt=database"])).to.contain("may only set the workspacedb.io/regenerate* annotations");
      expect(await refused([...admin, "delete", "wsdb/malaria"])).to.match(/forbidden/i);

      const before = await readSecret(namespace, "malaria-ro");
      await kubectl([...admin, "annotate", "--overwrite", "wsdb/malaria", "workspacedb.io/regenerate-ro=admin-1"]);
      await eventually("read-only password regenerated", async () =>
        (await getWorkspace(namespace, "malaria"))?.status?.credentials?.readOnly?.regenerateToken === "admin-1" ? true : undefined, 60_000);
      const password = (await kubectl([...admin, "get", "secret", "malaria-ro", "-o", "jsonpath={.data.password}"])).stdout;
      expect(Buffer.from(password, "base64").toString("utf8")).to.not.equal(before!.password);
      expect(await refused([...as("bob", "workspace-malaria:viewers"), "get", "secret", "malaria-ro"])).to.match(/forbidden/i);
      // The platform team (not in such a group) still changes the spec.
      await kubectl(["-n", namespace, "patch", "wsdb/malaria", "--type", "merge", "-p", '{"spec":{"connectionLimit":20}}']);
    } finally {
      await deleteWorkspace(namespace, "malaria");
      await waitGone(namespace, "malaria", 60_000);
    }
  });

  it("was never refused anything by the API server (operator log)", () => {
    const log = operator!.log();
    expect(log).to.not.match(/forbidden/i);
    expect(log).to.not.match(/"code":403/);
  });
});
