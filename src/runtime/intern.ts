// One copy of the strings that repeat across thousands of cached objects (namespaces, kinds, API
// versions, finalizers, label and annotation keys): JSON.parse makes a new string for every value.
import type { KubeObject } from "../kube/types.ts";

/** Strings longer than this are not pooled (names and label values are at most 253 and 63). */
const MAX_POOLED_LENGTH = 253;

/**
 * A bounded pool of strings: `of(s)` returns the pooled copy of `s`, pooling it. Bounded because
 * whoever may label an object chooses some of these strings, and namespaces come and go: a full pool
 * starts again empty (the cached objects keep the copies they have), it never changes a value.
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
    if (this.#pool.size >= this.#max) this.#pool.clear();
    this.#pool.set(value, value);
    return value;
  }
}

function pooledKeys(record: Record<string, string>, pool: StringPool, values: boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [pool.of(key), values && typeof value === "string" ? pool.of(value) : value]));
}

const isRecord = (v: unknown): v is Record<string, string> => typeof v === "object" && v !== null && !Array.isArray(v);
const pooled = (v: unknown, pool: StringPool): unknown => (typeof v === "string" ? pool.of(v) : v);

/**
 * `obj` with its repeating strings taken from `pool`: apiVersion, kind, namespace, finalizers, owner
 * references' apiVersion and kind, label keys and values, annotation keys. Everything else is kept.
 */
export function internStrings<T extends KubeObject>(obj: T, pool: StringPool): T {
  const m = obj.metadata;
  const out: T = { ...obj };
  // Shapes are checked, not trusted: a value of another type is kept as it is.
  if (typeof obj.apiVersion === "string") out.apiVersion = pool.of(obj.apiVersion);
  if (typeof obj.kind === "string") out.kind = pool.of(obj.kind);
  if (!isRecord(m)) return out;
  const metadata = { ...m };
  if (typeof m.namespace === "string") metadata.namespace = pool.of(m.namespace);
  if (Array.isArray(m.finalizers)) metadata.finalizers = m.finalizers.map((f) => pooled(f, pool) as string);
  if (Array.isArray(m.ownerReferences)) {
    metadata.ownerReferences = m.ownerReferences.map((o) => {
      if (!isRecord(o)) return o;
      const ref = { ...o };
      if (typeof o.apiVersion === "string") ref.apiVersion = pool.of(o.apiVersion);
      if (typeof o.kind === "string") ref.kind = pool.of(o.kind);
      return ref;
    });
  }
  if (isRecord(m.labels)) metadata.labels = pooledKeys(m.labels, pool, true);
  if (isRecord(m.annotations)) metadata.annotations = pooledKeys(m.annotations, pool, false);
  out.metadata = metadata;
  return out;
}
