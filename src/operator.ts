// Builds the operator from its settings: clients, informers, the two controllers and the manager.
import {
  API_VERSION,
  DATABASE_SERVERS,
  GROUP,
  LABEL_DATABASE,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  VERSION,
  WORKSPACE_DATABASES,
  type DatabaseServer,
  type WorkspaceDatabase,
} from "./api/types.ts";
import type { Settings } from "./config/settings.ts";
import { reconcileServer } from "./controllers/server.ts";
import { ServerRegistry } from "./controllers/servers.ts";
import { workspaceNames } from "./controllers/context.ts";
import { LoginChecks } from "./controllers/login-checks.ts";
import { reconcileWorkspace } from "./controllers/workspace.ts";
import { withCachedReads } from "./kube/cached.ts";
import { createKubeClient } from "./kube/client.ts";
import type { RestClient } from "./kube/rest.ts";
import type { Secret } from "./kube/types.ts";
import { generatePassword } from "./postgres/password.ts";
import { scramSha256VerifierAsync } from "./postgres/scram.ts";
import { ServerConnection } from "./postgres/server.ts";
import type { WorkspaceNames } from "./postgres/state.ts";
import { Controller } from "./runtime/controller.ts";
import { Fence } from "./runtime/fence.ts";
import { Informer, objectKey } from "./runtime/informer.ts";
import { scopedInformers } from "./runtime/informers.ts";
import { defaultIdentity, restLeaseApi } from "./runtime/leader.ts";
import type { Logger } from "./runtime/logger.ts";
import { Manager } from "./runtime/manager.ts";
import { createMetrics, createRegistry } from "./runtime/metrics.ts";
import { compactSecret } from "./controllers/secret.ts";
import { passwordWorkPending } from "./controllers/credentials.ts";
import { createDataApi } from "./dataapi/index.ts";
import { addedPriority, serverChanged, serverSample, workspaceChanged, workspaceSample, workspaceSettled } from "./controllers/triggers.ts";
import { PendingSince, pendingInputsVersion, regenerationPending } from "./controllers/pending.ts";

/** True when `ws` may have something on the DatabaseServer `server` (status records both: written before anything is created). */
function usesServer(ws: WorkspaceDatabase, server: string): boolean {
  return ws.status?.server === server && ws.status.database !== undefined;
}

/** `kubectl apply` keeps a copy of the whole object in this annotation; nothing here reads it. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** A WorkspaceDatabase without the last-applied annotation, for the cache (it is never written back). */
function withoutLastApplied(ws: WorkspaceDatabase): WorkspaceDatabase {
  const annotations = ws.metadata.annotations;
  if (annotations === undefined || !(LAST_APPLIED in annotations)) return ws;
  const { [LAST_APPLIED]: _copy, ...rest } = annotations;
  return { ...ws, metadata: { ...ws.metadata, annotations: rest } };
}

