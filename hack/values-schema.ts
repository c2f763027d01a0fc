// The chart's values.schema.json: the chart's own values written here, its `settings` (and the values
// the chart passes on as settings: leaderElection durations, dataApi limits, metrics.port) taken from
// the operator's settings schema (src/config/schema.ts), so the two cannot drift.
//
//   node hack/values-schema.ts           writes charts/workspacedb-operator/values.schema.json
//   node hack/values-schema.ts --check   exits 1 if that file is not what this script writes
//
// test/unit/config/values-schema.test.ts runs the check too.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DURATION_PATTERN, formatDuration } from "../src/config/duration.ts";
import { settingsSchema } from "../src/config/schema.ts";

/** A JSON Schema (draft 2020-12) node. */
export type JsonSchema = { [keyword: string]: unknown };

export const VALUES_SCHEMA_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "charts", "workspacedb-operator", "values.schema.json");

/** Settings the chart writes itself, from its own values (the RBAC, Service and Lease follow them). */
export const CHART_OWNED_SETTINGS = ["metricsHost", "metricsPort", "leaderElection", "watchNamespaces", "workspaceSelector", "dataApi"] as const;

type SettingsNode = { type?: string; properties?: Record<string, SettingsNode>; "x-duration"?: boolean; [k: string]: unknown };

/**
 * One setting's schema as values accept it: a duration leaf ("x-duration") takes an integer of
 * milliseconds in range or a duration string ("30s"; its range is checked by the operator at start,
 * naming the setting); objects keep `additionalProperties: false`, every key optional (the operator
 * fills in its defaults).
 */
export function settingToValues(node: SettingsNode): JsonSchema {
  if (node["x-duration"] === true) {
    const { minimum, maximum, description } = node as { minimum: number; maximum: number; description: string };
    return {
      description: `${description} (a duration: "${formatDuration(minimum)}" to "${formatDuration(maximum)}", or milliseconds)`,
      anyOf: [
        { type: "integer", minimum, maximum },
        { type: "string", pattern: DURATION_PATTERN },
      ],
    };
  }
  if (node.type === "object" && node.properties) {
    const properties: Record<string, JsonSchema> = {};
    for (const [name, child] of Object.entries(node.properties)) properties[name] = settingToValues(child);
    const { description } = node as { description?: string };
    return { type: "object", ...(description === undefined ? {} : { description }), additionalProperties: false, properties };
  }
  const { required: _required, ...rest } = node;
  return structuredClone(rest);
}

const settingsProps = settingsSchema.properties as unknown as Record<string, SettingsNode>;
const setting = (path: string): JsonSchema => {
  let node: SettingsNode | undefined = { type: "object", properties: settingsProps };
  for (const part of path.split(".")) node = node?.properties?.[part];
  if (node === undefined) throw new Error(`no setting ${path} in src/config/schema.ts`);
  return settingToValues(node);
};

/** The `settings` value: every setting except those the chart owns (each refused by name). */
export function settingsValuesSchema(): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [name, node] of Object.entries(settingsProps)) {
    if ((CHART_OWNED_SETTINGS as readonly string[]).includes(name)) continue;
    properties[name] = settingToValues(node);
  }
  return {
    type: "object",
    description: "Settings of the operator, rendered into its settings file (generated from src/config/schema.ts by hack/values-schema.ts)",
    additionalProperties: false,
    properties,
  };
}

const str = (description: string, extra: JsonSchema = {}): JsonSchema => ({ type: "string", description, ...extra });
const bool = (description: string): JsonSchema => ({ type: "boolean", description });
const int = (description: string, minimum?: number, maximum?: number): JsonSchema => ({
  type: "integer", description, ...(minimum === undefined ? {} : { minimum }), ...(maximum === undefined ? {} : { maximum }),
});
const stringMap = (description: string): JsonSchema => ({ type: "object", description, additionalProperties: { type: "string" } });
/** Kubernetes objects passed through to the pod as they are (the API server checks them). */
const kubeObject = (description: string): JsonSchema => ({ type: "object", description });
const kubeList = (description: string): JsonSchema => ({ type: "array", description, items: { type: "object" } });
const obj = (description: string, properties: Record<string, JsonSchema>): JsonSchema => ({
  type: "object", description, additionalProperties: false, properties,
});
/** A Prometheus duration ("30s", "5m", "1h"). */
const promDuration = (description: string): JsonSchema => str(description, { pattern: "^([0-9]+(ms|s|m|h|d|w|y))+$" });
const portNumber = (description: string): JsonSchema => int(description, 1, 65535);

