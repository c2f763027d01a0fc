// The Ground object of a ground this run started (with or without a node): one shape for both.
import { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfigFiles } from "../../src/kube/config.ts";
import { createRestClient } from "../../src/kube/rest.ts";
import type { Ground, NodeGround } from "./index.ts";
import type { KubeGround } from "./kube.ts";
import { startPostgres, type LocalPostgresGround, type PostgresOptions, type PostgresGround } from "./postgres.ts";

/** What differs between a ground with a node and one without. */
export interface LocalParts {
  root: string;
  pidFile: string;
  kube: KubeGround;
  postgres: PostgresGround;
  node: NodeGround | undefined;
  /** Where extra PostgreSQL servers listen (the n-th extra one): undefined for loopback and a free port. */
  extraNetwork: ((n: number) => PostgresOptions["network"]) | undefined;
  /** After the control plane and every PostgreSQL stopped: kill what is left and remove the files. */
  finish: () => void;
  /** Before anything else stops (the node). */
  beforeStop?: () => Promise<void>;
}

/**
 * The Ground of a local run: the API server's admin clients, `startExtraPostgres` (each extra server
 * stopped with the ground), and `stop()` — `beforeStop`, then the control plane and every PostgreSQL,
 * then `finish`.
 */
export function localGround(parts: LocalParts): Ground {
  const { root, pidFile, kube, postgres } = parts;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kube.kubeconfigPath);
  const client = createRestClient(loadKubeConfigFiles([kube.kubeconfigPath]));
  const extras: PostgresGround[] = [];
  return {
    kubeconfigPath: kube.kubeconfigPath,
    kubeConfig,
    client,
    apiServerUrl: kube.apiServerUrl,
    postgres,
    local: true,
    root,
    restartApiServer: () => kube.restartApiServer(),
    certs: kube.certs,
    apiServerGet: (path) => kube.adminGet(path),
    node: parts.node,
    async startExtraPostgres(major: number, options: { tls?: { cert: string; key: string } } = {}): Promise<LocalPostgresGround> {
      // Its process is in procs.ts's list (exit handlers) and its pid in the janitor's file like
      // the others; a failed start stops its own server.
      const n = extras.length + 1;
      const network = parts.extraNetwork?.(n);
      const extra = await startPostgres(root, pidFile, { name: `postgres-${major}-${n}`, major, ...options, ...(network === undefined ? {} : { network }) });
      extras.push(extra);
      return extra;
    },
    async stop() {
      client.close();
      await parts.beforeStop?.().catch(() => undefined);
      await Promise.allSettled([kube.stop(), postgres.stop(), ...extras.map((e) => e.stop())]);
      parts.finish();
    },
  };
}
