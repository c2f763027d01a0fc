// The data API as the operator runs it: settings, caches and clients in; start and stop out. It is
// served by a worker thread (worker.ts) off the reconciler's event loop; this side keeps the caches
// and the API client and answers the worker's calls (worker-protocol.ts).
import { readFile } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import type { Settings } from "../config/schema.ts";
import { secretValue } from "../controllers/secret.ts";
import type { KubeRequester } from "../kube/rest.ts";
import type { Secret } from "../kube/types.ts";
import type { Logger } from "../runtime/logger.ts";
import { errorMessage } from "../runtime/logger.ts";
import type { Metrics } from "../runtime/metrics.ts";
import { SubjectAccessReviewer } from "./authz.ts";
import { ClusterAuthentication } from "./cluster-auth.ts";
import { cachedDirectory, type DirectoryCaches } from "./directory.ts";
import type { ServingCertificate } from "./server.ts";
import type { WorkspaceDirectory } from "./tables.ts";
import type { FromWorker, ToWorker, WorkerCallName, WorkerCalls, WorkerStart } from "./worker-protocol.ts";

/** What {@link createDataApi} needs. */
export interface DataApiDeps {
  settings: Settings["dataApi"];
  connectTimeoutMs: number;
  client: KubeRequester;
  caches: DirectoryCaches;
  metrics: Metrics;
  log: Logger;
  /** How the worker thread logs (its lines carry `component: "data-api"`). */
  logging: { level: string; format: "json" | "text" };
  /** The worker's module; worker.ts next to this file unless a test gives another. */
  workerUrl?: URL;
}

/** The data API of one replica. */
export interface DataApi {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The port it listens on, once started. */
  port(): number | undefined;
}

/**
 * V8 heap of the worker thread, MiB: previews are answered within `dataApi.maxResponseBytes` each and
 * `dataApi.maxConcurrentRequests` at once; a worker that runs out is started again, the reconciler
 * goes on.
 */
const WORKER_OLD_SPACE_MB = 128;
const WORKER_YOUNG_SPACE_MB = 6;
/** Back-off between starts of a worker that stopped by itself, ms. */
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 30_000;
/** A worker up this long resets the back-off. */
const RESTART_RESET_MS = 60_000;

async function readCertificate(settings: Settings["dataApi"]): Promise<ServingCertificate> {
  const [cert, key] = await Promise.all([readFile(settings.certFile, "utf8"), readFile(settings.keyFile, "utf8")]);
  return { cert, key };
}

/** The worker's module, next to this one (src/*.ts when run from source, dist/*.js when compiled). */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url);
}

/**
 * Serves data.workspacedb.io from a worker thread: authentication settings from the cluster,
 * SubjectAccessReviews and the Ready workspaces from this thread, tables from PostgreSQL there. The
 * serving certificate files are read again every 30 s and a changed pair applies to new connections
 * (a renewed Secret is picked up without a restart). A worker that stops by itself (out of memory) is
 * logged and started again with back-off.
 */
