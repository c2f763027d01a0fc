// One copy of the strings that repeat across thousands of cached objects (namespaces, kinds, API
// versions, finalizers, label and annotation keys): JSON.parse makes a new string for every value.
import type { KubeObject } from "../kube/types.ts";

/** Strings longer than this are not pooled (names and label values are at most 253 and 63). */
const MAX_POOLED_LENGTH = 253;

/**
 * A bounded pool of strings: `of(s)` returns the pooled copy of `s`, pooling it while there is room.
 * Bounded because whoever may label an object chooses some of these strings: a full pool only stops
 * saving memory, it never changes a value.
 */
export class StringPool {
  readonly #pool = new Map<string, string>();
  readonly #max: number;

  constructor(max = 20_000) {
    this.#max = max;
  }

  get size(): number {
    return this.#pool.size;
  }

  of(value: string): string {
    if (value.length > MAX_POOLED_LENGTH) return value;
    const pooled = this.#pool.get(value);
    if (pooled !== undefined) return pooled;
    if (this.#pool.size < this.#max) this.#pool.set(value, value);
    return value;
  }
}

function pooledKeys(record: Record<string, string> | undefined, pool: StringPool, values: boolean): Record<string, string> | undefined {
  if (record === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) out[pool.of(key)] = values ? pool.of(value) : value;
  return out;
}

/**
 * `obj` with its repeating strings taken from `pool`: apiVersion, kind, namespace, finalizers, owner
 * references' apiVersion and kind, label keys and values, annotation keys. Everything else is kept.
 */
export function internStrings<T extends KubeObject>(obj: T, pool: StringPool): T {
  const m = obj.metadata;
  const out: T = { ...obj };
  if (obj.apiVersion !== undefined) out.apiVersion = pool.of(obj.apiVersion);
  if (obj.kind !== undefined) out.kind = pool.of(obj.kind);
  if (m === undefined) return out;
  const metadata = { ...m };
  if (m.namespace !== undefined) metadata.namespace = pool.of(m.namespace);
  if (m.finalizers !== undefined) metadata.finalizers = m.finalizers.map((f) => pool.of(f));
  if (m.ownerReferences !== undefined) metadata.ownerReferences = m.ownerReferences.map((o) => ({ ...o, apiVersion: pool.of(o.apiVersion), kind: pool.of(o.kind) }));
  if (m.labels !== undefined) metadata.labels = pooledKeys(m.labels, pool, true);
  if (m.annotations !== undefined) metadata.annotations = pooledKeys(m.annotations, pool, false);
  out.metadata = metadata;
  return out;
}
