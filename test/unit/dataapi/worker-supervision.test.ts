import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { expect } from "chai";
import type { WorkspaceDatabase } from "../../../src/api/types.ts";
import { DEFAULT_SETTINGS } from "../../../src/config/schema.ts";
import { createDataApi } from "../../../src/dataapi/index.ts";
import type { KubeRequester } from "../../../src/kube/rest.ts";
import { createLogger } from "../../../src/runtime/logger.ts";
import { createMetrics, createRegistry } from "../../../src/runtime/metrics.ts";

describe("data API worker thread supervision", () => {
  it("starts a worker that stopped by itself again on the same port, answers its calls, and stops it", async function () {
    this.timeout(20_000);
    const dir = mkdtempSync(join(tmpdir(), "wsdb-worker-"));
    const lines: string[] = [];
    try {
      writeFileSync(join(dir, "tls.crt"), "cert");
      writeFileSync(join(dir, "tls.key"), "key");
      const kube: KubeRequester = { request: <T>() => Promise.resolve({ data: {} } as T) };
      const registry = createRegistry();
      const ready: WorkspaceDatabase = {
        apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", metadata: { name: "malaria", namespace: "ns" }, spec: {},
        status: { database: "db", server: "main", conditions: [{ type: "Ready", status: "True", reason: "Provisioned", message: "", lastTransitionTime: "" }] },
      };
      const api = createDataApi({
        settings: { ...DEFAULT_SETTINGS.dataApi, enabled: true, port: 0, certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") },
        connectTimeoutMs: 1_000,
        client: kube,
        caches: { workspaces: { list: () => [ready], get: () => ready }, servers: { get: () => undefined }, secrets: { get: () => undefined } },
        metrics: createMetrics(registry),
        log: createLogger({ level: "info", stream: new Writable({ write: (b: Buffer, _e, cb) => { lines.push(b.toString()); cb(); } }) }),
        logging: { level: "info", format: "json" },
        workerUrl: new URL("./fixtures/crashing-worker.ts", import.meta.url),
      });
      await api.start();
      expect(api.port()).to.equal(4242);
      const deadline = Date.now() + 10_000;
      while (!(await registry.metrics()).includes("answered [[\\\"ns\\\",\\\"malaria\\\"]]") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await registry.metrics()).to.include("answered [[\\\"ns\\\",\\\"malaria\\\"]]");
      expect(lines.join("")).to.include("the data API's worker thread stopped; starting it again");
      await api.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
