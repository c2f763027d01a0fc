// The start-up check that the installed CRDs are not older than this operator (Helm never upgrades a chart's crds/).
import { ANNOTATION_CRD_REVISION, CRD_SCHEMA_REVISION, DATABASE_SERVERS, GROUP, WORKSPACE_DATABASES } from "../api/types.ts";
import { toKubeError } from "./errors.ts";
import type { KubeRequester } from "./rest.ts";
import type { KubeObject } from "./types.ts";

/** The command that installs this release's CRDs, named in the refusal. */
export const CRD_UPGRADE_COMMAND = "kubectl apply --server-side --force-conflicts -f crds/  (from this release's chart or repository)";

/**
 * Reads both CRDs and returns why the operator must not start (a CRD missing, older than
 * CRD_SCHEMA_REVISION, or not readable with its permissions), or null when they are recent enough.
 * Throws the KubeApiError when the API server could not answer (unreachable, 5xx): worth retrying.
 */
export async function crdProblem(client: KubeRequester): Promise<string | null> {
  for (const plural of [WORKSPACE_DATABASES, DATABASE_SERVERS]) {
    const name = `${plural}.${GROUP}`;
    const context = `reading CustomResourceDefinition ${name}`;
    let revision: number;
    try {
      const crd = await client.request<KubeObject>("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, { context });
      revision = Number(crd.metadata?.annotations?.[ANNOTATION_CRD_REVISION] ?? "1");
    } catch (err) {
      const e = toKubeError(err, context);
      if (e.code === 0 || e.code >= 500) throw e;
      if (e.code === 404) return `CustomResourceDefinition ${name} is not installed: run ${CRD_UPGRADE_COMMAND}`;
      return `${e.message} (the operator checks at start that its CRDs are installed and recent enough; it needs get on customresourcedefinitions ${name})`;
    }
    if (!(revision >= CRD_SCHEMA_REVISION)) {
      return `the installed CustomResourceDefinition ${name} is older than this operator (schema revision ${Number.isNaN(revision) ? "unknown" : revision}, needs ${CRD_SCHEMA_REVISION}); Helm never upgrades a chart's crds/: run ${CRD_UPGRADE_COMMAND}`;
    }
  }
  return null;
}
