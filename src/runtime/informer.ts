// A list-then-watch cache of one resource that recovers from every error: paginated lists, watches from their resourceVersion.
import { KubeApiError } from "../kube/errors.ts";
import type { KubeRequester } from "../kube/rest.ts";
import type { KubeList, KubeObject } from "../kube/types.ts";
import { ItemBackoff } from "./backoff.ts";
import type { Logger } from "./logger.ts";
import { wakeableSleep } from "./sleep.ts";
import { errorMessage } from "./logger.ts";
import { openWatch } from "./watch.ts";
import { StringPool, internStrings } from "./intern.ts";
import type { OpenWatch, WatchEnd, WatchPort } from "./watch.ts";

/** The strings every informer of the process shares (see intern.ts). */
const STRINGS = new StringPool();

export type { WatchPort } from "./watch.ts";

/** One page of a list: at most `limit` items, from `continue` (the previous page's token) on. */
export interface ListPage {
  limit: number;
  continue?: string;
}

/**
 * Lists one page of the watched collection (same path and selectors as the informer's watch), as
 * JSON objects; a page with `metadata.continue` is followed by the next one.
 */
export type ListFn<T extends KubeObject> = (page: ListPage) => Promise<KubeList<T>>;

/** Callbacks of an informer; they should only enqueue keys. Exceptions are logged and ignored. */
export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

/** Options of {@link Informer}. */
export interface InformerOptions<T extends KubeObject> {
  /** Lists and watches `path` unless `list` and `watch` are both given. */
  client?: KubeRequester & WatchPort;
  /** Collection path for the list and watch, e.g. "/api/v1/namespaces/ns/configmaps" or "/apis/workspacedb.io/v1alpha1/workspacedatabases". */
  path: string;
  /** Lists one page; default GET `path` with the selectors through `client`. */
  list?: ListFn<T>;
  /** Items per list page; default 500. */
  pageSize?: number;
  log: Logger;
  /** Filled into listed items, which the API server returns without them (e.g. "v1", "ConfigMap"). */
  apiVersion?: string;
  kind?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout range in seconds, picked at random per watch; default [300, 600]. */
  watchTimeoutSeconds?: [number, number];
  /** A watch that delivers nothing (not even a bookmark) this long is aborted and re-opened; default 11 min. */
  inactivityTimeoutMs?: number;
  /** Back-off between failed lists/watches; default 500 ms .. 30 s. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Watch implementation; default `client`. */
  watch?: WatchPort;
  /** Deep-freeze cached objects, so an accidental mutation throws; default true. */
  freeze?: boolean;
  /**
   * Reduces each object to what its readers need before it is cached and handed to the handlers
   * (applied after `managedFields` is dropped); it must keep metadata.name, namespace and
   * resourceVersion. Default: the object as received.
   */
  transform?: (obj: T) => T;
}

/** Cache key of an object: "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns ? `${ns}/${name}` : name;
}

interface WatchEvent {
  type?: string;
  object?: KubeObject & { code?: number; message?: string };
}

/**
 * Lists a collection in pages (remembering its resourceVersion), then watches from it, keeping a
 * cache by {@link objectKey} and calling the handlers. A page's `continue` token that expired (410)
 * starts the list again from the first page. Recovers from every failure: connection errors and
 * server-side closes re-open the watch from the last seen resourceVersion (after back-off when it
 * failed); `410 Gone` re-lists, and a re-list synthesises deletes for objects that vanished meanwhile.
 * Watches use bookmarks, a random server timeout and a client inactivity timer against half-open
 * connections. Objects handed out (handlers, `get`, `list`) are shared: callers must never mutate
 * them (they are deep-frozen by default); copy with `structuredClone` first.
 */
