// Operating the operator on the ground's node as a platform team meets it (issue 18): a leader that
// dies without a goodbye or is deleted, a drain against the chart's PodDisruptionBudget, servers pods
// cannot reach, upgrades (good and bad) and rollback with a notebook session open, uninstall and
// what it leaves, an upgrade from an earlier commit's chart and image, and bursts under the chart's
// memory limit, measured in the pod's cgroup.
//
// Runs after pods.test.ts (hack/test.sh names the files in order) on the release it installed; alone,
// it installs the release with the README's install block.
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Watch } from "@kubernetes/client-node";
import { expect } from "chai";
import { stringify } from "yaml";
import { getGround } from "../ground/index.ts";
import { canLoginWith, eventually, readSecret, sumMetric, superQueryOn, unique } from "../integration/support/fixtures.ts";
import { CHART, tools } from "../integration/support/deploy.ts";
import {
  apply, createNamespace, ensureInstalled, helm, kubectl, kubectlResult, leaseAcquiredAt, leaseHolder, node, operatorPods, podCgroupMemory, podOf, pythonContainer,
  previousChart, RELEASE, runReadmeBlock, splitImage, SYSTEM, waitOperatorPods, workspaceSecrets, type OperatorPod,
} from "./support.ts";

/** The notebook pod whose one session writes through upgrades. */
const SESSION = "notebook-session";

/** Starts a notebook pod that opens one session with the -rw Secret and inserts a row every 0.5 s, logging the backend pid. */
async function runNotebookSession(namespace: string, workspace: string): Promise<void> {
  await kubectl(["-n", namespace, "delete", "pod", SESSION, "--ignore-not-found"]);
  await apply([podOf(namespace, SESSION, [pythonContainer("notebook", `
import os, time, psycopg2
conn = psycopg2.connect(os.environ["DATABASE_URL"])
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE IF NOT EXISTS heartbeat (n int, pid int, at timestamptz DEFAULT now())")
n = 0
while True:
    try:
        cur.execute("INSERT INTO heartbeat (n, pid) VALUES (%s, pg_backend_pid()) RETURNING pid", (n,))
        print("ok", cur.fetchone()[0], n, flush=True)
    except psycopg2.Error as e:
        print("error", str(e).strip().splitlines()[0], flush=True)
        break
    n += 1
    time.sleep(0.5)
`, { envFrom: [{ secretRef: { name: `${workspace}-rw` } }] })])]);
  await eventually("the notebook session writing", async () => (await kubectlResult(["-n", namespace, "logs", SESSION])).stdout.includes("ok ") || undefined, 90_000, 500);
}

/** Ends the notebook session; resolves with what it logged. */
async function stopNotebookSession(namespace: string): Promise<{ log: string; errors: string[]; pids: string[]; writes: number }> {
  const log = await kubectl(["-n", namespace, "logs", SESSION]);
  await kubectl(["-n", namespace, "delete", "pod", SESSION, "--wait=false"]);
  const lines = log.split("\n").filter(Boolean);
  const ok = lines.filter((l) => l.startsWith("ok "));
  return { log, errors: lines.filter((l) => !l.startsWith("ok ")), pids: [...new Set(ok.map((l) => l.split(" ")[1]!))], writes: ok.length };
}

/** What a poll of the operator's pods saw. */
interface PodSample {
  /** Pods not being deleted. */
  pods: number;
  ready: number;
  list: OperatorPod[];
  /** Pods not of `before`'s ReplicaSets, not Ready yet. */
  newNotReady(before: OperatorPod[]): number;
}

