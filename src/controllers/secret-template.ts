// spec.secretTemplate on the credentials Secrets: the labels and annotations the operator put there
// from the template, and only those, follow the template.
import type { WorkspaceDatabase } from "../api/types.ts";

/** Annotation where a Secret records which of its keys came from the template (JSON `{"labels":[…],"annotations":[…]}`). */
export const SECRET_ANNOTATION_TEMPLATE_KEYS = "workspacedb.io/template-keys";

/**
 * Keys a template may not set, as the CRD refuses them at admission (checked again here, for objects
 * stored before that validation existed): anything under workspacedb.io, kubernetes.io or k8s.io.
 */
export function reservedTemplateKey(key: string): boolean {
  return /^([^/]*\.)?(workspacedb|kubernetes|k8s)\.io\//.test(key);
}

/** The template's labels and annotations, reserved keys left out. */
export function templateOf(owner: WorkspaceDatabase): { labels: Record<string, string>; annotations: Record<string, string> } {
  const metadata = owner.spec.secretTemplate?.metadata;
  const allowed = (map: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(map ?? {}).filter(([k, v]) => typeof v === "string" && !reservedTemplateKey(k)));
  return { labels: allowed(metadata?.labels), annotations: allowed(metadata?.annotations) };
}

/** The keys a Secret's bookkeeping annotation says came from the template (anything unreadable: none). */
function appliedKeys(annotations: Record<string, string> | undefined): { labels: string[]; annotations: string[] } {
  try {
    const parsed = JSON.parse(annotations?.[SECRET_ANNOTATION_TEMPLATE_KEYS] ?? "{}") as { labels?: unknown; annotations?: unknown };
    const list = (v: unknown) => (Array.isArray(v) ? v.filter((k): k is string => typeof k === "string") : []);
    return { labels: list(parsed.labels), annotations: list(parsed.annotations) };
  } catch {
    return { labels: [], annotations: [] };
  }
}

/**
 * Labels and annotations of a Secret after applying the template over `existing`'s: keys the
 * template put there before and no longer has are removed, the template's keys are set, everything
 * else stays; the bookkeeping annotation names the template's keys (absent when there are none).
 * The operator's own labels and annotations are set after this, so nothing here can override them.
 */
export function applyTemplate(
  owner: WorkspaceDatabase,
  existing: { labels?: Record<string, string>; annotations?: Record<string, string> },
): { labels: Record<string, string>; annotations: Record<string, string> } {
  const template = templateOf(owner);
  const previous = appliedKeys(existing.annotations);
  const labels = { ...(existing.labels ?? {}) };
  const annotations = { ...(existing.annotations ?? {}) };
  for (const key of previous.labels) if (!reservedTemplateKey(key) && !(key in template.labels)) delete labels[key];
  for (const key of previous.annotations) if (!reservedTemplateKey(key) && !(key in template.annotations)) delete annotations[key];
  Object.assign(labels, template.labels);
  Object.assign(annotations, template.annotations);
  const keys = { labels: Object.keys(template.labels).sort(), annotations: Object.keys(template.annotations).sort() };
  if (keys.labels.length + keys.annotations.length > 0) annotations[SECRET_ANNOTATION_TEMPLATE_KEYS] = JSON.stringify(keys);
  else delete annotations[SECRET_ANNOTATION_TEMPLATE_KEYS];
  return { labels, annotations };
}
