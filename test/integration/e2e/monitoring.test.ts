// End to end: the metrics the chart's alerts and dashboard read, on a live operator. Every metric name
// in every rule and dashboard query is in a real scrape; the state gauges follow the objects: by
// Ready reason, the oldest not-Ready, a server's readiness, a regeneration pending while its server is
// held down (and its age), and drift repairs of each kind.
import { expect } from "chai";
import { ANNOTATION_REGENERATE_RO } from "../../../src/api/types.ts";
import { getGround } from "../../ground/index.ts";
import { RecordingProxy } from "../support/proxy.ts";
import {
  annotateWorkspace,
  asSuperuser,
  createDatabaseServer,
  createWorkspace,
  deleteDatabaseServer,
  deleteSecret,
  deleteWorkspace,
  ensureNamespace,
  eventually,
  getWorkspace,
  operatorMetrics,
  pokeServer,
  setupServer,
  sumMetric,
  unique,
  waitEvent,
  waitGone,
  waitReady,
  waitReason,
  waitServerReason,
} from "../support/fixtures.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { PROMETHEUS_SERIES, dashboardQueries, metricNames, renderMonitoring, scrapedFamilies } from "../support/monitoring.ts";

describe("metrics for alerts and dashboards, on a live operator (end to end)", function () {
  this.timeout(240_000);
  const ns = unique("ws-mon");
  const held = unique("held-mon");
  const taken = `taken_${ns.slice(-6).replace(/-/g, "_")}`;
  let operator: OperatorProcess;
  let port: number;
  let proxy: RecordingProxy | undefined;
  const scrape = async (): Promise<string> => operatorMetrics(port);
  /** The value of one series, by labels (summed when several match). */
  const gauge = async (name: string, labels: Record<string, string> = {}): Promise<number> =>
    sumMetric(await scrape(), name, (l) => Object.entries(labels).every(([k, v]) => l[k] === v));

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator();
    port = await operator.httpPort();
    await createWorkspace(ns, "ok");
    await waitReady(ns, "ok", 60_000);
  });
  after(async () => {
    for (const name of ["ok", "taken", "on-held"]) await deleteWorkspace(ns, name);
    for (const name of ["ok", "taken", "on-held"]) await waitGone(ns, name, 60_000).catch(() => undefined);
    await operator?.stop();
    await proxy?.close();
    await deleteDatabaseServer(held);
    await asSuperuser("postgres", async (c) => c.query(`DROP ROLE IF EXISTS ${taken}`));
  });

  it("serves every metric the chart's alert rules and Grafana dashboard query", async () => {
    const { groups, dashboard } = await renderMonitoring();
    const queries = [...groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboardQueries(dashboard)];
    const used = new Set(queries.flatMap(metricNames));
    expect(used.size).to.be.greaterThan(10);
    await eventually("the leader's scrape", async () => ((await gauge("workspacedb_leader")) === 1 ? true : undefined), 30_000);
    const families = scrapedFamilies(await scrape());
    const missing = [...used].filter((name) => !families.has(name) && !PROMETHEUS_SERIES.has(name));
    expect(missing, "metrics a rule or panel reads that the operator does not serve").to.deep.equal([]);
  });

  it("counts workspaces by Ready reason and reports the longest not Ready (a Conflict)", async () => {
    await asSuperuser("postgres", async (c) => c.query(`CREATE ROLE ${taken} NOLOGIN`));
    await createWorkspace(ns, "taken", { databaseName: taken });
    await waitReason(ns, "taken", "Conflict", 60_000);
    await eventually("Conflict counted", async () => ((await gauge("workspacedb_databases_by_reason", { reason: "Conflict" })) >= 1 ? true : undefined), 15_000);
    expect(await gauge("workspacedb_databases_by_reason", { reason: "Provisioned" })).to.be.at.least(1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await gauge("workspacedb_databases_not_ready_oldest_seconds", { reason: "Conflict" })).to.be.at.least(1);
    expect(await scrape()).to.not.match(/workspacedb_databases_not_ready_oldest_seconds\{reason="Provisioned"\}/);
  });

  it("reports a server held down, and a regeneration pending on it with its age, until both are over", async () => {
    const { postgres } = getGround();
    proxy = new RecordingProxy("127.0.0.1", postgres.port);
    await proxy.listen();
    const proxyPort = proxy.port;
    await createDatabaseServer(held, { host: "127.0.0.1", port: proxyPort });
    await waitServerReason(held, "Connected");
    await createWorkspace(ns, "on-held", { serverRef: { name: held } });
    await waitReady(ns, "on-held", 60_000);
    expect(await gauge("workspacedb_database_server_ready", { server: held, reason: "Connected" })).to.equal(1);
    expect(await gauge("workspacedb_regenerations_pending")).to.equal(0);

    await proxy.close();
    await pokeServer(held);
    await waitServerReason(held, "ServerUnavailable");
    await eventually("the server reported down", async () => ((await scrape()).includes(`workspacedb_database_server_ready{server="${held}",reason="ServerUnavailable"} 0`) ? true : undefined), 15_000);
    await annotateWorkspace(ns, "on-held", { [ANNOTATION_REGENERATE_RO]: "while-down" });
    await eventually("the regeneration pending", async () => ((await gauge("workspacedb_regenerations_pending")) === 1 ? true : undefined), 15_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await gauge("workspacedb_regeneration_oldest_pending_seconds")).to.be.at.least(2);

    proxy = new RecordingProxy("127.0.0.1", postgres.port);
    await proxy.listen(proxyPort);
    await pokeServer(held);
    await waitServerReason(held, "Connected", 60_000);
    await eventually("the regeneration applied", async () => {
      const obj = await getWorkspace(ns, "on-held");
      return obj?.status?.credentials?.readOnly?.regenerateToken === "while-down" ? obj : undefined;
    }, 90_000);
    await eventually("nothing pending", async () => ((await gauge("workspacedb_regenerations_pending")) === 0 ? true : undefined), 15_000);
    expect(await gauge("workspacedb_regeneration_oldest_pending_seconds")).to.equal(0);
  });

  it("counts drift repairs by kind: a password changed, a privilege changed, a Secret deleted behind its back", async () => {
    const obj = await waitReady(ns, "ok");
    const role = obj.status!.credentials!.readWrite!.username;
    const before = { password: await gauge("workspacedb_drift_repairs_total", { kind: "password" }), sql: await gauge("workspacedb_drift_repairs_total", { kind: "sql" }), secret: await gauge("workspacedb_drift_repairs_total", { kind: "secret" }) };

    await asSuperuser("postgres", async (c) => c.query(`ALTER ROLE "${role}" PASSWORD 'changed-behind-its-back'`));
    await annotateWorkspace(ns, "ok", { "example.org/poke": "password" });
    await waitEvent(ns, "ok", "PasswordReset", 60_000);
    await eventually("a password repair counted", async () => ((await gauge("workspacedb_drift_repairs_total", { kind: "password" })) > before.password ? true : undefined), 15_000);

    await asSuperuser("postgres", async (c) => c.query(`ALTER ROLE "${role}" CONNECTION LIMIT 1`));
    await eventually("an SQL repair counted", async () => ((await gauge("workspacedb_drift_repairs_total", { kind: "sql" })) > before.sql ? true : undefined), 60_000);

    await deleteSecret(ns, obj.status!.credentials!.readOnly!.secretName);
    await eventually("a Secret repair counted", async () => ((await gauge("workspacedb_drift_repairs_total", { kind: "secret" })) > before.secret ? true : undefined), 60_000);
    await waitReady(ns, "ok");
  });
});
