// Label selectors (metav1.LabelSelector) matched against a Namespace's labels, and described for messages.
import type { LabelSelector } from "../api/types.ts";

/** True when `labels` satisfy every matchLabels entry and every matchExpressions requirement (an empty selector matches all). */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    switch (operator) {
      case "In":
        if (!has || !values.includes(labels[key]!)) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false; // an operator we do not know never matches
    }
  }
  return true;
}

/** The selector in kubectl's label-selector syntax, e.g. `platform/workspace=true,tier in (a,b)`. */
export function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === "In") parts.push(`${key} in (${values.join(",")})`);
    else if (operator === "NotIn") parts.push(`${key} notin (${values.join(",")})`);
    else if (operator === "Exists") parts.push(key);
    else parts.push(`!${key}`);
  }
  return parts.length === 0 ? "(everything)" : parts.join(",");
}
