// The data API's worker thread: the HTTPS server, the PostgreSQL sessions and the JSON of every answer
// run here, off the event loop that reconciles, so viewers paging wide tables never delay a
// regeneration. Authorization and the directory of Ready workspaces are asked of the main thread
// (worker-protocol.ts), which keeps the caches and the API client.
import { parentPort, workerData } from "node:worker_threads";
import { createLogger } from "../runtime/logger.ts";
import { errorMessage } from "../runtime/logger.ts";
import { parseAuthenticationConfig, type AuthenticationConfig } from "./authn.ts";
import { pgSessions } from "./directory.ts";
import { ConcurrencyLimits } from "./limits.ts";
import { startDataApiServer, type DataApiServer } from "./server.ts";
import { PostgresTables } from "./tables.ts";
import type { FromWorker, ToWorker, WorkerCallName, WorkerCalls, WorkerStart } from "./worker-protocol.ts";

const port = parentPort;
if (port === null) throw new Error("src/dataapi/worker.ts runs as a worker thread of the operator");
const start = workerData as WorkerStart;
const post = (message: FromWorker) => port.postMessage(message);
const log = createLogger({ level: start.log.level, format: start.log.format, defaultMeta: start.log.defaultMeta });

let authentication: AuthenticationConfig | undefined = start.authentication === undefined ? undefined : parseAuthenticationConfig(start.authentication);
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
let nextId = 1;

/** How long a call waits for the main thread's answer (a request then fails instead of holding its slot). */
const CALL_TIMEOUT_MS = 30_000;

function call<K extends WorkerCallName>(method: K, ...args: WorkerCalls[K]["args"]): Promise<WorkerCalls[K]["result"]> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`the operator's main thread did not answer "${method}" within ${CALL_TIMEOUT_MS / 1000} s`));
    }, CALL_TIMEOUT_MS);
    pending.set(id, {
      resolve: (value) => {
        clearTimeout(timer);
        (resolve as (value: unknown) => void)(value);
      },
      reject: (err) => {
        clearTimeout(timer);
        reject(err);
      },
    });
    post({ type: "call", id, method, args } as FromWorker);
  });
}

const tables = new PostgresTables(
  {
    readyWorkspaces: (namespace) => call("readyWorkspaces", namespace),
    readOnlyLogin: (namespace, name) => call("readOnlyLogin", namespace, name),
  },
  pgSessions({ statementTimeoutMs: start.settings.statementTimeout, connectTimeoutMs: start.connectTimeoutMs, applicationName: "workspacedb-data-api" }),
  {
    maxResponseBytes: start.settings.maxResponseBytes,
    onError: (namespace, workspace, err) => log.warn("data API could not read a workspace", { namespace, name: workspace, kind: err.kind, code: err.code, error: err.message }),
  },
);

let server: DataApiServer | undefined;
port.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "reply": {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.value);
      else waiting?.reject(new Error(message.error));
      return;
    }
    case "authentication":
      authentication = message.data === undefined ? undefined : parseAuthenticationConfig(message.data);
      return;
    case "certificate":
      // A pair that does not match (read in the middle of a rotation) keeps the current one.
      try {
        server?.reload(message.certificate);
      } catch (err) {
        log.warn("could not use the data API's new serving certificate; keeping the current one", { error: errorMessage(err) });
      }
      return;
    case "stop":
      void (server?.close() ?? Promise.resolve()).finally(() => {
        post({ type: "stopped" });
        port.close();
      });
      return;
  }
});

try {
  server = await startDataApiServer({
    host: start.settings.host,
    port: start.settings.port,
    certificate: start.certificate,
    authentication: () => authentication,
    authorize: (user, attributes) => call("authorize", user, attributes),
    tables,
    log,
    limits: new ConcurrencyLimits({ total: start.settings.maxConcurrentRequests, perUser: start.settings.maxConcurrentRequestsPerUser }),
    observer: {
      request: (resource, verb, code) => post({ type: "request", resource, verb, code }),
      preview: (seconds) => post({ type: "preview", seconds }),
    },
  });
  post({ type: "listening", port: server.port });
} catch (err) {
  post({ type: "failed", error: errorMessage(err) });
  port.close();
}