export class Informer<T extends KubeObject> {
  readonly #opts: InformerOptions<T>;
  readonly #log: Logger;
  readonly #watch: WatchPort;
  readonly #list: ListFn<T>;
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandlers<T>[] = [];
  readonly #backoff: ItemBackoff;
  readonly #syncWaiters: Array<() => void> = [];
  #resourceVersion = "";
  #synced = false;
  #stopped = true;
  #current: OpenWatch | undefined;
  #sleepCancel: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: InformerOptions<T>) {
    this.#opts = opts;
    this.#log = opts.log.child({ watchPath: opts.path });
    const client = opts.client;
    const watch = opts.watch ?? client;
    if (watch === undefined) throw new TypeError(`informer ${opts.path}: needs a client or a watch`);
    this.#watch = watch;
    if (opts.list !== undefined) this.#list = opts.list;
    else if (client !== undefined) {
      this.#list = (page) => client.request<KubeList<T>>("GET", opts.path, {
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: page.limit, continue: page.continue },
        context: `listing ${opts.path}`,
      });
    } else throw new TypeError(`informer ${opts.path}: needs a client or a list function`);
    this.#backoff = new ItemBackoff({ baseMs: opts.backoff?.baseMs ?? 500, maxMs: opts.backoff?.maxMs ?? 30_000 });
  }

  /** Registers handlers; register before `start()` to see the initial adds. */
  on(handlers: InformerHandlers<T>): void {
    this.#handlers.push(handlers);
  }

  /** Starts listing and watching in the background; does nothing if running. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stops watching; the cache keeps its content. Resolves when the background loop has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#sleepCancel?.();
    this.#current?.end({ kind: "closed", reason: "stopped" });
    await this.#loop;
  }

  /** True once the first list has been applied to the cache. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once synced; rejects after `timeoutMs` if given. */
  waitForSync(timeoutMs?: number): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined
        : setTimeout(() => reject(new Error(`informer ${this.#opts.path} not synced after ${timeoutMs} ms`)), timeoutMs);
      this.#syncWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The cached object with key "ns/name" (or "name"); shared, do not mutate. */
  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  /** Every cached object; shared, do not mutate. */
  list(): T[] {
    return [...this.#cache.values()];
  }

  /** Every cache key. */
  keys(): string[] {
    return [...this.#cache.keys()];
  }

  /** The resourceVersion the next watch would start from ("" before the first list). */
  resourceVersion(): string {
    return this.#resourceVersion;
  }

  async #run(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      if (needList) {
        try {
          await this.#relist();
          needList = false;
          this.#backoff.forget("");
        } catch (err) {
          this.#log.warn("list failed, retrying", { err: errorMessage(err) });
          await this.#sleep(this.#backoff.when(""));
          continue;
        }
      }
      if (this.#stopped) break;
      const end = await this.#watchOnce();
      if (this.#stopped) break;
      if (end.kind === "gone") {
        this.#log.info("resourceVersion expired (410 Gone), re-listing", { resourceVersion: this.#resourceVersion });
        needList = true;
      } else if (end.kind === "error") {
        const delay = this.#backoff.when("");
        this.#log.warn("watch failed, retrying", { err: errorMessage(end.err), delayMs: delay });
        await this.#sleep(delay);
      } else {
        const log = end.reason.startsWith("inactive") ? this.#log.warn.bind(this.#log) : this.#log.debug.bind(this.#log);
        log("watch closed, re-watching", { reason: end.reason, resourceVersion: this.#resourceVersion });
      }
    }
  }

  /** Every page of the collection, or undefined when stopped meanwhile. */
  async #listAll(): Promise<KubeList<T> | undefined> {
    const limit = this.#opts.pageSize ?? 500;
    for (let attempt = 1; ; attempt++) {
      const items: T[] = [];
      let token: string | undefined;
      try {
        let resourceVersion: string | undefined;
        do {
          const page = await this.#list(token === undefined ? { limit } : { limit, continue: token });
          if (this.#stopped) return undefined;
          for (const item of page.items ?? []) items.push(item);
          resourceVersion = page.metadata?.resourceVersion;
          token = page.metadata?.continue || undefined;
        } while (token !== undefined);
        return { metadata: { resourceVersion }, items };
      } catch (err) {
        // The snapshot behind the token was compacted away: a new list from the first page.
        if (token === undefined || !(err instanceof KubeApiError && err.code === 410) || attempt >= 3) throw err;
        this.#log.info("list continue token expired (410 Gone), listing again from the start", { itemsSoFar: items.length });
      }
    }
  }

  async #relist(): Promise<void> {
    const result = await this.#listAll();
    if (result === undefined) return;
    const fresh = new Map<string, T>();
    for (const raw of result.items) {
      const obj = this.#prepare(raw, true);
      fresh.set(objectKey(obj), obj);
    }
    const old = new Map(this.#cache);
    this.#cache.clear();
    for (const [key, obj] of fresh) this.#cache.set(key, obj);
    for (const [key, obj] of fresh) {
      const before = old.get(key);
      if (before === undefined) this.#emit((h) => h.onAdd?.(obj));
      else if (before.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emit((h) => h.onUpdate?.(before, obj));
    }
    for (const [key, obj] of old) {
      if (!fresh.has(key)) this.#emit((h) => h.onDelete?.(obj));
    }
    this.#resourceVersion = result.metadata?.resourceVersion ?? "";
    this.#log.debug("listed", { items: fresh.size, resourceVersion: this.#resourceVersion });
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  #watchOnce(): Promise<WatchEnd> {
    const [lo, hi] = this.#opts.watchTimeoutSeconds ?? [300, 600];
    const current = openWatch({
      watch: this.#watch,
      path: this.#opts.path,
      query: {
        resourceVersion: this.#resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(lo + Math.random() * (hi - lo + 1)),
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
      },
      inactivityMs: this.#opts.inactivityTimeoutMs ?? 11 * 60_000,
      onEvent: (type, obj) => this.#apply({ type, object: obj as WatchEvent["object"] }),
      onOpen: () => this.#backoff.forget(""),
    });
    this.#current = current;
    return current.ended.finally(() => (this.#current = undefined));
  }

  /** Applies one watch event to the cache; returns how the watch ends if the event ends it. */
  #apply(ev: WatchEvent): WatchEnd | undefined {
    const obj = ev.object;
    if (obj === undefined || obj === null) return undefined;
    switch (ev.type) {
      case "ADDED":
      case "MODIFIED": {
        const fresh = this.#prepare(obj as T, false);
        const key = objectKey(fresh);
        const before = this.#cache.get(key);
        this.#cache.set(key, fresh);
        this.#resourceVersion = fresh.metadata?.resourceVersion ?? this.#resourceVersion;
        if (before === undefined) this.#emit((h) => h.onAdd?.(fresh));
        else this.#emit((h) => h.onUpdate?.(before, fresh));
        return undefined;
      }
      case "DELETED": {
        const gone = this.#prepare(obj as T, false);
        const key = objectKey(gone);
        this.#cache.delete(key);
        this.#resourceVersion = gone.metadata?.resourceVersion ?? this.#resourceVersion;
        this.#emit((h) => h.onDelete?.(gone));
        return undefined;
      }
      case "BOOKMARK":
        this.#resourceVersion = obj.metadata?.resourceVersion ?? this.#resourceVersion;
        return undefined;
      case "ERROR":
        if (obj.code === 410) return { kind: "gone" };
        return { kind: "error", err: new Error(`watch error event: ${obj.code ?? "?"} ${obj.message ?? ""}`) };
      default:
        return undefined;
    }
  }

  #prepare(received: T, listed: boolean): T {
    let obj = received;
    // managedFields (server-side apply bookkeeping) is often the largest part of an object and nothing
    // here reads it: the cache does not keep it. The metadata is rebuilt rather than `delete`d from,
    // which would leave it a slower, larger dictionary-mode object.
    if (obj.metadata !== undefined && "managedFields" in obj.metadata) {
      const { managedFields: _dropped, ...metadata } = obj.metadata as NonNullable<KubeObject["metadata"]> & { managedFields?: unknown };
      obj = { ...obj, metadata };
    }
    // Listed items of built-in kinds come without apiVersion and kind; watch events carry them.
    if (listed) {
      if (obj.apiVersion === undefined && this.#opts.apiVersion !== undefined) obj.apiVersion = this.#opts.apiVersion;
      if (obj.kind === undefined && this.#opts.kind !== undefined) obj.kind = this.#opts.kind;
    }
    if (this.#opts.transform !== undefined) obj = this.#opts.transform(obj);
    // Namespaces, kinds, label keys… repeat across every cached object: one copy each (of what the
    // cache keeps: after the transform, which may trim).
    obj = internStrings(obj, STRINGS);
    return this.#opts.freeze === false ? obj : deepFreeze(obj);
  }

  #emit(call: (h: InformerHandlers<T>) => void): void {
    for (const h of this.#handlers) {
      try {
        call(h);
      } catch (err) {
        this.#log.error("informer handler threw", { err: errorMessage(err) });
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    const sleep = wakeableSleep(ms);
    this.#sleepCancel = sleep.wake;
    return sleep.done;
  }

}

function deepFreeze<V>(value: V): V {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
