// End to end on the ground's node: the operator installed from the chart and its own image as the
// README says, then notebook, dashboard and pipeline pods using the credentials Secrets.
import { expect } from "chai";
import { eventually, readSecret, unique } from "../integration/support/fixtures.ts";
import { apply, digest, helm, installFromReadme, kubectl, kubectlResult, mainServer, node, podOf, pythonContainer, RELEASE, runPod, SYSTEM } from "./support.ts";

/** Python run by the pods: connects with libpq's environment or a URL, prints one line per step. */
const CONNECT = `
import os, sys, psycopg2
def connect(**kw):
    return psycopg2.connect(**kw)
`;

/** Waits for a WorkspaceDatabase's Ready=True, as `kubectl wait` does. */
async function waitWorkspaceReady(namespace: string, name: string): Promise<void> {
  await kubectl(["-n", namespace, "wait", "--for=condition=Ready", `wsdb/${name}`, "--timeout=120s"]);
}

describe("on a node: the chart, the image and pods using the Secrets", function () {
  this.timeout(600_000);
  const ns = unique("ws-pods");
  const workspace = "malaria";

  before(async function () {
    // The README's install block, as written, with this ground's values.
    const out = await installFromReadme();
    expect(out.stdout + out.stderr).to.contain("condition met");
    await kubectl(["create", "namespace", ns]);
  });

  it("runs two replicas from the image, both Ready, exactly one of them the leader", async () => {
    const pods = JSON.parse(await kubectl(["-n", SYSTEM, "get", "pods", "-l", "app.kubernetes.io/name=workspacedb-operator", "-o", "json"])) as {
      items: Array<{ metadata: { name: string }; spec: { containers: Array<{ image: string }> }; status: { conditions?: Array<{ type: string; status: string }> } }>;
    };
    expect(pods.items).to.have.length(2);
    for (const pod of pods.items) {
      expect(pod.spec.containers[0]!.image).to.equal(node().images.operator);
      expect(pod.status.conditions?.find((c) => c.type === "Ready")?.status, pod.metadata.name).to.equal("True");
    }
    const holder = (await kubectl(["-n", SYSTEM, "get", "lease", RELEASE, "-o", "jsonpath={.spec.holderIdentity}"])).trim();
    const leaders = pods.items.filter((p) => holder.startsWith(`${p.metadata.name}_`));
    expect(leaders, `lease holder ${holder}`).to.have.length(1);
  });

  it("provisions a workspace on the PostgreSQL Service's DNS name", async () => {
    await apply([mainServer(), {
      apiVersion: "workspacedb.io/v1alpha1",
      kind: "WorkspaceDatabase",
      metadata: { name: workspace, namespace: ns },
      spec: {},
    }]);
    await kubectl(["wait", "--for=condition=Ready", "dbserver/main", "--timeout=120s"]);
    await waitWorkspaceReady(ns, workspace);
    const rw = await readSecret(ns, `${workspace}-rw`);
    expect(rw?.host).to.equal(node().postgresHost);
  });

  it("a notebook pod with envFrom the -rw Secret creates and fills a table (OpenHEXA variable names)", async () => {
    const log = await runPod(podOf(ns, "notebook", [pythonContainer("notebook", `${CONNECT}
conn = connect(host=os.environ["WORKSPACE_DATABASE_HOST"], port=os.environ["WORKSPACE_DATABASE_PORT"],
               dbname=os.environ["WORKSPACE_DATABASE_DB_NAME"], user=os.environ["WORKSPACE_DATABASE_USERNAME"],
               password=os.environ["WORKSPACE_DATABASE_PASSWORD"], sslmode=os.environ["PGSSLMODE"])
cur = conn.cursor()
cur.execute("CREATE TABLE cases (id serial PRIMARY KEY, district text NOT NULL, count int NOT NULL)")
cur.executemany("INSERT INTO cases (district, count) VALUES (%s, %s)", [("north", 12), ("south", 30), ("east", 7)])
conn.commit()
cur.execute("SELECT count(*), sum(count) FROM cases")
print("rows", *cur.fetchone())
cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
print("ssl", cur.fetchone()[0])
`, { envFrom: [{ secretRef: { name: `${workspace}-rw` } }] })]));
    expect(log).to.contain("rows 3 49");
    expect(log).to.contain("ssl True");
  });

  it("a dashboard pod with envFrom the -ro Secret reads it, and every write is refused", async () => {
    const log = await runPod(podOf(ns, "dashboard", [pythonContainer("dashboard", `${CONNECT}
conn = connect(dsn=os.environ["uri"])
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT district, count FROM cases ORDER BY id")
print("read", cur.fetchall())
for statement in ["INSERT INTO cases (district, count) VALUES ('west', 1)", "UPDATE cases SET count = 0", "DELETE FROM cases",
                  "CREATE TABLE mine (x int)", "CREATE TEMP TABLE mine (x int)", "CREATE SCHEMA mine", "DROP TABLE cases",
                  "SET default_transaction_read_only = off; INSERT INTO cases (district, count) VALUES ('west', 1)"]:
    try:
        cur.execute(statement)
        print("ALLOWED", statement)
    except psycopg2.Error as e:
        print("refused", e.pgcode)
`, { envFrom: [{ secretRef: { name: `${workspace}-ro` } }] })]));
    expect(log).to.contain("read [('north', 12), ('south', 30), ('east', 7)]");
    expect(log).to.not.contain("ALLOWED");
    expect(log.match(/^refused /gm)).to.have.length(8);
  });

  it("a pipeline Job made from a CronJob writes with DATABASE_URL", async () => {
    await apply([{
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "pipeline", namespace: ns },
      spec: {
        schedule: "0 3 * * *",
        suspend: true,
        jobTemplate: {
          spec: {
            backoffLimit: 0,
            template: {
              spec: {
                restartPolicy: "Never",
                containers: [{
                  name: "pipeline",
                  image: node().images.notebook,
                  imagePullPolicy: "Never",
                  command: ["sh", "-c", 'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -At -c "INSERT INTO cases (district, count) VALUES (\'pipeline\', 100)" -c "SELECT sum(count) FROM cases"'],
                  envFrom: [{ secretRef: { name: `${workspace}-rw` } }],
                  securityContext: { runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                }],
              },
            },
          },
        },
      },
    }]);
    await kubectl(["-n", ns, "create", "job", "pipeline-now", "--from=cronjob/pipeline"]);
    await kubectl(["-n", ns, "wait", "--for=condition=Complete", "job/pipeline-now", "--timeout=120s"]);
    const log = await kubectl(["-n", ns, "logs", "job/pipeline-now"]);
    expect(log).to.contain("INSERT 0 1");
    expect(log).to.contain("149");
  });

  it("verifies the server with sslMode verify-full against the ground's CA, from the operator and from a pod", async () => {
    await apply([{
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "pg-ca", namespace: SYSTEM },
      stringData: { "ca.crt": node().postgresCa },
    }, {
      apiVersion: "workspacedb.io/v1alpha1",
      kind: "DatabaseServer",
      metadata: { name: "verified" },
      spec: {
        host: node().postgresHost,
        port: node().postgresPort,
        sslMode: "verify-full",
        tls: { caSecretRef: { namespace: SYSTEM, name: "pg-ca" } },
        adminSecretRef: { namespace: SYSTEM, name: "pg-admin" },
      },
    }, {
      apiVersion: "workspacedb.io/v1alpha1",
      kind: "WorkspaceDatabase",
      metadata: { name: "verified", namespace: ns },
      spec: { serverRef: { name: "verified" } },
    }]);
    await kubectl(["wait", "--for=condition=Ready", "dbserver/verified", "--timeout=120s"]);
    await waitWorkspaceReady(ns, "verified");
    // The Secret carries ca.crt: mounted as a volume, libpq verifies the host name against it.
    const log = await runPod(podOf(ns, "verify-full", [{
      ...pythonContainer("psql", ""),
      command: ["sh", "-c", 'psql "$DATABASE_URL" -At -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"'],
      envFrom: [{ secretRef: { name: "verified-rw" } }],
      env: [{ name: "PGSSLROOTCERT", value: "/etc/wsdb/ca.crt" }],
      volumeMounts: [{ name: "credentials", mountPath: "/etc/wsdb", readOnly: true }],
    }], [{ name: "credentials", secret: { secretName: "verified-rw" } }]));
    const secret = await readSecret(ns, "verified-rw");
    expect(secret?.sslmode).to.equal("verify-full");
    expect(log.trim()).to.equal("t");
  });

  it("a pod mounting the Secret as a volume follows a regeneration; an envFrom pod keeps the old password until restarted", async () => {
    // Reads the mounted password every second and logs a digest of it with the outcome of a login.
    const watcher = `${CONNECT}
import time, hashlib
while True:
    password = open("/etc/wsdb/password").read()
    tag = hashlib.sha256(password.encode()).hexdigest()[:12]
    try:
        connect(host=open("/etc/wsdb/host").read(), port=open("/etc/wsdb/port").read(), dbname=open("/etc/wsdb/database").read(),
                user=open("/etc/wsdb/username").read(), password=password, sslmode="require", connect_timeout=5).close()
        print("login ok", tag, flush=True)
    except psycopg2.Error as e:
        print("login failed", tag, str(e).strip().splitlines()[0], flush=True)
    time.sleep(1)
`;
    const deployment = (name: string, container: Record<string, unknown>, volumes: Record<string, unknown>[] = []): Record<string, unknown> => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 1, containers: [container], volumes } },
      },
    });
    await apply([
      deployment("volume-reader", { ...pythonContainer("reader", watcher), volumeMounts: [{ name: "credentials", mountPath: "/etc/wsdb", readOnly: true }] },
        [{ name: "credentials", secret: { secretName: `${workspace}-rw` } }]),
      deployment("env-reader", { ...pythonContainer("reader", "import time\nwhile True: time.sleep(60)"), envFrom: [{ secretRef: { name: `${workspace}-rw` } }] }),
    ]);
    await kubectl(["-n", ns, "rollout", "status", "deployment/volume-reader", "--timeout=120s"]);
    await kubectl(["-n", ns, "rollout", "status", "deployment/env-reader", "--timeout=120s"]);
    const before = (await readSecret(ns, `${workspace}-rw`))!.password!;
    await eventually("the volume reader logging in", async () =>
      (await kubectl(["-n", ns, "logs", "deployment/volume-reader"])).includes(`login ok ${digest(before)}`) || undefined, 60_000, 1000);
    const envLogin = async (): Promise<string> => (await kubectlResult(["-n", ns, "exec", "deployment/env-reader", "--", "python3", "-c",
      "import os, psycopg2\ntry:\n    psycopg2.connect(os.environ['uri'], connect_timeout=5).close(); print('login ok')\nexcept psycopg2.Error as e: print('login failed', e)"])).stdout;
    expect(await envLogin()).to.contain("login ok");

    const token = `pods-${Date.now()}`;
    await kubectl(["-n", ns, "annotate", "wsdb", workspace, `workspacedb.io/regenerate-rw=${token}`]);
    const regeneratedAt = Date.now();
    await eventually("the regeneration handled", async () =>
      (await kubectl(["-n", ns, "get", "wsdb", workspace, "-o", "jsonpath={.status.credentials.readWrite.regenerateToken}"])).trim() === token || undefined, 60_000, 250);
    const after = (await readSecret(ns, `${workspace}-rw`))!.password!;
    expect(after).to.not.equal(before);
    // The kubelet refreshes mounted Secrets within its sync period (10 s on the ground, 1 min by default).
    await eventually("the volume reader logging in with the new password", async () =>
      (await kubectl(["-n", ns, "logs", "deployment/volume-reader", "--since=90s"])).includes(`login ok ${digest(after)}`) || undefined, 90_000, 1000);
    const followedMs = Date.now() - regeneratedAt;
    process.stderr.write(`      (a mounted Secret followed the regeneration in ${followedMs} ms)\n`);
    // Environment variables are fixed when a container starts: the old password no longer logs in.
    expect(await envLogin()).to.contain("password authentication failed");
    await kubectl(["-n", ns, "rollout", "restart", "deployment/env-reader"]);
    await kubectl(["-n", ns, "rollout", "status", "deployment/env-reader", "--timeout=120s"]);
    await eventually("the restarted envFrom pod logging in", async () => (await envLogin()).includes("login ok") || undefined, 60_000, 1000);
  });

  it("serves the data API to a viewer through the chart's Service and APIService", async () => {
    const apiService = JSON.parse(await kubectl(["get", "apiservice", "v1alpha1.data.workspacedb.io", "-o", "json"])) as {
      spec: { service: { namespace: string; name: string } }; status: { conditions: Array<{ type: string; status: string }> };
    };
    expect(apiService.spec.service).to.include({ namespace: SYSTEM, name: `${RELEASE}-data-api` });
    const service = JSON.parse(await kubectl(["-n", SYSTEM, "get", "service", `${RELEASE}-data-api`, "-o", "json"])) as { spec: { type: string; externalName?: string } };
    expect(service.spec.type).to.equal("ClusterIP");
    await apply([{
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "viewers", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${RELEASE}-workspace-viewer` },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "vera" }],
    }]);
    const tables = await kubectl(["--as=vera", "-n", ns, "get", "workspacetables"]);
    expect(tables).to.match(/malaria\.public\.cases\s+malaria\s+table/);
    const preview = JSON.parse(await kubectl(["--as=vera", "get", "--raw", `/apis/data.workspacedb.io/v1alpha1/namespaces/${ns}/workspacetables/malaria.public.cases/preview?limit=2`])) as { rows: unknown[] };
    expect(preview.rows).to.have.length(2);
    const secret = await kubectlResult(["--as=vera", "-n", ns, "get", "secret", `${workspace}-ro`]);
    expect(secret.code).to.not.equal(0);
    expect(secret.stderr).to.contain("forbidden");
  });

  it("serves /metrics through the chart's Service, to a pod", async () => {
    const log = await runPod(podOf(ns, "scraper", [pythonContainer("scraper", `
import urllib.request
text = urllib.request.urlopen("http://${RELEASE}-metrics.${SYSTEM}.svc:8080/metrics", timeout=10).read().decode()
print("\\n".join(l for l in text.splitlines() if l.startswith("workspacedb_")))
`)]));
    expect(log).to.match(/^workspacedb_/m);
    expect(log).to.match(/^workspacedb_leader [01]$/m);
  });

  it("passes `helm test`: a pod of the operator's image finds the metrics Service ready and a replica leading", async () => {
    // The pod exits 0 only when both checks passed (its script throws otherwise, and the failed pod is
    // kept for its log); a succeeded one is deleted, so helm's --logs could not read it.
    const out = await helm(["test", RELEASE, "-n", SYSTEM, "--timeout", "3m"]);
    const text = out.stdout + out.stderr;
    expect(text).to.match(new RegExp(`TEST SUITE:\\s+${RELEASE}-test-leader[\\s\\S]*Phase:\\s+Succeeded`));
    expect(await kubectl(["-n", SYSTEM, "get", "pod", `${RELEASE}-test-leader`, "--ignore-not-found", "-o", "name"])).to.equal("");
  });
});
