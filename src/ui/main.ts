// The in-cluster database page's process (`node dist/ui/main.js`, the operator's image): settings from
// WSDB_PAGE_* variables, the serving certificate re-read every 30 s, SIGTERM ends it. It holds no
// credential: the API server's address and CA come from the pod's environment and the namespace's
// kube-root-ca.crt ConfigMap, and every call carries the caller's own token (cluster.ts).
import { readFileSync } from "node:fs";
import { createLogger, errorMessage } from "../runtime/logger.ts";
import { startClusterPage } from "./cluster.ts";

/** The page's settings, from the environment. */
export interface PageSettings {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  apiServer: string;
  apiCaFile: string;
  signIn: string;
  maxConcurrentRequests: number;
  maxConcurrentRequestsPerUser: number;
  logLevel: string;
}

/** Reads and checks the settings; throws a sentence naming the variable. */
export function pageSettings(env: NodeJS.ProcessEnv): PageSettings {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
    return n;
  };
  const serviceHost = env.KUBERNETES_SERVICE_HOST;
  const defaultServer = serviceHost === undefined ? undefined
    : `https://${serviceHost.includes(":") ? `[${serviceHost}]` : serviceHost}:${env.KUBERNETES_SERVICE_PORT ?? "443"}`;
  const apiServer = env.WSDB_PAGE_API_SERVER || defaultServer;
  if (apiServer === undefined) throw new Error("WSDB_PAGE_API_SERVER: not set, and not in a pod (no KUBERNETES_SERVICE_HOST)");
  if (!/^https:\/\//.test(apiServer)) throw new Error(`WSDB_PAGE_API_SERVER=${JSON.stringify(apiServer)}: expected an https:// URL (bearer tokens go only over TLS)`);
  const level = env.WSDB_PAGE_LOG_LEVEL || "info";
  if (!["error", "warn", "info", "debug"].includes(level)) throw new Error(`WSDB_PAGE_LOG_LEVEL=${JSON.stringify(level)}: expected error, warn, info or debug`);
  return {
    host: env.WSDB_PAGE_HOST || "0.0.0.0",
    port: int("WSDB_PAGE_PORT", 8443, 0, 65535),
    certFile: env.WSDB_PAGE_CERT_FILE || "/var/run/workspacedb/page/tls.crt",
    keyFile: env.WSDB_PAGE_KEY_FILE || "/var/run/workspacedb/page/tls.key",
    apiServer,
    apiCaFile: env.WSDB_PAGE_API_CA_FILE || "/var/run/workspacedb/kube-ca/ca.crt",
    signIn: env.WSDB_PAGE_SIGN_IN || "Sign in through your platform's login, then open this page again.",
    maxConcurrentRequests: int("WSDB_PAGE_MAX_CONCURRENT_REQUESTS", 64, 1, 10_000),
    maxConcurrentRequestsPerUser: int("WSDB_PAGE_MAX_CONCURRENT_REQUESTS_PER_USER", 8, 1, 1_000),
    logLevel: level,
  };
}

const invokedDirectly = process.argv[1] !== undefined && /ui[/\\]main\.[jt]s$/.test(process.argv[1]);
if (invokedDirectly) {
  const log = createLogger({ level: "info", defaultMeta: { component: "workspacedb-page" } });
  let settings: PageSettings;
  try {
    settings = pageSettings(process.env);
    log.level = settings.logLevel;
  } catch (err) {
    log.error(`workspacedb-page: ${errorMessage(err)}`);
    process.exit(2);
  }
  const read = () => ({ cert: readFileSync(settings.certFile, "utf8"), key: readFileSync(settings.keyFile, "utf8") });
  try {
    let certificate = read();
    const page = await startClusterPage({
      host: settings.host,
      port: settings.port,
      certificate,
      apiServer: { url: settings.apiServer, ca: readFileSync(settings.apiCaFile, "utf8") },
      signIn: settings.signIn,
      limits: { total: settings.maxConcurrentRequests, perUser: settings.maxConcurrentRequestsPerUser },
      log: (message, fields) => log.warn(message, fields),
    });
    log.info("serving the database page", { port: page.port, apiServer: settings.apiServer });
    const timer = setInterval(() => {
      try {
        const next = read();
        if (next.cert === certificate.cert && next.key === certificate.key) return;
        page.reload(next);
        certificate = next;
        log.info("the page's serving certificate changed: new connections use the new one");
      } catch (err) {
        log.warn("could not use the page's serving certificate again; keeping the current one", { error: errorMessage(err) });
      }
    }, 30_000);
    timer.unref();
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        log.info(`${signal}: stopping`);
        clearInterval(timer);
        void page.close().then(() => process.exit(0));
      });
    }
  } catch (err) {
    log.error(`workspacedb-page: cannot start: ${errorMessage(err)}`);
    process.exit(1);
  }
}
