// HTTP endpoints of the operator process: /metrics (Prometheus), /healthz and /readyz.
import { createServer } from "node:http";
import type { AddressInfo, Server } from "node:net";
import type { Registry } from "prom-client";

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** TCP port; 0 picks a free one (the chosen port is returned). */
  port: number;
  /** Listen address; default "0.0.0.0". */
  host?: string;
  registry: Registry;
  /** Liveness: false answers 500 on /healthz. */
  healthz: () => boolean;
  /** Readiness: false answers 503 on /readyz. */
  readyz: () => boolean;
}

/** A listening server: its actual port, and `close()` which stops it (open connections included). */
export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on host:port and serves GET /metrics (text exposition of `registry`), /healthz and /readyz
 * ("ok" with 200, or 500/503); anything else is 404. Resolves once listening.
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const server = createServer((req, res) => {
    // Split by hand: `new URL` throws on some request targets Node accepts (`//a:99999/`).
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type }).end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
    if (path === "/healthz") return opts.healthz() ? reply(200, "ok\n") : reply(500, "unhealthy\n");
    if (path === "/readyz") return opts.readyz() ? reply(200, "ok\n") : reply(503, "not ready\n");
    if (path === "/metrics") {
      // `?name=A&name=B`: only those metrics (a tool polling a few counters need not have every
      // per-object series collected and formatted); unknown names give nothing.
      const names = new URLSearchParams(q < 0 ? "" : target.slice(q + 1)).getAll("name");
      const text = names.length === 0 ? opts.registry.metrics() : selectedMetrics(opts.registry, names);
      text.then(
        (text) => reply(200, text, opts.registry.contentType),
        (err: unknown) => reply(500, `collecting metrics failed: ${err instanceof Error ? err.message : "?"}\n`),
      );
      return;
    }
    reply(404, "not found\n");
  });
  const port = await listen(server, opts.port, opts.host ?? "0.0.0.0");
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Listens on host:port (0: any free port); resolves with the port, rejects when it cannot listen. */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function selectedMetrics(registry: Registry, names: string[]): Promise<string> {
  const parts: string[] = [];
  const known = new Set(registry.getMetricsAsArray().map((m) => m.name));
  for (const name of new Set(names)) {
    if (!known.has(name)) continue;
    parts.push(await registry.getSingleMetricAsString(name));
  }
  return parts.length === 0 ? "" : `${parts.join("\n\n")}\n`;
}