/** The whole values.schema.json. */
export function valuesSchema(): JsonSchema {
  const leaseName = setting("leaderElection.leaseName");
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "workspacedb-operator chart values",
    description: "Generated by hack/values-schema.ts; edit that script and run it again.",
    type: "object",
    additionalProperties: false,
    properties: {
      global: { type: "object", description: "Values a parent chart shares with its subcharts (not read by this chart)" },
      replicaCount: int("Replicas of the operator; more than one needs leaderElection.enabled", 1, 10),
      image: obj("The operator's image", {
        repository: str("Image name (no image is published: build it from the Dockerfile)", { minLength: 1 }),
        tag: str("Image tag; empty: the chart's appVersion"),
        digest: str("Pin by digest (wins over tag)", { pattern: "^(sha256:[a-f0-9]{64})?$" }),
        pullPolicy: str("Image pull policy", { enum: ["Always", "IfNotPresent", "Never"] }),
      }),
      imagePullSecrets: {
        type: "array",
        description: "Secrets to pull the image with",
        items: { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1 } } },
      },
      nameOverride: str("Replaces the chart name in object names"),
      fullnameOverride: str("Replaces the release's full name in object names"),
      serviceAccount: obj("The operator's ServiceAccount", {
        create: bool("Create it; otherwise name must exist"),
        name: str("Its name; empty: the release's full name"),
        annotations: stringMap("Its annotations"),
      }),
      rbac: obj("The operator's RBAC", { create: bool("Create its ClusterRole, Roles and bindings") }),
      watchNamespaces: {
        ...setting("watchNamespaces"),
        description: "Namespaces whose WorkspaceDatabases are reconciled, one watch each (empty: every namespace); the RBAC follows them",
      },
      workspaceSelector: setting("workspaceSelector"),
      userRoles: obj("ClusterRoles for people (workspace viewer, editor, admin)", {
        create: bool("Create the three ClusterRoles"),
        aggregateToDefaultRoles: bool("Aggregate them into the built-in view, edit and admin ClusterRoles"),
        adminsAnnotationsOnly: obj("A ValidatingAdmissionPolicy: workspace admins may change only annotations", {
          enabled: bool("Create the policy and its binding"),
          groupPrefix: str("Groups named <groupPrefix>...<groupSuffix> are workspace admins"),
          groupSuffix: str("See groupPrefix"),
        }),
      }),
      leaderElection: obj("Leader election (the Lease lives in the release's namespace)", {
        enabled: bool("Only the Lease holder reconciles; turn off only with replicaCount: 1"),
        leaseName: { ...leaseName, maxLength: 63 },
        leaseDuration: setting("leaderElection.leaseDuration"),
        renewDeadline: setting("leaderElection.renewDeadline"),
        retryPeriod: setting("leaderElection.retryPeriod"),
      }),
      settings: settingsValuesSchema(),
      dataApi: obj("The data API (data.workspacedb.io), served by every replica", {
        enabled: setting("dataApi.enabled"),
        port: { ...setting("dataApi.port"), minimum: 1 },
        statementTimeout: setting("dataApi.statementTimeout"),
        maxResponseBytes: setting("dataApi.maxResponseBytes"),
        maxConcurrentRequests: setting("dataApi.maxConcurrentRequests"),
        maxConcurrentRequestsPerUser: setting("dataApi.maxConcurrentRequestsPerUser"),
        apiService: obj("The APIService v1alpha1.data.workspacedb.io", {
          create: bool("Register it"),
          groupPriorityMinimum: int("Its groupPriorityMinimum", 1, 20000),
          versionPriority: int("Its versionPriority", 1, 1000),
        }),
        certificate: obj("The data API's serving certificate", {
          source: str("generate: by the chart; certManager: a cert-manager Certificate; secret: your own Secret", {
            enum: ["generate", "certManager", "secret"],
          }),
          secretName: str("The Secret (tls.crt, tls.key, ca.crt); empty: <fullname>-data-api-tls"),
          caBundle: str("With source secret when the Secret does not exist at install time: the CA bundle (base64 PEM)"),
          certManager: obj("With source certManager", {
            issuerRef: obj("The cert-manager issuer", {
              kind: str("Issuer or ClusterIssuer", { minLength: 1 }),
              name: str("Its name (required with source certManager)"),
              group: str("Its API group (default cert-manager.io)"),
            }),
          }),
        }),
      }),
      page: obj("The database page in the cluster: a Deployment of its own without a ServiceAccount token, behind your sign-in", {
        enabled: bool("Deploy it"),
        replicas: int("Its replicas", 0, 100),
        port: portNumber("HTTPS port in the pod"),
        signIn: str("What the page says to someone who arrives without a token", { minLength: 1 }),
        apiServer: str("The API server the users' tokens go to (an https:// URL); empty: the in-cluster address", { pattern: "^(https://.+)?$" }),
        maxConcurrentRequests: int("Requests a pod answers at once (beyond: 429)", 1, 10000),
        maxConcurrentRequestsPerUser: int("Requests of one user a pod answers at once (beyond: 429)", 1, 1000),
        certificate: obj("The page's serving certificate", {
          source: str("generate: by the chart; certManager: a cert-manager Certificate; secret: your own Secret", { enum: ["generate", "certManager", "secret"] }),
          secretName: str("The Secret (tls.crt, tls.key); empty: <fullname>-page-tls"),
          certManager: obj("With source certManager", {
            issuerRef: obj("The cert-manager issuer", {
              kind: str("Issuer or ClusterIssuer", { minLength: 1 }),
              name: str("Its name (required with source certManager)"),
              group: str("Its API group (default cert-manager.io)"),
            }),
          }),
        }),
        service: obj("The page's Service", {
          type: str("Its type", { enum: ["ClusterIP", "NodePort", "LoadBalancer"] }),
          port: portNumber("Its port"),
        }),
        ingress: obj("An Ingress in front of it (with your controller's sign-in annotations)", {
          enabled: bool("Create it"),
          className: str("Its ingressClassName"),
          annotations: stringMap("Its annotations (sign-in, backend protocol HTTPS)"),
          host: str("Its host (required when enabled)"),
          tlsSecretName: str("The Secret of the host's certificate; empty: no tls section"),
        }),
        resources: kubeObject("Resources of the page's container"),
        nodeOptions: str("NODE_OPTIONS of the page's container (V8 heap flags)"),
        separateFromOperator: str("required: never on a node with the operator's pods; preferred: only if no other node fits", { enum: ["required", "preferred"] }),
        nodeSelector: stringMap("Node selector of the page's pods"),
        tolerations: kubeList("Tolerations of the page's pods"),
      }),
      extraEnv: kubeList("Extra environment variables of the operator container (EnvVar objects)"),
      metrics: obj("Metrics (/metrics, /healthz, /readyz)", {
        port: { ...setting("metricsPort"), minimum: 1, description: "Port of /metrics, /healthz and /readyz in the pod" },
        service: obj("The metrics Service", {
          enabled: bool("Create it"),
          type: str("Its type", { enum: ["ClusterIP", "NodePort", "LoadBalancer"] }),
          port: portNumber("Its port"),
          annotations: stringMap("Its annotations"),
        }),
        serviceMonitor: obj("A Prometheus Operator ServiceMonitor (needs the Service)", {
          enabled: bool("Create it"),
          interval: promDuration("Scrape interval"),
          scrapeTimeout: promDuration("Scrape timeout"),
          labels: stringMap("Labels your Prometheus selects ServiceMonitors by"),
        }),
      }),
      prometheusRule: obj("Alerting rules with runbooks (a Prometheus Operator PrometheusRule)", {
        enabled: bool("Create the PrometheusRule (needs its CRD, monitoring.coreos.com/v1)"),
        runbookBaseUrl: str("Where docs/runbooks is served; each alert links to <runbookBaseUrl>/<alert>.md (required when enabled)", {
          pattern: "^(https?://\\S+)?$",
        }),
        labels: stringMap("Labels of the PrometheusRule (your Prometheus's ruleSelector)"),
        alertLabels: stringMap("Extra labels on every alert"),
        seriesSelector: str("PromQL label matchers of the operator's series; empty: job=\"<fullname>-metrics\",namespace=\"<release namespace>\""),
        operatorDownFor: promDuration("WorkspaceDBOperatorDown fires after no replica was up this long"),
        noLeaderFor: promDuration("WorkspaceDBNoLeader fires after no replica led this long"),
        notReadyFor: promDuration("WorkspaceDBWorkspacesNotReady: a WorkspaceDatabase not Ready longer than this"),
        regenerationTimeout: promDuration("WorkspaceDBRegenerationNotApplied: a regeneration not applied after this long"),
        serverUnreachableFor: promDuration("WorkspaceDBServerUnreachable: a DatabaseServer not Ready this long"),
        driftRepairsPerHour: int("WorkspaceDBDriftRepairedRepeatedly: more repairs of one kind than this in an hour", 0),
      }),
      grafanaDashboard: obj("A Grafana dashboard in a ConfigMap for Grafana's dashboard sidecar", {
        enabled: bool("Create the ConfigMap"),
        labels: stringMap("Labels of the ConfigMap (the sidecar selects it by one)"),
        annotations: stringMap("Annotations of the ConfigMap (e.g. the sidecar's folder annotation)"),
        namespace: str("Namespace of the ConfigMap; empty: the release's"),
      }),
      networkPolicy: obj("A NetworkPolicy for the operator's pods (enforced only by a CNI that implements it)", {
        enabled: bool("Create it"),
        apiServer: obj("The API server", {
          cidrs: { type: "array", description: "Its addresses as CIDRs (required when enabled)", items: { type: "string", minLength: 1 } },
          port: portNumber("Its port"),
        }),
        postgres: obj("The PostgreSQL servers", {
          peers: kubeList("Where they are: NetworkPolicy peers (ipBlock, namespaceSelector, podSelector); required when enabled"),
          port: portNumber("Their port"),
        }),
        metricsFrom: kubeList("Peers that may scrape metrics; empty: anyone"),
        dataApiFrom: kubeList("Peers that may reach the data API; empty: anyone"),
      }),
      resources: kubeObject("Resources of the operator container (requests, limits)"),
      nodeOptions: str("NODE_OPTIONS of the operator (V8 heap flags)"),
      mallocEnv: stringMap("glibc malloc tunables of the operator container ({} turns them off)"),
      updateStrategy: kubeObject("The Deployment's strategy"),
      podDisruptionBudget: obj("PodDisruptionBudget (rendered when replicaCount > 1)", { enabled: bool("Create it") }),
      podAnnotations: stringMap("Annotations of the operator's pods"),
      podLabels: stringMap("Labels of the operator's pods"),
      podSecurityContext: kubeObject("The pods' securityContext"),
      securityContext: kubeObject("The operator container's securityContext"),
      terminationGracePeriodSeconds: int("Grace period of a pod's shutdown (settings.shutdownTimeout plus a margin)", 0),
      priorityClassName: str("PriorityClass of the operator's pods"),
      nodeSelector: stringMap("Node selector of the operator's pods"),
      tolerations: kubeList("Tolerations of the operator's pods"),
      affinity: kubeObject("Affinity of the operator's pods; empty: replicas prefer different nodes"),
    },
  };
}

/** The file's text: two-space JSON and a final newline. */
export function valuesSchemaText(): string {
  return `${JSON.stringify(valuesSchema(), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const want = valuesSchemaText();
  if (process.argv.includes("--check")) {
    const have = readFileSync(VALUES_SCHEMA_PATH, "utf8");
    if (have !== want) {
      process.stderr.write(`${VALUES_SCHEMA_PATH} is out of date: run node hack/values-schema.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(VALUES_SCHEMA_PATH, want);
    process.stdout.write(`wrote ${VALUES_SCHEMA_PATH}\n`);
  }
}
