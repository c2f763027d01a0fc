// The chart's alerting rules, evaluated by promtool (github.com/prometheus/prometheus/cmd/promtool,
// built by hack/build-binaries.sh): `promtool check rules` on the rules the chart renders, then
// `promtool test rules` with the cases of test/alerts/ (each alert fires when it should, and only
// then); each alert links to its runbook in docs/runbooks/. The metric names the rules and the
// dashboard read are checked against a live scrape in e2e/monitoring.test.ts.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { parse, stringify } from "yaml";
import { REPO_ROOT } from "../ground/index.ts";
import { groundBinary } from "../support/bin.ts";
import { RUNBOOK_BASE, dashboardQueries, metricNames, renderChart, renderMonitoring, type RuleGroup } from "./support/monitoring.ts";

const ALERTS = [
  "WorkspaceDBOperatorDown",
  "WorkspaceDBNoLeader",
  "WorkspaceDBWorkspacesNotReady",
  "WorkspaceDBRegenerationNotApplied",
  "WorkspaceDBServerUnreachable",
  "WorkspaceDBDriftRepairedRepeatedly",
];

describe("the chart's alerting rules under promtool, and its dashboard", function () {
  this.timeout(120_000);
  let dir: string;
  let groups: RuleGroup[];
  const promtool = (args: string[]) =>
    promisify(execFile)(groundBinary("promtool"), args, { cwd: dir }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`promtool ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? err.message}`);
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "wsdb-rules-"));
    groups = (await renderMonitoring()).groups;
    writeFileSync(join(dir, "rules.yaml"), stringify({ groups }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("renders nothing of it by default (PrometheusRule and dashboard are off)", async () => {
    const kinds = (await renderChart([])).map((o) => `${String(o.kind)}/${String((o.metadata as { name: string }).name)}`);
    expect(kinds.filter((k) => k.startsWith("PrometheusRule/") || k.endsWith("-dashboard") || k.startsWith("NetworkPolicy/"))).to.deep.equal([]);
  });

  it("passes promtool check rules", async () => {
    const { stdout } = await promtool(["check", "rules", "rules.yaml"]);
    expect(stdout).to.contain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it("fires each alert when it should and not otherwise (promtool test rules)", async () => {
    const cases = join(REPO_ROOT, "test", "alerts");
    const files = readdirSync(cases).filter((f) => f.endsWith(".test.yaml"));
    expect(files.length).to.be.greaterThan(0);
    for (const file of files) copyFileSync(join(cases, file), join(dir, file));
    const { stdout } = await promtool(["test", "rules", ...files]);
    expect(stdout).to.contain("SUCCESS");
    // Every alert has a case where it fires and one where it must not.
    type Case = { alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> };
    const checks = files.flatMap((f) => ((parse(readFileSync(join(cases, f), "utf8")) as { tests: Case[] }).tests ?? []).flatMap((t) => t.alert_rule_test ?? []));
    for (const alert of ALERTS) {
      expect(checks.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length > 0), `${alert} fires in a case`).to.equal(true);
      expect(checks.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0), `${alert} stays quiet in a case`).to.equal(true);
    }
  });

  it("names exactly the alerts the README lists, each with a severity and a runbook page that exists", () => {
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).to.deep.equal(ALERTS);
    for (const rule of rules) {
      expect(rule.labels?.severity, rule.alert).to.be.oneOf(["critical", "warning"]);
      expect(rule.annotations?.runbook_url, rule.alert).to.equal(`${RUNBOOK_BASE}/${rule.alert}.md`);
      expect(existsSync(join(REPO_ROOT, "docs", "runbooks", `${rule.alert}.md`)), `docs/runbooks/${rule.alert}.md`).to.equal(true);
    }
    const pages = readdirSync(join(REPO_ROOT, "docs", "runbooks")).filter((f) => f !== "README.md").map((f) => f.replace(/\.md$/, ""));
    expect(pages.sort()).to.deep.equal([...ALERTS].sort());
  });

  it("follows the chart's thresholds, extra labels and series selector", async () => {
    const custom = await renderMonitoring([
      "prometheusRule.notReadyFor=1h30m",
      "prometheusRule.regenerationTimeout=2m",
      "prometheusRule.alertLabels.team=data",
      "prometheusRule.seriesSelector=job=\"wsdb\"",
    ]);
    const rules = custom.groups.flatMap((g) => g.rules);
    const byName = (name: string) => rules.find((r) => r.alert === name)!;
    expect(byName("WorkspaceDBWorkspacesNotReady").expr).to.contain("> 5400");
    expect(byName("WorkspaceDBRegenerationNotApplied").expr).to.contain("> 120");
    for (const rule of rules) {
      expect(rule.labels?.team, rule.alert).to.equal("data");
      expect(rule.expr, rule.alert).to.contain('{job="wsdb"}');
    }
  });

  it("refuses to render the rules without a runbook address, or with a threshold that is not a duration", async () => {
    const failure = async (set: string[]): Promise<string> => {
      try {
        await renderChart(set);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`helm template ${set.join(" ")} should have failed`);
    };
    expect(await failure(["prometheusRule.enabled=true"])).to.contain("prometheusRule.runbookBaseUrl is required");
    expect(await failure(["prometheusRule.enabled=true", `prometheusRule.runbookBaseUrl=${RUNBOOK_BASE}`, "prometheusRule.notReadyFor=soon"])).to.contain("/prometheusRule/notReadyFor");
  });

  it("reads metrics in every rule and dashboard query (the names themselves are checked on a live scrape by e2e/monitoring.test.ts)", async () => {
    const { dashboard } = await renderMonitoring();
    expect(dashboard.uid).to.equal("workspacedb-operator");
    for (const rule of groups.flatMap((g) => g.rules)) expect(metricNames(rule.expr), rule.alert).to.not.deep.equal([]);
    for (const query of dashboardQueries(dashboard)) expect(metricNames(query), query).to.not.deep.equal([]);
    expect(metricNames('histogram_quantile(0.95, sum by (controller, le) (rate(workspacedb_reconcile_duration_seconds_bucket{job=~"$job"}[5m])))'))
      .to.deep.equal(["workspacedb_reconcile_duration_seconds_bucket"]);
    expect(metricNames('absent(up{job="x"} == 1) or max(workspacedb_leader) < 1')).to.deep.equal(["up", "workspacedb_leader"]);
  });
});
