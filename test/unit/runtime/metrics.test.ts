// Unit tests of the state gauges the alerts read: by reason, oldest not-Ready, pending regenerations,
// servers, drift repairs; label values bounded.
import { expect } from "chai";
import { createMetrics, createRegistry, DRIFT_KINDS } from "../../../src/runtime/metrics.ts";
import type { ServerSample, WorkspaceSample } from "../../../src/runtime/metrics.ts";

const ago = (s: number): number => Date.now() - s * 1000;
const value = (text: string, series: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
};

describe("runtime/metrics: state gauges", () => {
  it("counts WorkspaceDatabases by reason and reports the oldest not-Ready per reason", async () => {
    const samples: WorkspaceSample[] = [
      { namespace: "a", name: "1", ready: true, changedAt: {}, reason: "Provisioned" },
      { namespace: "a", name: "2", ready: true, changedAt: {}, reason: "Provisioned" },
      { namespace: "a", name: "3", ready: false, changedAt: {}, reason: "Conflict", notReadySince: ago(600) },
      { namespace: "b", name: "4", ready: false, changedAt: {}, reason: "Conflict", notReadySince: ago(60) },
      { namespace: "b", name: "5", ready: false, changedAt: {}, reason: "ServerUnavailable", notReadySince: ago(30) },
      { namespace: "b", name: "6", ready: false, changedAt: {} },
    ];
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }), () => samples);
    const text = await metrics.registry.metrics();
    expect(value(text, 'workspacedb_databases_by_reason{reason="Provisioned"}')).to.equal(2);
    expect(value(text, 'workspacedb_databases_by_reason{reason="Conflict"}')).to.equal(2);
    expect(value(text, 'workspacedb_databases_by_reason{reason="Unknown"}')).to.equal(1);
    expect(value(text, 'workspacedb_databases_not_ready_oldest_seconds{reason="Conflict"}')).to.be.within(599, 610);
    expect(value(text, 'workspacedb_databases_not_ready_oldest_seconds{reason="ServerUnavailable"}')).to.be.within(29, 40);
    expect(text).not.to.include('workspacedb_databases_not_ready_oldest_seconds{reason="Provisioned"}');
    expect(value(text, 'workspacedb_databases{ready="false"}')).to.equal(4);
    // A reason no object has any more leaves no series behind.
    samples.splice(2, 2);
    await new Promise((r) => setTimeout(r, 600)); // past the per-scrape memo
    const after = await metrics.registry.metrics();
    expect(after).not.to.include('reason="Conflict"');
  });

  it("reports pending regenerations and the oldest one's age (0 when none)", async () => {
    let samples: WorkspaceSample[] = [
      { namespace: "a", name: "1", ready: true, changedAt: {}, reason: "Provisioned", regenerationSince: ago(120) },
      { namespace: "a", name: "2", ready: true, changedAt: {}, reason: "Provisioned", regenerationSince: ago(5) },
      { namespace: "a", name: "3", ready: true, changedAt: {}, reason: "Provisioned" },
    ];
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }), () => samples);
    const text = await metrics.registry.metrics();
    expect(value(text, "workspacedb_regenerations_pending")).to.equal(2);
    expect(value(text, "workspacedb_regeneration_oldest_pending_seconds")).to.be.within(119, 130);
    samples = [];
    await new Promise((r) => setTimeout(r, 600)); // past the per-scrape memo
    const none = await metrics.registry.metrics();
    expect(value(none, "workspacedb_regenerations_pending")).to.equal(0);
    expect(value(none, "workspacedb_regeneration_oldest_pending_seconds")).to.equal(0);
  });

  it("reports each DatabaseServer's readiness with its reason, and drift repairs by kind from 0", async () => {
    const servers: ServerSample[] = [
      { name: "main", ready: true, reason: "Connected" },
      { name: "analytics", ready: false, reason: "ServerUnavailable" },
    ];
    const metrics = createMetrics(createRegistry({ defaultMetrics: false }), () => [], () => servers);
    metrics.driftRepairs.inc({ kind: "password" });
    const text = await metrics.registry.metrics();
    expect(value(text, 'workspacedb_database_server_ready{server="main",reason="Connected"}')).to.equal(1);
    expect(value(text, 'workspacedb_database_server_ready{server="analytics",reason="ServerUnavailable"}')).to.equal(0);
    for (const kind of DRIFT_KINDS) expect(value(text, `workspacedb_drift_repairs_total{kind="${kind}"}`)).to.equal(kind === "password" ? 1 : 0);
  });
});
