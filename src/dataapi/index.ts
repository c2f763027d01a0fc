// The data API as the operator runs it: settings, caches and clients in; start and stop out.
import { readFile } from "node:fs/promises";
import type { Settings } from "../config/schema.ts";
import { secretValue } from "../controllers/secret.ts";
import type { KubeRequester } from "../kube/rest.ts";
import type { Secret } from "../kube/types.ts";
import type { Logger } from "../runtime/logger.ts";
import { errorMessage } from "../runtime/logger.ts";
import type { Metrics } from "../runtime/metrics.ts";
import { SubjectAccessReviewer } from "./authz.ts";
import { ClusterAuthentication } from "./cluster-auth.ts";
import { cachedDirectory, pgSessions, type DirectoryCaches } from "./directory.ts";
import { startDataApiServer, type DataApiServer, type ServingCertificate } from "./server.ts";
import { PostgresTables } from "./tables.ts";

/** What {@link createDataApi} needs. */
export interface DataApiDeps {
  settings: Settings["dataApi"];
  connectTimeoutMs: number;
  client: KubeRequester;
  caches: DirectoryCaches;
  metrics: Metrics;
  log: Logger;
}

/** The data API of one replica. */
export interface DataApi {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The port it listens on, once started. */
  port(): number | undefined;
}

async function readCertificate(settings: Settings["dataApi"]): Promise<ServingCertificate> {
  const [cert, key] = await Promise.all([readFile(settings.certFile, "utf8"), readFile(settings.keyFile, "utf8")]);
  return { cert, key };
}

/**
 * Serves data.workspacedb.io: authentication settings from the cluster, SubjectAccessReviews, tables
 * from the caches and PostgreSQL. The serving certificate files are read again every 30 s and a
 * changed pair applies to new connections (a renewed Secret is picked up without a restart).
 */
export function createDataApi(deps: DataApiDeps): DataApi {
  const { settings, log } = deps;
  const authentication = new ClusterAuthentication(deps.client, log);
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
  const tables = new PostgresTables(
    cachedDirectory({ ...deps.caches, readCa }),
    pgSessions({ statementTimeoutMs: settings.statementTimeout, connectTimeoutMs: deps.connectTimeoutMs, applicationName: "workspacedb-data-api" }),
    {
      maxResponseBytes: settings.maxResponseBytes,
      onError: (namespace, workspace, err) => log.warn("data API could not read a workspace", { namespace, name: workspace, kind: err.kind, code: err.code, error: err.message }),
    },
  );
  let server: DataApiServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    async start() {
      let certificate: ServingCertificate;
      try {
        certificate = await readCertificate(settings);
      } catch (err) {
        throw new Error(`setting "dataApi.certFile"/"dataApi.keyFile": cannot read the data API's serving certificate: ${errorMessage(err)}`, { cause: err });
      }
      await authentication.start();
      server = await startDataApiServer({
        host: settings.host,
        port: settings.port,
        certificate,
        authentication: () => authentication.current(),
        authorize: (user, attributes) => reviewer.review(user, attributes),
        tables,
        log,
        observer: {
          request: (resource, verb, code) => deps.metrics.dataApiRequests.inc({ resource, verb, code: String(code) }),
          preview: (seconds) => deps.metrics.dataApiPreviewDuration.observe(seconds),
        },
      });
      timer = setInterval(() => {
        void readCertificate(settings).then((next) => {
          if (next.cert === certificate.cert && next.key === certificate.key) return;
          certificate = next;
          server?.reload(next);
          log.info("the data API's serving certificate changed: new connections use the new one");
        }, (err: unknown) => log.warn("could not read the data API's serving certificate again; keeping the current one", { error: errorMessage(err) }));
      }, 30_000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      authentication.stop();
      await server?.close();
    },
    port: () => server?.port,
  };
}