/** The assembled operator: start it, stop it. */
export interface Operator {
  manager: Manager;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wires everything from `settings` and the API client; nothing runs until `start()`. `onFatal` is
 * called when retrying cannot help (the API server refuses `workspaceSelector`); main.ts exits then.
 */
export function buildOperator(
  settings: Settings,
  client: RestClient,
  log: Logger,
  onLostLeadership: () => void,
  onFatal: (message: string) => void = (message) => log.error(message),
): Operator {
  // The per-object and state gauges are computed at scrape time from the caches, by the leader only
  // (a standby's caches, when the data API runs them, would count every object twice).
  const leading = (): boolean => !settings.leaderElection.enabled || manager.isLeader();
  const pendingSince = new PendingSince();
  const metrics = createMetrics(
    createRegistry({ defaultMetrics: true }),
    function* () {
      if (!leading()) return;
      const now = new Date();
      for (const ws of workspaces.list()) {
        const secretOf = secretsOf(ws);
        const since = pendingSince.mark(objectKey(ws), pendingInputsVersion(ws, secretOf), () => regenerationPending(ws, secretOf, now), now.getTime());
        const sample = workspaceSample(ws, since);
        if (sample !== undefined) yield sample;
      }
    },
    function* () {
      if (!leading()) return;
      for (const server of serverInformer.list()) yield serverSample(server);
    },
  );
  const identity = settings.leaderElection.identity ?? defaultIdentity();
  // Closed until the lease is held (open for good without leader election): every write and statement checks it.
  const fence = new Fence({ open: !settings.leaderElection.enabled });
  const api = createKubeClient(client, {
    eventNamespace: settings.leaderElection.namespace,
    instance: identity,
    fence: () => fence.check(),
    onEventError: (reason, err) => log.debug("could not record an Event", { reason, error: err.message }),
  });
  // The operator's own Secret writes, so that their watch events do not cause another pass.
  const ownSecretWrites = new Map<string, string>();
  const remember = (secret: Secret): Secret => {
    const key = `${secret.metadata?.namespace}/${secret.metadata?.name}`;
    if (secret.metadata?.resourceVersion) ownSecretWrites.set(key, secret.metadata.resourceVersion);
    return secret;
  };

  // Reads come from the informers below (wired before anything reconciles).
  const kube = withCachedReads(
    {
      ...api,
      createSecret: async (secret) => remember(await api.createSecret(secret)),
      replaceSecret: async (secret) => remember(await api.replaceSecret(secret)),
    },
    { workspaces: { get: (key) => workspaces.get(key) }, servers: { get: (key) => serverInformer.get(key), list: () => serverInformer.list() }, secrets: { get: (key) => secrets.get(key) } },
  );
  const servers = new ServerRegistry(kube, (endpoint, server) =>
    ServerConnection.open(endpoint, {
      maxConnections: settings.postgres.maxConnectionsPerServer,
      connectTimeoutMs: settings.postgres.connectTimeout,
      statementTimeoutMs: settings.postgres.statementTimeout,
      lockTimeoutMs: settings.postgres.lockTimeout,
      applicationName: identity,
      fence: () => fence.check(),
      onIdleError: (err) => log.warn("idle PostgreSQL connection failed", { error: err.message }),
      // One snapshot per resync: drift is seen at the next resync, as without it.
      snapshotMaxAgeMs: Math.min(30_000, settings.resyncPeriod / 2),
      expectedWorkspaces: () => settledOn(server.metadata.name),
    }),
  );
  // The names of the workspaces on a server that its snapshot should hold (see postgres/snapshot.ts).
  function* settledOn(server: string): Iterable<WorkspaceNames> {
    for (const ws of workspaces.list()) {
      if (ws.status?.server !== server || ws.status.database === undefined || ws.metadata.deletionTimestamp !== undefined) continue;
      try {
        yield workspaceNames(ws);
      } catch {
        // an invalid name: its own pass reports it
      }
    }
  }

  // WorkspaceDatabases and managed Secrets: one watch across the cluster, or one per watched namespace
  // (namespaces not listed are never read nor written). DatabaseServers are cluster-scoped.
  const watchNamespaces = settings.watchNamespaces;
  const inNamespace = (namespace: string | undefined): string => (namespace === undefined ? "" : `/namespaces/${encodeURIComponent(namespace)}`);
  const selector = settings.workspaceSelector;
  const workspaces = scopedInformers<WorkspaceDatabase>({
    client,
    namespaces: watchNamespaces,
    path: (namespace) => `/apis/${GROUP}/${VERSION}${inNamespace(namespace)}/${WORKSPACE_DATABASES}`,
    ...(selector === "" ? {} : { labelSelector: selector }),
    apiVersion: API_VERSION,
    kind: "WorkspaceDatabase",
    transform: withoutLastApplied,
    log: log.child({ informer: "workspacedatabases" }),
    onBadRequest: (err) =>
      onFatal(
        selector === ""
          ? `the API server refused to list WorkspaceDatabases: ${err.message}`
          : `setting "workspaceSelector" ("${selector}") was refused by the API server, fix it: ${err.message}`,
      ),
  });
  const serverInformer = new Informer<DatabaseServer>({
    client,
    path: `/apis/${GROUP}/${VERSION}/${DATABASE_SERVERS}`,
    apiVersion: API_VERSION,
    kind: "DatabaseServer",
    log: log.child({ informer: "databaseservers" }),
  });
  const secretSelector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const secrets = scopedInformers<Secret>({
    client,
    namespaces: watchNamespaces,
    path: (namespace) => `/api/v1${inNamespace(namespace)}/secrets`,
    labelSelector: secretSelector,
    apiVersion: "v1",
    kind: "Secret",
    // Only the password (and a digest of the keys derived from it) is kept per Secret.
    transform: compactSecret,
    log: log.child({ informer: "secrets" }),
    onBadRequest: (err) => onFatal(`the API server refused to list Secrets: ${err.message}`),
  });
  if (watchNamespaces.length > 0) log.info("watching WorkspaceDatabases and their Secrets in these namespaces only", { namespaces: watchNamespaces });
  if (selector !== "") log.info("reconciling only the WorkspaceDatabases this label selector selects", { workspaceSelector: selector });

  // Each login is checked at most every half resync period, within a budget per server and minute.
  const loginChecks = new LoginChecks({
    perMinute: settings.postgres.passwordChecksPerMinute,
    minIntervalMs: settings.resyncPeriod / 2,
    onCheck: (reason) => metrics.passwordChecks.inc({ reason }),
  });
  const workspaceController = new Controller({
    name: "workspacedatabase",
    workers: settings.workers,
    // One more worker serves only new objects, edits, regenerations and deletions; with it (and the
    // PostgreSQL connection kept for high work) resync passes may take every other worker: a restart's
    // re-verification of thousands of objects runs at full width, and high keys still go first.
    highOnlyWorkers: 1,
    maxLowInFlight: settings.workers,
    backoff: { baseMs: settings.backoff.base, maxMs: settings.backoff.max },
    metrics,
    log,
    fence,
    reconciler: {
      reconcile: (key, keyLog, priority) => {
        const [namespace = "", name = ""] = key.split("/");
        return reconcileWorkspace(
          {
            kube,
            servers,
            now: () => new Date(),
            newPassword: () => generatePassword(settings.passwordLength),
            verifier: (password) => scramSha256VerifierAsync(password),
            loginChecks,
            onDrift: (kind) => metrics.driftRepairs.inc({ kind }),
          },
          namespace,
          name,
          keyLog,
          priority,
        );
      },
    },
  });
  const serverController = new Controller({
    name: "databaseserver",
    workers: 1,
    backoff: { baseMs: settings.backoff.base, maxMs: settings.backoff.max },
    metrics,
    log,
    fence,
    reconciler: {
      reconcile: (key, keyLog) =>
        reconcileServer(
          {
            kube,
            servers,
            now: () => new Date(),
            recheckAfterMs: settings.resyncPeriod,
            usersOf: (name) => workspaces.list().filter((ws) => usesServer(ws, name)),
            // When a server becomes Ready, the WorkspaceDatabases waiting for it (or for the default)
            // get another pass at once; those already Ready need none (their resync checks them), so a
            // server that flaps never floods the queue ahead of regenerations.
            onReadinessChange: (server, ready) => {
              if (!ready) return;
              for (const ws of workspaces.list()) {
                const uses = ws.status?.server ?? ws.spec.serverRef?.name;
                if ((uses === undefined || uses === server.metadata.name) && !workspaceSettled(ws)) workspaceController.enqueue(objectKey(ws));
              }
            },
          },
          key,
          keyLog,
        ),
    },
  });

  // A DatabaseServer being deleted waits for its last WorkspaceDatabase (a live one counts its users at
  // its periodic check: no status write per provisioned workspace).
  const serverOf = (obj: WorkspaceDatabase) => {
    const name = obj.status?.server ?? obj.spec.serverRef?.name;
    if (name !== undefined && serverInformer.get(name)?.metadata.deletionTimestamp !== undefined) serverController.enqueue(name);
  };
  // A regeneration's age counts from the watch event that asked for it (see PendingSince).
  const notePending = (obj: WorkspaceDatabase): void => {
    if (!secrets.hasSynced()) return;
    const secretOf = secretsOf(obj);
    pendingSince.mark(objectKey(obj), pendingInputsVersion(obj, secretOf), () => regenerationPending(obj, secretOf, new Date()), Date.now());
  };
  workspaces.on({
    onAdd: (obj) => workspaceController.enqueue(objectKey(obj), addedPriority(obj, secrets.hasSynced() ? secretsOf(obj) : undefined)),
    onUpdate: (old, obj) => {
      if (workspaceChanged(old, obj)) {
        workspaceController.enqueue(objectKey(obj));
        notePending(obj);
      }
      if (old.status?.server !== obj.status?.server) serverOf(obj);
    },
    onDelete: (obj) => {
      pendingSince.forget(objectKey(obj));
      serverOf(obj);
    },
  });
  serverInformer.on({
    onAdd: (obj) => serverController.enqueue(objectKey(obj)),
    onUpdate: (old, obj) => {
      if (serverChanged(old, obj)) serverController.enqueue(objectKey(obj));
    },
    onDelete: (obj) => serverController.enqueue(objectKey(obj)),
  });
  /** The cached Secrets of a WorkspaceDatabase's namespace, by name. */
  const secretsOf = (ws: WorkspaceDatabase) => (name: string) => secrets.get(`${ws.metadata.namespace}/${name}`);
  const ownerOf = (secret: Secret) => {
    const owner = secret.metadata?.labels?.[LABEL_DATABASE];
    if (owner && secret.metadata?.namespace) workspaceController.enqueue(`${secret.metadata.namespace}/${owner}`);
  };
  secrets.on({
    onUpdate: (_old, secret) => {
      // An update we made ourselves needs no pass; anyone else's (a password edited by hand) does.
      const key = `${secret.metadata?.namespace}/${secret.metadata?.name}`;
      if (ownSecretWrites.get(key) === secret.metadata?.resourceVersion) {
        ownSecretWrites.delete(key);
        return;
      }
      ownerOf(secret);
    },
    onDelete: (secret) => {
      ownSecretWrites.delete(`${secret.metadata?.namespace}/${secret.metadata?.name}`);
      ownerOf(secret);
    },
  });

  const le = settings.leaderElection;
  const manager = new Manager({
    log,
    metrics,
    http: { port: settings.metricsPort, host: settings.metricsHost },
    ...(le.enabled
      ? {
          leaderElection: {
            api: restLeaseApi(client),
            namespace: le.namespace,
            name: le.leaseName,
            identity,
            leaseDurationMs: le.leaseDuration,
            renewDeadlineMs: le.renewDeadline,
            retryPeriodMs: le.retryPeriod,
          },
        }
      : {}),
    resyncPeriodMs: settings.resyncPeriod,
    shutdownTimeoutMs: settings.shutdownTimeout,
    fence,
    onLostLeadership,
    // At a start, settled objects were queued low before the Secrets were known: those whose Secrets
    // show password work (a regeneration asked for while the operator was away, a Secret deleted) go first.
    onSynced: () => {
      const now = new Date();
      for (const ws of workspaces.list()) {
        if (workspaceSettled(ws) && passwordWorkPending(ws, secretsOf(ws), now)) workspaceController.enqueue(objectKey(ws));
      }
    },
  });
  // The data API reads the caches on every replica: they then run on standbys too.
  const everyReplica = settings.dataApi.enabled;
  manager.addInformer(workspaces, { everyReplica });
  manager.addInformer(serverInformer, { everyReplica });
  manager.addInformer(secrets, { everyReplica });
  manager.addController(serverController, [serverInformer]);
  manager.addController(workspaceController, [workspaces]);

  const dataApi = settings.dataApi.enabled
    ? createDataApi({
      settings: settings.dataApi,
      connectTimeoutMs: settings.postgres.connectTimeout,
      client,
      caches: { workspaces, servers: serverInformer, secrets },
      metrics,
      log: log.child({ component: "data-api" }),
      logging: { level: settings.logLevel, format: settings.logFormat },
    })
    : undefined;

  return {
    manager,
    async start() {
      await dataApi?.start();
      await manager.start();
    },
    async stop() {
      await manager.stop();
      await dataApi?.stop();
      await servers.closeAll();
    },
  };
}
