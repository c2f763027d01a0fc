// Scale and steady state: 100 objects at once all become Ready; then a full resync writes nothing.
import { statSync, openSync, readSync, closeSync } from "node:fs";
import { expect } from "chai";
import { getGround } from "../../ground/index.ts";
import { startOperator, type OperatorProcess } from "../support/operator.ts";
import { createWorkspace, ensureNamespace, eventually, getWorkspace, operatorMetrics, setupServer, sumMetric, unique } from "../support/fixtures.ts";

const COUNT = Number(process.env.WSDB_SCALE_COUNT ?? 100);
const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "APPLY"]);
const OUR_RESOURCES = new Set(["workspacedatabases", "databaseservers", "secrets", "events"]);
const DDL = /statement: (CREATE|ALTER|GRANT|REVOKE|DROP|COMMENT|SECURITY)\b/i;

function readFrom(file: string, offset: number): string {
  const size = statSync(file).size;
  const buffer = Buffer.alloc(Math.max(0, size - offset));
  const fd = openSync(file, "r");
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString("utf8");
}

describe("scale and steady state (end to end)", function () {
  this.timeout(600_000);
  let operator: OperatorProcess;
  const ns = unique("ws-scale");

  before(async () => {
    await setupServer("main");
    await ensureNamespace(ns);
    operator = startOperator({ WSDB_RESYNC_PERIOD: "10s" });
  });
  after(async () => {
    await operator?.stop();
  });

  it(`makes ${COUNT} objects applied at once Ready, then a full resync makes no API write and no DDL`, async function () {
    const ground = getGround();
    if (!ground.apiServerGet || !ground.postgres.logFile) this.skip();
    const names = Array.from({ length: COUNT }, (_, i) => `ws-${String(i).padStart(3, "0")}`);
    const started = Date.now();
    await Promise.all(names.map((n) => createWorkspace(ns, n)));
    const readyAt = new Map<string, number>();
    await eventually(`${COUNT} objects Ready`, async () => {
      for (const n of names) {
        if (readyAt.has(n)) continue;
        const obj = await getWorkspace(ns, n);
        if (obj?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) readyAt.set(n, Date.now() - started);
      }
      return readyAt.size === COUNT ? true : undefined;
    }, 480_000, 1000);
    const times = [...readyAt.values()].sort((a, b) => a - b);
    const p50 = times[Math.floor(COUNT / 2)] ?? 0;
    const last = times[COUNT - 1] ?? 0;
    process.stderr.write(`      apply→Ready for ${COUNT} objects: median ${(p50 / 1000).toFixed(1)} s, all ${(last / 1000).toFixed(1)} s\n`);

    // Let the passes triggered by our own writes settle, and the DatabaseServer's periodic check
    // count the new databases, before measuring.
    await new Promise((r) => setTimeout(r, 12_000));
    const port = await operator.httpPort();
    const writes = async () => sumMetric((await ground.apiServerGet!("/metrics")).body, "apiserver_request_total", (l) => WRITE_VERBS.has(l.verb ?? "") && OUR_RESOURCES.has(l.resource ?? ""));
    const passes = async () => sumMetric(await operatorMetrics(port), "workspacedb_reconcile_total", (l) => l.controller === "workspacedatabase");
    const breakdown = async () => {
      const counts = new Map<string, number>();
      for (const line of (await ground.apiServerGet!("/metrics")).body.split("\n")) {
        if (!line.startsWith("apiserver_request_total{")) continue;
        const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? "";
        const resource = /resource="([a-z]+)"/.exec(line)?.[1] ?? "";
        const sub = /subresource="([a-z]*)"/.exec(line)?.[1] ?? "";
        if (!WRITE_VERBS.has(verb) || !OUR_RESOURCES.has(resource)) continue;
        const key = `${verb} ${resource}${sub ? "/" + sub : ""}`;
        counts.set(key, (counts.get(key) ?? 0) + Number(line.split(" ").pop()));
      }
      return counts;
    };
    const breakdownBefore = await breakdown();
    const writesBefore = await writes();
    const passesBefore = await passes();
    const logOffset = statSync(ground.postgres.logFile).size;

    // Two resync periods: every object gets at least one full pass.
    await new Promise((r) => setTimeout(r, 22_000));
    const passesDuring = (await passes()) - passesBefore;
    const writesDuring = (await writes()) - writesBefore;
    const ddl = readFrom(ground.postgres.logFile, logOffset).split("\n").filter((l) => DDL.test(l));
    process.stderr.write(`      steady state: ${passesDuring} reconcile passes, ${writesDuring} API writes, ${ddl.length} DDL statements\n`);
    if (writesDuring > 0) {
      const after = await breakdown();
      const diff = [...after].map(([k, v]) => `${k}: ${v - (breakdownBefore.get(k) ?? 0)}`).filter((l) => !l.endsWith(": 0"));
      process.stderr.write(`      writes by kind: ${diff.join(", ")}\n`);
    }
    expect(passesDuring, "a full resync happened").to.be.at.least(COUNT);
    expect(writesDuring, "API writes during resync").to.equal(0);
    expect(ddl, "DDL during resync").to.deep.equal([]);
  });
});
