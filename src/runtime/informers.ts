// Informers of one namespaced resource: one across every namespace, or one per listed namespace, behind one cache interface.
import { KubeApiError } from "../kube/errors.ts";
import type { KubeRequester } from "../kube/rest.ts";
import type { KubeList, KubeObject } from "../kube/types.ts";
import { Informer } from "./informer.ts";
import type { InformerHandlers, InformerOptions, ListFn, WatchPort } from "./informer.ts";
import type { ManagedInformer } from "./manager.ts";

/** Options of {@link scopedInformers}. */
export interface ScopedInformerOptions<T extends KubeObject> extends Omit<InformerOptions<T>, "client" | "path" | "list" | "watch"> {
  client: KubeRequester & WatchPort;
  /** Collection path in `namespace`, or across every namespace when it is undefined. */
  path: (namespace: string | undefined) => string;
  /** One informer per namespace; empty: one informer across every namespace. */
  namespaces: readonly string[];
  /**
   * Called (each time) when a list is refused with 400 Bad Request: a label or field selector the API
   * server cannot parse. Retrying cannot help; the informer retries anyway unless this ends the process.
   */
  onBadRequest?: (err: KubeApiError, path: string) => void;
}

/**
 * Several informers of one resource seen as one: the cache lookups (`get`, `list`, `keys`), handlers
 * (`on`) and lifecycle (`start`, `stop`, `hasSynced`, `waitForSync`) of {@link Informer}, over all of
 * them. Keys are "namespace/name", as with one informer: `get` asks the informer of that namespace.
 * Register it with the Manager as one informer: it starts, stops and resyncs every member.
 */
export class InformerGroup<T extends KubeObject> implements ManagedInformer {
  readonly #members: ReadonlyArray<Informer<T>>;
  /** The member of each namespace; undefined for a single informer across every namespace. */
  readonly #byNamespace: ReadonlyMap<string, Informer<T>> | undefined;

  /** `members`: one informer across every namespace, or a Map of one informer per namespace. */
  constructor(members: Informer<T> | ReadonlyMap<string, Informer<T>>) {
    if (members instanceof Informer) {
      this.#members = [members];
      this.#byNamespace = undefined;
    } else {
      this.#members = [...members.values()];
      this.#byNamespace = members;
    }
  }

  /** The informers behind the group (one, or one per namespace). */
  members(): ReadonlyArray<Informer<T>> {
    return this.#members;
  }

  /** Registers handlers on every member; register before `start()` to see the initial adds. */
  on(handlers: InformerHandlers<T>): void {
    for (const m of this.#members) m.on(handlers);
  }

  start(): void {
    for (const m of this.#members) m.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#members.map((m) => m.stop()));
  }

  /** True once every member has synced. */
  hasSynced(): boolean {
    return this.#members.every((m) => m.hasSynced());
  }

  /** Resolves once every member synced; rejects after `timeoutMs` if given. */
  async waitForSync(timeoutMs?: number): Promise<void> {
    await Promise.all(this.#members.map((m) => m.waitForSync(timeoutMs)));
  }

  /** The cached object with key "namespace/name"; undefined for a namespace no member watches. Shared, do not mutate. */
  get(key: string): T | undefined {
    if (this.#byNamespace === undefined) return this.#members[0]?.get(key);
    const slash = key.indexOf("/");
    return slash < 0 ? undefined : this.#byNamespace.get(key.slice(0, slash))?.get(key);
  }

  /** Every cached object of every member; shared, do not mutate. */
  list(): T[] {
    return this.#members.length === 1 ? (this.#members[0]?.list() ?? []) : this.#members.flatMap((m) => m.list());
  }

  /** Every cache key of every member. */
  keys(): string[] {
    return this.#members.length === 1 ? (this.#members[0]?.keys() ?? []) : this.#members.flatMap((m) => m.keys());
  }
}

/**
 * Informers of a namespaced resource: one across every namespace when `namespaces` is empty, else
 * one per namespace (each listing and watching only its namespace, so that namespaced RBAC
 * suffices), combined in an {@link InformerGroup}. Lists go through `client` like an informer's own,
 * and report a 400 to `onBadRequest`.
 */
export function scopedInformers<T extends KubeObject>(opts: ScopedInformerOptions<T>): InformerGroup<T> {
  const { client, path: pathOf, namespaces, onBadRequest, log, ...rest } = opts;
  const build = (namespace: string | undefined): Informer<T> => {
    const path = pathOf(namespace);
    const list: ListFn<T> = async (page) => {
      try {
        return await client.request<KubeList<T>>("GET", path, {
          query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: page.limit, continue: page.continue },
          context: `listing ${path}`,
        });
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 400) onBadRequest?.(err, path);
        throw err;
      }
    };
    return new Informer<T>({ ...rest, client, path, list, log });
  };
  if (namespaces.length === 0) return new InformerGroup(build(undefined));
  return new InformerGroup(new Map(namespaces.map((ns) => [ns, build(ns)])));
}