export function createDataApi(deps: DataApiDeps): DataApi {
  const { settings, log } = deps;
  const authentication = new ClusterAuthentication(deps.client, log, 60_000, (data) => send({ type: "authentication", data }));
  const reviewer = new SubjectAccessReviewer(deps.client);
  // Servers' CA Secrets (tls.caSecretRef) are not watched: read at most once a minute each.
  const cas = new Map<string, { at: number; ca: string | undefined }>();
  const readCa = async (namespace: string, name: string): Promise<string | undefined> => {
    const key = `${namespace}/${name}`;
    const hit = cas.get(key);
    if (hit !== undefined && Date.now() - hit.at < 60_000) return hit.ca;
    let ca: string | undefined;
    try {
      const secret = await deps.client.request<Secret>("GET", `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`, { context: `reading the CA Secret ${key}` });
      ca = secretValue(secret, "ca.crt");
    } catch (err) {
      log.warn("could not read a DatabaseServer's CA Secret", { secret: key, error: errorMessage(err) });
    }
    cas.set(key, { at: Date.now(), ca });
    return ca;
  };
  const directory: WorkspaceDirectory = cachedDirectory({ ...deps.caches, readCa });
  const answer: { [K in WorkerCallName]: (...args: WorkerCalls[K]["args"]) => Promise<WorkerCalls[K]["result"]> } = {
    authorize: (user, attributes) => reviewer.review(user, attributes),
    readyWorkspaces: (namespace) => directory.readyWorkspaces(namespace),
    readOnlyLogin: (namespace, name) => directory.readOnlyLogin(namespace, name),
  };

  let worker: Worker | undefined;
  let listeningPort: number | undefined;
  let certificate: ServingCertificate | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restartDelay = RESTART_MIN_MS;
  /** When the current worker started listening. */
  let listeningAt = 0;
  let certTimer: NodeJS.Timeout | undefined;

  function send(message: ToWorker): void {
    worker?.postMessage(message);
  }

  /** Starts a worker; resolves once it listens, rejects when it could not. */
  function spawnWorker(): Promise<void> {
    const start: WorkerStart = {
      // A worker started again listens where the first one did (port 0 took any free port).
      settings: listeningPort === undefined ? settings : { ...settings, port: listeningPort },
      connectTimeoutMs: deps.connectTimeoutMs,
      certificate: certificate!,
      authentication: authentication.currentData(),
      log: { level: deps.logging.level, format: deps.logging.format, defaultMeta: { component: "data-api" } },
    };
    const current = new Worker(deps.workerUrl ?? workerUrl(), {
      workerData: start,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_OLD_SPACE_MB, maxYoungGenerationSizeMb: WORKER_YOUNG_SPACE_MB },
      // The worker's own settings come from workerData, not from the process's flags.
      argv: [],
    });
    worker = current;
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      current.on("message", (message: FromWorker) => {
        switch (message.type) {
          case "listening":
            listening = true;
            listeningPort = message.port;
            listeningAt = Date.now();
            // A certificate renewed while it started.
            if (certificate !== undefined && certificate !== start.certificate) current.postMessage({ type: "certificate", certificate } satisfies ToWorker);
            resolve();
            return;
          case "failed":
            reject(new Error(message.error));
            return;
          case "call": {
            const { id } = message;
            const run = answer[message.method] as (...args: unknown[]) => Promise<unknown>;
            run(...message.args).then(
              (value) => { if (worker === current) current.postMessage({ type: "reply", id, ok: true, value } satisfies ToWorker); },
              (err: unknown) => { if (worker === current) current.postMessage({ type: "reply", id, ok: false, error: errorMessage(err) } satisfies ToWorker); },
            );
            return;
          }
          case "request":
            deps.metrics.dataApiRequests.inc({ resource: message.resource, verb: message.verb, code: String(message.code) });
            return;
          case "preview":
            deps.metrics.dataApiPreviewDuration.observe(message.seconds);
            return;
          case "stopped":
            return;
        }
      });
      current.on("error", (err) => {
        log.error("the data API's worker thread failed", { error: errorMessage(err) });
      });
      current.on("exit", (code) => {
        if (worker === current) worker = undefined;
        if (!listening) {
          reject(new Error(`the data API's worker thread stopped before it listened (exit code ${code})`));
          return;
        }
        if (stopping) return;
        // The back-off starts again only after a worker that stayed up a while (one that a request
        // brings down at once is not restarted in a tight loop).
        if (Date.now() - listeningAt > RESTART_RESET_MS) restartDelay = RESTART_MIN_MS;
        log.error("the data API's worker thread stopped; starting it again", { exitCode: code, inMs: restartDelay });
        scheduleRestart();
      });
    });
  }

  function scheduleRestart(): void {
    const delay = restartDelay;
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (stopping) return;
      spawnWorker().catch((err: unknown) => {
        log.error("could not start the data API's worker thread again; trying again", { error: errorMessage(err), inMs: restartDelay });
        if (!stopping) scheduleRestart();
      });
    }, delay);
  }

  return {
    async start() {
      try {
        certificate = await readCertificate(settings);
      } catch (err) {
        throw new Error(`setting "dataApi.certFile"/"dataApi.keyFile": cannot read the data API's serving certificate: ${errorMessage(err)}`, { cause: err });
      }
      await authentication.start();
      await spawnWorker();
      certTimer = setInterval(() => {
        void readCertificate(settings).then((next) => {
          if (certificate !== undefined && next.cert === certificate.cert && next.key === certificate.key) return;
          certificate = next;
          send({ type: "certificate", certificate: next });
          log.info("the data API's serving certificate changed: new connections use the new one");
        }, (err: unknown) => log.warn("could not read the data API's serving certificate again; keeping the current one", { error: errorMessage(err) }));
      }, 30_000);
      certTimer.unref();
    },
    async stop() {
      stopping = true;
      clearInterval(certTimer);
      clearTimeout(restartTimer);
      authentication.stop();
      const current = worker;
      if (current === undefined) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => void current.terminate().then(() => resolve()), 5_000);
        current.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        current.postMessage({ type: "stop" } satisfies ToWorker);
      });
    },
    port: () => listeningPort,
  };
}