/** Polls the operator's pods (every 300 ms) until stop(). */
function watchOperatorPods(): { stop(): Promise<PodSample[]> } {
  let stopped = false;
  const samples: PodSample[] = [];
  const loop = (async () => {
    while (!stopped) {
      const list = await operatorPods().catch(() => undefined);
      if (list) {
        const live = list.filter((p) => !p.deleting);
        samples.push({
          pods: live.length,
          ready: live.filter((p) => p.ready).length,
          list,
          newNotReady: (before) => live.filter((p) => !p.ready && !before.some((b) => b.hash === p.hash)).length,
        });
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

/** The release's current revision. */
async function releaseRevision(): Promise<number> {
  return (JSON.parse((await helm(["status", RELEASE, "-n", SYSTEM, "-o", "json"])).stdout) as { version: number }).version;
}

/** Runs one query as the ground's superuser; its rows. */
function superQuery<R extends object = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<R[]> {
  return superQueryOn<R>(getGround().postgres, sql, values);
}

/** Megabytes, for the log. */
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

/**
 * Watches (two API watches, established before it resolves) when the data API's APIService is
 * deleted and when the first operator pod starts being deleted.
 */
async function watchDeletions(): Promise<{ stop(): Promise<{ apiServiceGoneAt: number | undefined; firstPodDeletingAt: number | undefined }> }> {
  const watch = new Watch(getGround().kubeConfig);
  let apiServiceGoneAt: number | undefined;
  let firstPodDeletingAt: number | undefined;
  const aborts = await Promise.all([
    watch.watch("/apis/apiregistration.k8s.io/v1/apiservices", { fieldSelector: "metadata.name=v1alpha1.data.workspacedb.io" }, (type: string) => {
      if (type === "DELETED") apiServiceGoneAt ??= Date.now();
    }, () => undefined),
    watch.watch(`/api/v1/namespaces/${SYSTEM}/pods`, { labelSelector: "app.kubernetes.io/name=workspacedb-operator" }, (type: string, obj: { metadata?: { deletionTimestamp?: unknown } }) => {
      if (type === "DELETED" || obj.metadata?.deletionTimestamp !== undefined) firstPodDeletingAt ??= Date.now();
    }, () => undefined),
  ]);
  return {
    stop: async () => {
      await eventually("both deletions seen", async () => (apiServiceGoneAt !== undefined && firstPodDeletingAt !== undefined) || undefined, 60_000, 100).catch(() => undefined);
      for (const a of aborts) a.abort();
      return { apiServiceGoneAt, firstPodDeletingAt };
    },
  };
}

/** A pod's metrics (only `name`), through the API server's pod proxy. */
async function podMetrics(pod: string, name: string): Promise<string> {
  return kubectl(["get", "--raw", `/api/v1/namespaces/${SYSTEM}/pods/${pod}:8080/proxy/metrics?name=${name}`]);
}

/** What a burst cost. */
interface BurstReport { seconds: number; peakWorkingSet: number; peakUsage: number; standbyPeak: number; restarts: number; oomKills: number }

/**
 * Creates `count` WorkspaceDatabases at once (labelled burst=`prefix`, spread over `namespaces`
 * namespaces) and waits until all are Ready, sampling the operator pods' memory cgroups every 200 ms.
 */
async function burst(count: number, prefix: string, namespaces: number): Promise<BurstReport> {
  const { leader, standby } = await leaderAndStandby();
  const leaderMemory = podCgroupMemory(leader.uid);
  const standbyMemory = podCgroupMemory(standby.uid);
  leaderMemory.resetPeak();
  const names = Array.from({ length: namespaces }, (_, i) => `${prefix}-${i}`);
  await kubectl(["apply", "-f", "-"], names.map((name) => stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } })).join("---\n"));
  const objects = Array.from({ length: count }, (_, i) => stringify({
    apiVersion: "workspacedb.io/v1alpha1",
    kind: "WorkspaceDatabase",
    metadata: { name: `w${i}`, namespace: names[i % namespaces], labels: { burst: prefix } },
    spec: {},
  }));
  let peakWorkingSet = 0;
  let standbyPeak = 0;
  const sampler = setInterval(() => {
    try {
      peakWorkingSet = Math.max(peakWorkingSet, leaderMemory.workingSet());
      standbyPeak = Math.max(standbyPeak, standbyMemory.workingSet());
    } catch {
      // a cgroup gone with its pod: the restart count says so
    }
  }, 200);
  const started = Date.now();
  try {
    await kubectl(["create", "-f", "-"], objects.join("---\n"));
    await eventually(`${count} WorkspaceDatabases Ready`, async () => {
      const ready = (await kubectl(["get", "wsdb", "-A", "-l", `burst=${prefix}`, "-o", "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"]))
        .split("\n").filter((l) => l === "True").length;
      return ready === count ? true : undefined;
    }, 900_000, 2000);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (Date.now() - started) / 1000;
  const pods = await operatorPods();
  return {
    seconds,
    peakWorkingSet,
    peakUsage: leaderMemory.peakUsage(),
    standbyPeak,
    restarts: pods.reduce((n, p) => n + p.restarts, 0),
    oomKills: leaderMemory.oomKills() + standbyMemory.oomKills() + pods.filter((p) => p.lastTermination === "OOMKilled").length,
  };
}

/** The chart's leader election timing (values.yaml). */
const LEASE_DURATION_MS = 30_000;
const RETRY_PERIOD_MS = 2_000;

/** One line of the ground's statement log: when, and which application (the operator's identity). */
interface LogLine { at: number; application: string }

/** Statement-log lines from byte `offset` on (log_line_prefix `%m [%p] [%a] %u@%d `). */
function statementLog(offset: number): LogLine[] {
  const file = getGround().postgres.logFile!;
  const lines: LogLine[] = [];
  for (const line of readFileSync(file).subarray(offset).toString("utf8").split("\n")) {
    const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\S+) \[\d+\] \[([^\]]*)\] /.exec(line);
    if (m && / LOG: {2}(?:statement|execute [^:]*): /.test(line)) lines.push({ at: Date.parse(`${m[1]!.replace(" ", "T")}Z`), application: m[3]! });
  }
  return lines;
}

/** PostgreSQL truncates application_name to 63 bytes. */
const asApplication = (identity: string): string => identity.slice(0, 63);

/** The Ready pod holding the Lease, and the other one. */
async function leaderAndStandby(): Promise<{ leader: OperatorPod; standby: OperatorPod; holder: string }> {
  const pods = await waitOperatorPods(2);
  const holder = await eventually("a lease holder among the pods", async () => {
    const h = await leaseHolder();
    return pods.some((p) => h.startsWith(`${p.name}_`)) ? h : undefined;
  }, 60_000, 250);
  const leader = pods.find((p) => holder.startsWith(`${p.name}_`))!;
  return { leader, standby: pods.find((p) => p !== leader)!, holder };
}

/** Asks a regeneration of the read-only login and resolves once it is handled, with the old password refused. */
async function regenerate(ns: string, name: string, token: string, oldPassword: string): Promise<void> {
  await eventually(`regeneration ${token} handled`, async () =>
    (await kubectl(["-n", ns, "get", "wsdb", name, "-o", "jsonpath={.status.credentials.readOnly.regenerateToken}"])).trim() === token || undefined, 90_000, 250);
  const secret = (await readSecret(ns, `${name}-ro`))!;
  expect(secret.password).to.not.equal(oldPassword);
  const ground = getGround();
  const login = { host: ground.postgres.host, port: ground.postgres.port, database: secret.database!, user: secret.username! };
  expect(await canLoginWith({ ...login, password: oldPassword }), "old password").to.equal(false);
  expect(await canLoginWith({ ...login, password: secret.password! }), "new password").to.equal(true);
}

describe("on a node: operating it (failover, drain, failures, upgrade, rollback, uninstall, memory)", function () {
  this.timeout(900_000);
  const ns = unique("ops");
  const workspace = "survey";

  before(async () => {
    await ensureInstalled();
    await createNamespace(ns);
    await apply([{ apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", metadata: { name: workspace, namespace: ns }, spec: {} }]);
    await kubectl(["-n", ns, "wait", "--for=condition=Ready", `wsdb/${workspace}`, "--timeout=120s"]);
  });

  describe("leader loss", () => {
    it("SIGKILL of the leader's container: the standby leads within leaseDuration + retryPeriod, a regeneration asked meanwhile completes, nothing of the old leader runs after the new one's first statement", async () => {
      const { leader, standby, holder } = await leaderAndStandby();
      const logOffset = statSync(getGround().postgres.logFile!).size;
      const oldPassword = (await readSecret(ns, `${workspace}-ro`))!.password!;
      const killedAt = Date.now();
      await node().ctr(["tasks", "kill", "--signal", "SIGKILL", leader.containerId]);
      const token = `kill-${killedAt}`;
      await kubectl(["-n", ns, "annotate", "--overwrite", "wsdb", workspace, `workspacedb.io/regenerate-ro=${token}`]);
      const newHolder = await eventually("a new lease holder", async () => {
        const h = await leaseHolder();
        return h !== "" && h !== holder ? h : undefined;
      }, 90_000, 100);
      const takeoverMs = (await leaseAcquiredAt()) - killedAt;
      process.stderr.write(`      (takeover after SIGKILL: ${takeoverMs} ms; leaseDuration + retryPeriod = ${LEASE_DURATION_MS + RETRY_PERIOD_MS} ms)\n`);
      expect(newHolder.startsWith(`${standby.name}_`), `new holder ${newHolder}`).to.equal(true);
      // From the last renewal (before the kill) to the new holder's write; 500 ms for that write's round trip.
      expect(takeoverMs).to.be.below(LEASE_DURATION_MS + RETRY_PERIOD_MS + 500);
      await regenerate(ns, workspace, token, oldPassword);

      const lines = statementLog(logOffset);
      const firstOfNew = lines.find((l) => l.application === asApplication(newHolder));
      expect(firstOfNew, "a statement of the new leader").to.not.equal(undefined);
      const lateOld = lines.filter((l) => l.application === asApplication(holder) && l.at > firstOfNew!.at);
      expect(lateOld, "statements of the old leader after the new leader's first").to.deep.equal([]);
      // The killed container restarts in its pod as a new candidate (a new identity), not as the holder.
      const pods = await waitOperatorPods(2);
      expect(pods.find((p) => p.name === leader.name)?.restarts).to.equal(leader.restarts + 1);
      expect(await leaseHolder()).to.equal(newHolder);
    });

    it("deleting the leader's pod (SIGTERM): it releases the Lease and another replica leads within seconds", async () => {
      const { leader, holder } = await leaderAndStandby();
      const deletedAt = Date.now();
      await kubectl(["-n", SYSTEM, "delete", "pod", leader.name, "--wait=false"]);
      const newHolder = await eventually("a new lease holder", async () => {
        const h = await leaseHolder();
        return h !== "" && h !== holder ? h : undefined;
      }, 60_000, 100);
      const takeoverMs = (await leaseAcquiredAt()) - deletedAt;
      process.stderr.write(`      (takeover after a pod deletion: ${takeoverMs} ms)\n`);
      // The standby, or the pod replacing the deleted one when it starts first: the released Lease is free for anyone.
      expect(newHolder.startsWith(`${leader.name}_`), `new holder ${newHolder}`).to.equal(false);
      expect(takeoverMs).to.be.below(10_000);
      const oldPassword = (await readSecret(ns, `${workspace}-ro`))!.password!;
      const token = `term-${deletedAt}`;
      await kubectl(["-n", ns, "annotate", "--overwrite", "wsdb", workspace, `workspacedb.io/regenerate-ro=${token}`]);
      await regenerate(ns, workspace, token, oldPassword);
      await waitOperatorPods(2);
    });
  });

  describe("drain", () => {
    afterEach(async () => {
      await kubectl(["uncordon", node().name]);
    });

    it("kubectl drain evicts one replica; the PodDisruptionBudget refuses the second while the first is not Ready again", async () => {
      const before = await waitOperatorPods(2);
      const pdb = JSON.parse(await kubectl(["-n", SYSTEM, "get", "pdb", RELEASE, "-o", "json"])) as { status: { disruptionsAllowed: number } };
      expect(pdb.status.disruptionsAllowed).to.equal(1);
      // Only the operator's pods (CoreDNS, which nothing would reschedule on a cordoned node, stays).
      const drain = await kubectlResult(["drain", node().name, "--pod-selector=app.kubernetes.io/name=workspacedb-operator",
        "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=20s"]);
      const output = drain.stdout + drain.stderr;
      expect(drain.code, output).to.not.equal(0);
      expect(output).to.contain("disruption budget");
      const pods = await operatorPods();
      const survivors = pods.filter((p) => before.some((b) => b.name === p.name) && !p.deleting);
      expect(survivors, JSON.stringify(pods)).to.have.length(1);
      expect(survivors[0]!.ready).to.equal(true);
      // Its replacement cannot run on the cordoned node: the budget keeps the survivor.
      const replacements = pods.filter((p) => !before.some((b) => b.name === p.name));
      expect(replacements.map((p) => p.phase)).to.deep.equal(["Pending"]);
      // The survivor leads (it was the leader, or took over from the evicted one within seconds).
      await eventually("the survivor leads", async () => ((await leaseHolder()).startsWith(`${survivors[0]!.name}_`) ? true : undefined), 45_000, 250);
      await kubectl(["uncordon", node().name]);
      await waitOperatorPods(2);
      await eventually("the budget allows one disruption again", async () =>
        (await kubectl(["-n", SYSTEM, "get", "pdb", RELEASE, "-o", "jsonpath={.status.disruptionsAllowed}"])).trim() === "1" || undefined, 60_000, 500);
    });
  });

  describe("failures a person must understand", () => {
    it("a DatabaseServer whose host pods cannot reach is Ready=False within seconds, with a sentence naming host and port", async () => {
      // A Service without endpoints (refused at once) and a name no DNS knows.
      await apply([{ apiVersion: "v1", kind: "Service", metadata: { name: "postgres-gone", namespace: ns }, spec: { ports: [{ port: 5432 }] } }]);
      const cases = [
        { name: `gone-${ns.slice(-6)}`, host: `postgres-gone.${ns}.svc.cluster.local`, port: 5432 },
        { name: `nowhere-${ns.slice(-6)}`, host: "postgres.nowhere.invalid", port: 6543 },
      ];
      const started = Date.now();
      await apply(cases.map((c) => ({
        apiVersion: "workspacedb.io/v1alpha1",
        kind: "DatabaseServer",
        metadata: { name: c.name },
        spec: { host: c.host, port: c.port, sslMode: "require", adminSecretRef: { namespace: SYSTEM, name: "pg-admin" } },
      })));
      try {
        for (const c of cases) {
          const message = await eventually(`${c.name} Ready=False`, async () => {
            const out = (await kubectl(["get", "dbserver", c.name, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status} {.status.conditions[?(@.type==\"Ready\")].message}"])).trim();
            return out.startsWith("False ") ? out.slice(6) : undefined;
          }, 30_000, 250);
          process.stderr.write(`      (${c.name}: Ready=False after ${Date.now() - started} ms: ${message})\n`);
          expect(message).to.contain(`${c.host}:${c.port}`);
        }
        expect(Date.now() - started).to.be.below(20_000);
      } finally {
        await kubectl(["delete", "dbserver", ...cases.map((c) => c.name), "--wait=false"]);
      }
    });
  });

  describe("upgrade and rollback", () => {
    let goodRevision = 0;

    it("helm upgrade with a changed setting rolls the pods one at a time while a notebook session stays open and writes; nothing is re-provisioned", async () => {
      const before = await waitOperatorPods(2);
      const secrets = await workspaceSecrets(ns, workspace);
      await runNotebookSession(ns, workspace);
      const watch = watchOperatorPods();
      await helm(["upgrade", RELEASE, CHART, "-n", SYSTEM, "--reset-then-reuse-values", "--set", "settings.workers=3", "--wait", "--timeout", "5m"]);
      const samples = await watch.stop();
      const after = await waitOperatorPods(2);
      expect(after.every((p) => !before.some((b) => b.hash === p.hash)), "every pod of the new ReplicaSet").to.equal(true);
      // One at a time: never more than one pod beyond the two, never fewer than one Ready.
      expect(Math.max(...samples.map((s) => s.pods)), "pods at once").to.be.at.most(3);
      expect(Math.min(...samples.map((s) => s.ready)), "Ready pods at every moment").to.be.at.least(1);
      expect(Math.max(...samples.map((s) => s.newNotReady(before))), "new pods starting at once").to.be.at.most(1);
      expect(await kubectl(["-n", SYSTEM, "get", "configmap", `${RELEASE}-config`, "-o", "jsonpath={.data.operator\\.yaml}"])).to.match(/^workers: 3$/m);
      const session = await stopNotebookSession(ns);
      expect(session.errors, session.log).to.deep.equal([]);
      expect(session.pids, "one session all along").to.have.length(1);
      expect(session.writes).to.be.greaterThan(samples.length / 4);
      expect(await workspaceSecrets(ns, workspace)).to.deep.equal(secrets);
      goodRevision = await releaseRevision();
    });

    it("a helm upgrade the schema refuses changes nothing; a bad one (settings that contradict each other) leaves the old ReplicaSet serving and Ready, the new pod's log names the setting, and helm rollback recovers", async () => {
      const before = await waitOperatorPods(2);
      const secrets = await workspaceSecrets(ns, workspace);
      // values.schema.json: refused by helm itself, naming the value; no new revision, no new pod.
      const refused = await tools().helm(["upgrade", RELEASE, CHART, "-n", SYSTEM, "--reset-then-reuse-values", "--set", "settings.passwordLength=8"]).then(
        () => "succeeded", (err: Error) => err.message);
      expect(refused).to.contain("at '/settings/passwordLength': minimum: got 8, want 16");
      expect(await releaseRevision()).to.equal(goodRevision);
      const bad = await tools().helm(["upgrade", RELEASE, CHART, "-n", SYSTEM, "--reset-then-reuse-values", "--set", "settings.postgres.statementTimeout=25s", "--wait", "--timeout", "40s"]).then(
        () => "succeeded", (err: Error) => err.message);
      expect(bad).to.contain("UPGRADE FAILED");
      const pods = await operatorPods();
      const old = pods.filter((p) => before.some((b) => b.hash === p.hash));
      expect(old.map((p) => p.ready), "the old pods").to.deep.equal([true, true]);
      const fresh = pods.filter((p) => !before.some((b) => b.hash === p.hash));
      expect(fresh, JSON.stringify(pods)).to.have.length(1);
      expect(fresh[0]!.ready).to.equal(false);
      const log = await eventually("the new pod's log", async () => {
        const out = await kubectlResult(["-n", SYSTEM, "logs", fresh[0]!.name, ...(fresh[0]!.restarts > 0 ? ["--previous"] : [])]);
        return out.stdout.includes("postgres.statementTimeout") ? out.stdout : undefined;
      }, 30_000, 1000);
      process.stderr.write(`      (the new pod says: ${log.trim().split("\n").pop()})\n`);
      // Still serving: a regeneration asked now is done by the old leader.
      const oldPassword = (await readSecret(ns, `${workspace}-ro`))!.password!;
      const token = `bad-upgrade-${Date.now()}`;
      await kubectl(["-n", ns, "annotate", "--overwrite", "wsdb", workspace, `workspacedb.io/regenerate-ro=${token}`]);
      await regenerate(ns, workspace, token, oldPassword);
      await helm(["rollback", RELEASE, String(goodRevision), "-n", SYSTEM, "--wait", "--timeout", "5m"]);
      const recovered = await waitOperatorPods(2);
      expect(recovered.map((p) => p.hash)).to.deep.equal(before.map((p) => p.hash));
      expect(recovered.map((p) => p.name).sort()).to.deep.equal(before.map((p) => p.name).sort());
      const now = await workspaceSecrets(ns, workspace);
      expect(now[`${workspace}-rw`]).to.equal(secrets[`${workspace}-rw`]);
      expect(now.rw).to.equal(secrets.rw);
    });
  });

  describe("uninstall, and an upgrade from an earlier commit over what it left", () => {
    const kept = unique("ops-kept");
    const dropped = unique("ops-drop");
    let secretsBefore: Record<string, string> = {};
    let databases: string[] = [];

    before(async () => {
      await createNamespace(kept);
      await createNamespace(dropped);
      await apply([
        { apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", metadata: { name: "leftover", namespace: kept }, spec: {} },
        { apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", metadata: { name: "scratch", namespace: dropped }, spec: { deletionPolicy: "Delete" } },
      ]);
      await kubectl(["-n", kept, "wait", "--for=condition=Ready", "wsdb/leftover", "--timeout=120s"]);
      await kubectl(["-n", dropped, "wait", "--for=condition=Ready", "wsdb/scratch", "--timeout=120s"]);
    });

    it("helm uninstall (the README's block) removes the APIService before the pods, and leaves every database, role and Secret in place", async () => {
      secretsBefore = await workspaceSecrets(ns, workspace);
      databases = await Promise.all([[ns, workspace], [kept, "leftover"], [dropped, "scratch"]].map(async ([n, w]) =>
        (await kubectl(["-n", n!, "get", "wsdb", w!, "-o", "jsonpath={.status.database}"])).trim()));
      const roles = (await kubectl(["-n", ns, "get", "wsdb", workspace, "-o", "jsonpath={.status.credentials.readWrite.username} {.status.credentials.readOnly.username}"])).trim().split(" ");
      const order = await watchDeletions();
      const out = await runReadmeBlock("<!-- uninstall-block", {});
      expect(out.stdout).to.contain("uninstalled");
      const { apiServiceGoneAt, firstPodDeletingAt } = await order.stop();
      expect(apiServiceGoneAt, "the APIService deleted").to.not.equal(undefined);
      expect(firstPodDeletingAt, "a pod deleted").to.not.equal(undefined);
      process.stderr.write(`      (APIService gone ${firstPodDeletingAt! - apiServiceGoneAt!} ms before the first pod was deleted)\n`);
      expect(apiServiceGoneAt!).to.be.below(firstPodDeletingAt!);
      await eventually("the operator's pods gone", async () => ((await operatorPods()).length === 0 ? true : undefined), 120_000, 500);
      // What stays: CRDs, the objects with their finalizers, Secrets, databases and roles.
      expect(await kubectl(["-n", ns, "get", "wsdb", workspace, "-o", "jsonpath={.metadata.finalizers}"])).to.contain("workspacedb.io/finalizer");
      expect(await workspaceSecrets(ns, workspace)).to.deep.equal(secretsBefore);
      const found = await superQuery<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = ANY($1)", [databases]);
      expect(found.map((r) => r.datname).sort()).to.deep.equal([...databases].sort());
      const foundRoles = await superQuery<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1) AND rolcanlogin", [roles]);
      expect(foundRoles).to.have.length(2);
      // Namespace deletion elsewhere is not stalled by a data API that no longer answers.
      const empty = unique("ops-empty");
      await createNamespace(empty);
      await kubectl(["delete", "namespace", empty, "--timeout=60s"]);
    });

    it("with no operator, a namespace holding a WorkspaceDatabase stays Terminating until the README's finalizer block, which leaves the database", async () => {
      await kubectl(["delete", "namespace", kept, "--wait=false"]);
      await kubectl(["delete", "namespace", dropped, "--wait=false"]);
      await new Promise((r) => setTimeout(r, 8_000));
      expect((await kubectl(["get", "namespace", kept, "-o", "jsonpath={.status.phase}"])).trim()).to.equal("Terminating");
      expect((await kubectl(["-n", kept, "get", "wsdb", "leftover", "-o", "jsonpath={.metadata.deletionTimestamp}"])).trim()).to.not.equal("");
      await runReadmeBlock("<!-- finalizers-block", { NAMESPACE: kept });
      await eventually(`namespace ${kept} gone`, async () => ((await kubectlResult(["get", "namespace", kept])).code !== 0 ? true : undefined), 90_000, 500);
      const found = await superQuery<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = $1", [databases[1]]);
      expect(found, "the database stays on the server").to.have.length(1);
    });

    it("installs the chart and image of the commit before issue 18 over what is left, finishes the pending deletion, then upgrades with the README's block: nothing re-provisioned", async () => {
      const previous = node().images.previous;
      const chart = await previousChart(mkdtempSync(join(getGround().root, "previous-chart-")));
      const image = splitImage(previous.ref);
      await helm(["install", RELEASE, chart, "-n", SYSTEM, "--set", `image.repository=${image.repository}`, "--set", `image.tag=${image.tag}`, "--wait", "--timeout", "5m"]);
      const old = await waitOperatorPods(2);
      expect(old.map((p) => p.image)).to.deep.equal([previous.ref, previous.ref]);
      // The reinstalled operator finishes what waited: the Delete policy's database dropped, the namespace gone.
      await eventually(`namespace ${dropped} gone`, async () => ((await kubectlResult(["get", "namespace", dropped])).code !== 0 ? true : undefined), 120_000, 500);
      expect(await superQuery("SELECT 1 FROM pg_database WHERE datname = $1", [databases[2]])).to.have.length(0);
      await kubectl(["-n", ns, "wait", "--for=condition=Ready", `wsdb/${workspace}`, "--timeout=120s"]);
      expect(await workspaceSecrets(ns, workspace)).to.deep.equal(secretsBefore);

      await runNotebookSession(ns, workspace);
      const current = splitImage(node().images.operator);
      await runReadmeBlock("<!-- upgrade-block", { IMAGE_REPOSITORY: current.repository, IMAGE_TAG: current.tag });
      const upgraded = await waitOperatorPods(2);
      expect(upgraded.map((p) => p.image)).to.deep.equal([node().images.operator, node().images.operator]);
      await kubectl(["wait", "--for=condition=Available", "apiservice/v1alpha1.data.workspacedb.io", "--timeout=120s"]);
      await kubectl(["-n", ns, "wait", "--for=condition=Ready", `wsdb/${workspace}`, "--timeout=120s"]);
      const session = await stopNotebookSession(ns);
      expect(session.errors, session.log).to.deep.equal([]);
      expect(session.pids).to.have.length(1);
      expect(await workspaceSecrets(ns, workspace)).to.deep.equal(secretsBefore);
      // And it works: a regeneration by the upgraded operator.
      const oldPassword = (await readSecret(ns, `${workspace}-ro`))!.password!;
      const token = `upgraded-${Date.now()}`;
      await kubectl(["-n", ns, "annotate", "--overwrite", "wsdb", workspace, `workspacedb.io/regenerate-ro=${token}`]);
      await regenerate(ns, workspace, token, oldPassword);
    });
  });

  describe("memory and probes under load", () => {
    it("a burst of 500 WorkspaceDatabases under the chart's default resources: all Ready, no restart, no OOM kill; the pod cgroup's peak working set", async () => {
      const report = await burst(500, "burst-a", 5);
      process.stderr.write(`      (500 Ready in ${report.seconds.toFixed(1)} s; leader pod cgroup: peak working set ${mb(report.peakWorkingSet)} MB, peak usage ${mb(report.peakUsage)} MB, limit 384 MiB; standby ${mb(report.standbyPeak)} MB)\n`);
      expect(report.restarts).to.equal(0);
      expect(report.oomKills).to.equal(0);
      expect(report.peakWorkingSet).to.be.below(384 * 1024 * 1024);
    });

    it("a restart over 2,000 WorkspaceDatabases: the probes do not restart the new pods during their first sync", async function () {
      // The 1,500 more (up to 900 s) and the restart's first sync (up to 600 s) in one test: 652 + 157 s
      // on this slow machine, too close to the suite's 900 s.
      this.timeout(1_600_000);
      const report = await burst(1500, "burst-b", 15);
      process.stderr.write(`      (1,500 more Ready in ${report.seconds.toFixed(1)} s; peak working set ${mb(report.peakWorkingSet)} MB)\n`);
      expect(report.restarts).to.equal(0);
      const before = await waitOperatorPods(2);
      const started = Date.now();
      await kubectl(["-n", SYSTEM, "rollout", "restart", `deployment/${RELEASE}`]);
      await kubectl(["-n", SYSTEM, "rollout", "status", `deployment/${RELEASE}`, "--timeout=5m"]);
      const pods = await waitOperatorPods(2);
      expect(pods.some((p) => before.some((b) => b.name === p.name))).to.equal(false);
      // The new leader's first pass over every object (its reconcile counter reaching 2,000).
      const { leader } = await leaderAndStandby();
      const cgroup = podCgroupMemory(leader.uid);
      let peak = 0;
      const passes = await eventually("the new leader's first sync", async () => {
        peak = Math.max(peak, cgroup.workingSet());
        const n = sumMetric(await podMetrics(leader.name, "workspacedb_reconcile_total"), "workspacedb_reconcile_total");
        return n >= 2001 ? n : undefined;
      }, 600_000, 1000);
      const seconds = (Date.now() - started) / 1000;
      process.stderr.write(`      (restart to the end of the first sync of 2,001 objects: ${seconds.toFixed(1)} s, ${passes} passes; leader peak working set ${mb(peak)} MB)\n`);
      const after = await operatorPods();
      expect(after.map((p) => p.restarts)).to.deep.equal([0, 0]);
      const unhealthy = (await kubectl(["-n", SYSTEM, "get", "events", "--field-selector", "reason=Unhealthy", "-o", "jsonpath={range .items[*]}{.involvedObject.name} {.message}{\"\\n\"}{end}"]))
        .split("\n").filter((l) => l.includes("Liveness") && after.some((p) => l.startsWith(`${p.name} `)));
      expect(unhealthy, "liveness probe failures").to.deep.equal([]);
    });
  });
});
