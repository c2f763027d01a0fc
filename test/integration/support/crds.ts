// Installs the CustomResourceDefinitions of crds/ into a cluster, idempotently, for integration tests.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

/** Directory holding the CRD manifests, one YAML file per CRD. */
export const CRD_DIR = path.resolve(import.meta.dirname, "../../../crds");

/** How long installCrds waits for a CRD to become Established. */
const ESTABLISHED_TIMEOUT_MS = 30_000;

/**
 * After a CRD's schema actually changed, the API server's handlers pick the new schema up from
 * their informer shortly after the write; requests in between are still validated with the old one.
 */
const SCHEMA_SETTLE_MS = 2_000;

/** Reads every CustomResourceDefinition of crds/ (all documents of every *.yaml / *.yml file). */
export async function loadCrds(dir: string = CRD_DIR): Promise<k8s.V1CustomResourceDefinition[]> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const crds: k8s.V1CustomResourceDefinition[] = [];
  for (const file of files) {
    const text = await readFile(path.join(dir, file), "utf8");
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) {
        throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
      }
      const raw = doc.toJS() as { kind?: unknown } | null;
      if (raw == null) continue;
      if (raw.kind !== "CustomResourceDefinition") {
        throw new Error(`${file}: expected a CustomResourceDefinition, found kind ${String(raw.kind)}`);
      }
      // The typed API serializes its models by their TypeScript property names (`_default`,
      // `_enum`, `xKubernetesValidations`, …) and drops unknown keys: a plain parsed object would
      // lose defaults, enums and CEL rules on the way. loadYaml builds the model properly.
      crds.push(k8s.loadYaml<k8s.V1CustomResourceDefinition>(doc.toString()));
    }
  }
  if (crds.length === 0) throw new Error(`no CustomResourceDefinition found in ${dir}`);
  return crds;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof k8s.ApiException && err.code === code;
}

/**
 * Creates one CRD, or replaces it when it exists. Says which happened; a replace that changed
 * nothing keeps the resourceVersion and counts as "unchanged".
 */
async function apply(
  api: k8s.ApiextensionsV1Api,
  crd: k8s.V1CustomResourceDefinition,
): Promise<"created" | "updated" | "unchanged"> {
  const name = crd.metadata!.name!;
  for (let attempt = 0; ; attempt++) {
    try {
      await api.createCustomResourceDefinition({ body: crd });
      return "created";
    } catch (err) {
      if (!isApiError(err, 409)) throw err;
    }
    const current = await api.readCustomResourceDefinition({ name });
    const before = current.metadata?.resourceVersion;
    const body: k8s.V1CustomResourceDefinition = {
      ...crd,
      metadata: { ...crd.metadata, name, resourceVersion: before },
    };
    try {
      const after = await api.replaceCustomResourceDefinition({ name, body });
      return after.metadata?.resourceVersion === before ? "unchanged" : "updated";
    } catch (err) {
      // Someone else wrote it in between (409), or it is being deleted and vanished (404): retry.
      if (attempt < 5 && (isApiError(err, 409) || isApiError(err, 404))) continue;
      throw err;
    }
  }
}

/** Polls until the CRD reports Established=True, or throws after a timeout. */
async function waitEstablished(api: k8s.ApiextensionsV1Api, name: string): Promise<void> {
  const deadline = Date.now() + ESTABLISHED_TIMEOUT_MS;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name });
    const established = crd.status?.conditions?.find((c) => c.type === "Established");
    if (established?.status === "True") return;
    if (Date.now() > deadline) {
      const conditions = (crd.status?.conditions ?? [])
        .map((c) => `${c.type}=${c.status} (${c.reason ?? ""}: ${c.message ?? ""})`)
        .join(", ");
      throw new Error(`CRD ${name} not Established after ${ESTABLISHED_TIMEOUT_MS} ms: ${conditions || "no conditions"}`);
    }
    await sleep(200);
  }
}

/**
 * Applies every CRD of crds/ (create, or replace when it already exists) and waits until each one
 * is Established, so that its resources can be used right away. Safe to call more than once.
 */
export async function installCrds(kc: k8s.KubeConfig): Promise<void> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const crds = await loadCrds();
  let updated = false;
  for (const crd of crds) {
    if ((await apply(api, crd)) === "updated") updated = true;
  }
  for (const crd of crds) {
    await waitEstablished(api, crd.metadata!.name!);
  }
  if (updated) await sleep(SCHEMA_SETTLE_MS);
}
