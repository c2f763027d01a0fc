// The chart's monitoring as rendered by helm: the PrometheusRule's groups, the Grafana dashboard's
// queries, and the metric names their PromQL reads.
import { parseAllDocuments } from "yaml";
import { CHART, tools } from "./deploy.ts";

/** The release the promtool cases (test/alerts/*.test.yaml) are written for. */
export const RULES_RELEASE = { name: "workspacedb-operator", namespace: "workspacedb-system" };
export const RUNBOOK_BASE = "https://runbooks.invalid/workspacedb-operator/docs/runbooks";

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** Every object `helm template` renders with `set` (values as --set takes them), without hooks' tests. */
export async function renderChart(set: string[]): Promise<Array<Record<string, unknown>>> {
  const args = ["template", RULES_RELEASE.name, CHART, "-n", RULES_RELEASE.namespace];
  for (const value of set) args.push("--set", value);
  const { stdout } = await tools().helm(args);
  return parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, unknown> | null).filter((d): d is Record<string, unknown> => d !== null);
}

/** The PrometheusRule's groups and the dashboard's queries, rendered with monitoring on. */
export async function renderMonitoring(extra: string[] = []): Promise<{ groups: RuleGroup[]; dashboard: Dashboard }> {
  const objects = await renderChart([
    "prometheusRule.enabled=true",
    `prometheusRule.runbookBaseUrl=${RUNBOOK_BASE}`,
    "grafanaDashboard.enabled=true",
    ...extra,
  ]);
  const rule = objects.find((o) => o.kind === "PrometheusRule");
  const map = objects.find((o) => o.kind === "ConfigMap" && ((o.metadata as { labels?: Record<string, string> }).labels ?? {}).grafana_dashboard === "1");
  if (rule === undefined || map === undefined) throw new Error("the chart rendered no PrometheusRule or no dashboard ConfigMap");
  const groups = (rule.spec as { groups: RuleGroup[] }).groups;
  const data = (map as { data: Record<string, string> }).data;
  return { groups, dashboard: JSON.parse(data["workspacedb-operator.json"] ?? "{}") as Dashboard };
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  templating?: { list: Array<{ name: string; definition?: string }> };
}

/** Every PromQL expression of the dashboard: panel queries and template variables' queries. */
export function dashboardQueries(dashboard: Dashboard): string[] {
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of dashboard.templating?.list ?? []) if (v.definition !== undefined) queries.push(v.definition.replace(/^label_values\((.*),\s*\w+\)$/, "$1"));
  return queries;
}

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan"]);

/**
 * The metric names a PromQL expression reads: identifiers that are neither functions or aggregations
 * (followed by "("), keywords, label names (inside {} or a by/without/on/ignoring list), nor durations.
 */
export function metricNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = match[0];
    const after = text.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith("(") || PROMQL_WORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** Metric families a /metrics text declares (# TYPE lines), histogram and summary series included. */
export function scrapedFamilies(text: string): Set<string> {
  const out = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = match;
    out.add(name!);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) out.add(name! + suffix);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) out.add(name! + suffix);
  }
  return out;
}

/** Series Prometheus makes itself for every target: not served by the operator. */
export const PROMETHEUS_SERIES = new Set(["up"]);
