// Unit tests of the HTTP endpoints: /metrics, /healthz, /readyz, port 0.
import { expect } from "chai";
import { connect } from "node:net";
import { startHttpServer } from "../../../src/runtime/http.ts";
import { createMetrics, createRegistry } from "../../../src/runtime/metrics.ts";
import type { WorkspaceSample } from "../../../src/runtime/metrics.ts";

describe("startHttpServer", () => {
  it("serves metrics and health probes on a free port", async () => {
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    let samples: WorkspaceSample[] = [
      { namespace: "ns", name: "db", ready: true, changedAt: { "read-write": minuteAgo } },
      { namespace: "ns", name: "b", ready: true, changedAt: {} },
      { namespace: "ns", name: "c", ready: true, changedAt: {} },
      { namespace: "ns", name: "d", ready: false, changedAt: {} },
    ];
    const metrics = createMetrics(createRegistry(), () => samples);
    metrics.leader.set(1);
    let ready = false;
    const server = await startHttpServer({ port: 0, host: "127.0.0.1", registry: metrics.registry, healthz: () => true, readyz: () => ready });
    try {
      expect(server.port).to.be.greaterThan(0);
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/healthz`)).status).to.equal(200);
      expect((await fetch(`${base}/readyz`)).status).to.equal(503);
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).to.equal(200);
      expect((await fetch(`${base}/nope`)).status).to.equal(404);
      const res = await fetch(`${base}/metrics`);
      expect(res.status).to.equal(200);
      const text = await res.text();
      expect(text).to.include("workspacedb_leader 1");
      expect(text).to.include('workspacedb_databases{ready="true"} 3');
      expect(text).to.include('workspacedb_databases{ready="false"} 1');
      expect(text).to.match(/workspacedb_credential_age_seconds\{namespace="ns",name="db",access="read-write"\} 6\d/);
      expect(text).to.include("process_cpu_seconds_total");
      expect(text).not.to.include('access="read-only"');
      samples = samples.filter((w) => w.name !== "db");
      expect(await (await fetch(`${base}/metrics`)).text()).not.to.include('name="db"');
    } finally {
      await server.close();
    }
  });

  it("serves only the metrics named with ?name= (the per-object series are not even collected)", async () => {
    let collected = 0;
    const metrics = createMetrics(createRegistry(), () => {
      collected++;
      return [{ namespace: "ns", name: "db", ready: true, changedAt: { "read-write": new Date().toISOString() } }];
    });
    metrics.leader.set(1);
    const server = await startHttpServer({ port: 0, host: "127.0.0.1", registry: metrics.registry, healthz: () => true, readyz: () => true });
    try {
      const base = `http://127.0.0.1:${server.port}/metrics`;
      const text = await (await fetch(`${base}?name=workspacedb_leader&name=workqueue_depth&name=no_such_metric`)).text();
      expect(text).to.include("workspacedb_leader 1");
      expect(text).to.include("# TYPE workqueue_depth gauge");
      expect(text).not.to.include("workspacedb_credential_age_seconds");
      expect(text).not.to.include("process_cpu_seconds_total");
      expect(collected).to.equal(0);
      expect(await (await fetch(`${base}?name=no_such_metric`)).text()).to.equal("");
      for (const odd of ["constructor", "__proto__", "toString"]) {
        const res = await fetch(`${base}?name=${odd}`);
        expect(res.status, odd).to.equal(200);
        expect(await res.text()).to.equal("");
      }
      expect(await (await fetch(base)).text()).to.include("workspacedb_credential_age_seconds");
      expect(collected).to.be.greaterThan(0);
    } finally {
      await server.close();
    }
  });

  it("answers request targets that are not URLs (and stays up)", async () => {
    const server = await startHttpServer({ port: 0, host: "127.0.0.1", registry: createRegistry({ defaultMetrics: false }), healthz: () => true, readyz: () => true });
    try {
      for (const target of ["//a:99999/", "http://:1/", "//[", "/metrics?%zz=1&name=%"]) {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(server.port, "127.0.0.1", () => socket.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
          let text = "";
          socket.on("data", (d: Buffer) => (text += d.toString()));
          socket.on("end", () => resolve(text));
          socket.on("error", reject);
        });
        expect(answer, target).to.match(/^HTTP\/1\.1 (200|404)/);
      }
      expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).to.equal(200);
    } finally {
      await server.close();
    }
  });

  it("answers 500 on /healthz when unhealthy", async () => {
    const server = await startHttpServer({ port: 0, host: "127.0.0.1", registry: createRegistry({ defaultMetrics: false }), healthz: () => false, readyz: () => true });
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).to.equal(500);
    } finally {
      await server.close();
    }
  });
});
