// Builds the operator from its settings: clients, informers, the two controllers and the manager.
import { hostname } from "node:os";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type V1Secret,
} from "@kubernetes/client-node";
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
import { reconcileWorkspace } from "./controllers/workspace.ts";
import { createKubeClient } from "./kube/client.ts";
import { generatePassword } from "./postgres/password.ts";
import { scramSha256Verifier } from "./postgres/scram.ts";
import { openServerSql } from "./adapters/postgres.ts";
import { Controller } from "./runtime/controller.ts";
import { Informer, objectKey } from "./runtime/informer.ts";
import type { Logger } from "./runtime/logger.ts";
import { Manager } from "./runtime/manager.ts";
import { createMetrics, createRegistry } from "./runtime/metrics.ts";
import { observeWorkspaces, workspaceChanged } from "./watch.ts";

/** The assembled operator: start it, stop it. */
export interface Operator {
  manager: Manager;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Wires everything from `settings`; nothing runs until `start()`. */
export function buildOperator(settings: Settings, kubeConfig: KubeConfig, log: Logger, onLostLeadership: () => void): Operator {
  const metrics = createMetrics(createRegistry({ defaultMetrics: true }));
  const identity = settings.leaderElection.identity ?? `${hostname()}_${process.pid}`;
  const kube = createKubeClient(kubeConfig, { eventNamespace: settings.leaderElection.namespace, instance: identity });
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);

  const servers = new ServerRegistry(kube, (endpoint) =>
    openServerSql(endpoint, {
      maxConnections: settings.postgres.maxConnectionsPerServer,
      connectTimeoutMs: settings.postgres.connectTimeout,
      onIdleError: (err) => log.warn("idle PostgreSQL connection failed", { error: err.message }),
    }),
  );

  const workspaces = new Informer<WorkspaceDatabase>({
    kubeConfig,
    path: `/apis/${GROUP}/${VERSION}/${WORKSPACE_DATABASES}`,
    list: async () => (await custom.listCustomObjectForAllNamespaces({ group: GROUP, version: VERSION, resourcePlural: WORKSPACE_DATABASES })) as KubernetesListObject<WorkspaceDatabase>,
    apiVersion: API_VERSION,
    kind: "WorkspaceDatabase",
    log: log.child({ informer: "workspacedatabases" }),
  });
  const serverInformer = new Informer<DatabaseServer>({
    kubeConfig,
    path: `/apis/${GROUP}/${VERSION}/${DATABASE_SERVERS}`,
    list: async () => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: DATABASE_SERVERS })) as KubernetesListObject<DatabaseServer>,
    apiVersion: API_VERSION,
    kind: "DatabaseServer",
    log: log.child({ informer: "databaseservers" }),
  });
  const secretSelector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const secrets = new Informer<V1Secret>({
    kubeConfig,
    path: "/api/v1/secrets",
    labelSelector: secretSelector,
    list: () => core.listSecretForAllNamespaces({ labelSelector: secretSelector }),
    apiVersion: "v1",
    kind: "Secret",
    log: log.child({ informer: "secrets" }),
  });

  const observer = observeWorkspaces(metrics);
  const workspaceController = new Controller({
    name: "workspacedatabase",
    workers: settings.workers,
    backoff: { baseMs: settings.backoff.base, maxMs: settings.backoff.max },
    metrics,
    log,
    reconciler: {
      reconcile: (key, keyLog) => {
        const [namespace = "", name = ""] = key.split("/");
        return reconcileWorkspace(
          {
            kube,
            servers,
            now: () => new Date(),
            newPassword: () => generatePassword(settings.passwordLength),
            verifier: (password) => scramSha256Verifier(password),
            observe: observer.observe,
          },
          namespace,
          name,
          keyLog,
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
    reconciler: {
      reconcile: (key, keyLog) =>
        reconcileServer(
          {
            kube,
            servers,
            now: () => new Date(),
            recheckAfterMs: settings.resyncPeriod,
            // WorkspaceDatabases waiting for this server (or on the default) get another pass.
            onReadinessChange: (server) => {
              for (const ws of workspaces.list()) {
                const uses = ws.status?.server ?? ws.spec.serverRef?.name;
                if (uses === undefined || uses === server.metadata.name) workspaceController.enqueue(objectKey(ws));
              }
            },
          },
          key,
          keyLog,
        ),
    },
  });

  workspaces.on({
    onAdd: (obj) => workspaceController.enqueue(objectKey(obj)),
    onUpdate: (old, obj) => {
      if (workspaceChanged(old, obj)) workspaceController.enqueue(objectKey(obj));
    },
    onDelete: (obj) => observer.forget(obj),
  });
  serverInformer.on({
    onAdd: (obj) => serverController.enqueue(objectKey(obj)),
    onUpdate: (old, obj) => {
      if (old.metadata?.generation !== obj.metadata?.generation) serverController.enqueue(objectKey(obj));
    },
    onDelete: (obj) => serverController.enqueue(objectKey(obj)),
  });
  const ownerOf = (secret: V1Secret) => {
    const owner = secret.metadata?.labels?.[LABEL_DATABASE];
    if (owner && secret.metadata?.namespace) workspaceController.enqueue(`${secret.metadata.namespace}/${owner}`);
  };
  secrets.on({ onUpdate: (_old, secret) => ownerOf(secret), onDelete: ownerOf });

  const le = settings.leaderElection;
  const manager = new Manager({
    log,
    metrics,
    http: { port: settings.metricsPort, host: settings.metricsHost },
    ...(le.enabled
      ? {
          leaderElection: {
            api: kubeConfig.makeApiClient(CoordinationV1Api),
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
    onLostLeadership,
  });
  manager.addInformer(workspaces);
  manager.addInformer(serverInformer);
  manager.addInformer(secrets);
  manager.addController(serverController, [serverInformer]);
  manager.addController(workspaceController, [workspaces]);

  return {
    manager,
    start: () => manager.start(),
    async stop() {
      await manager.stop();
      await servers.closeAll();
    },
  };
}
