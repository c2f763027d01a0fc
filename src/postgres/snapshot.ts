// A short-lived snapshot of one server's shared catalogs for every workspace seen on it: one query per resync, not per object.
import type { SharedFacts } from "./shared.ts";
import type { WorkspaceNames } from "./state.ts";

/** Shared facts and whether they were read for this request (`fresh`) or come from a snapshot. */
export interface SharedRead {
  facts: SharedFacts;
  fresh: boolean;
}

/** Reads the shared facts of many workspaces in one query (shared.ts's readSharedFacts). */
export type SharedReader = (workspaces: readonly WorkspaceNames[]) => Promise<Map<string, SharedFacts>>;

/** Options of {@link SharedSnapshot}. */
export interface SharedSnapshotOptions {
  /** How long a snapshot answers before the next request reads a new one (default 30 s). */
  maxAgeMs?: number;
  /** Most workspaces per query (default 1000); a larger snapshot takes several. */
  batchSize?: number;
  /**
   * The workspaces expected on this server (from the caches), read into the next snapshot besides
   * those asked about: after a restart, the first resync takes one snapshot instead of one read each.
   */
  expected?: () => Iterable<WorkspaceNames>;
  now?: () => number;
}

interface Snapshot {
  at: number;
  names: Map<string, WorkspaceNames>;
  facts: Map<string, SharedFacts>;
}

function sameNames(a: WorkspaceNames | undefined, b: WorkspaceNames): boolean {
  return a !== undefined && a.database === b.database && a.readWrite === b.readWrite && a.readOnly === b.readOnly;
}

/**
 * Answers "what do the shared catalogs say about this workspace" either fresh (one query for it) or,
 * when the caller allows it, from a snapshot taken at most `maxAgeMs` ago for every workspace this
 * server has been asked about — so a periodic resync of N settled workspaces costs one query, not N.
 * Callers must not write anything decided on a snapshot without reading fresh first (the facts may
 * be up to `maxAgeMs` old). Concurrent requests share one snapshot read.
 */
export class SharedSnapshot {
  readonly #read: SharedReader;
  readonly #maxAgeMs: number;
  readonly #batchSize: number;
  readonly #now: () => number;
  readonly #expected: () => Iterable<WorkspaceNames>;
  /** Every workspace asked about, by database name: what the next snapshot reads. */
  readonly #known = new Map<string, WorkspaceNames>();
  #snapshot: Snapshot | undefined;
  #loading: Promise<void> | undefined;
  #expiry: NodeJS.Timeout | undefined;

  constructor(read: SharedReader, options: SharedSnapshotOptions = {}) {
    this.#read = read;
    this.#maxAgeMs = options.maxAgeMs ?? 30_000;
    this.#batchSize = Math.max(1, options.batchSize ?? 1000);
    this.#now = options.now ?? Date.now;
    this.#expected = options.expected ?? (() => []);
  }

  /** Workspaces a snapshot would read (for tests and metrics). */
  get size(): number {
    return this.#known.size;
  }

  /**
   * Shared facts of `names`: from a recent enough snapshot when `allowSnapshot`, else read now. A
   * workspace missing from a current snapshot (it settled since) is read alone, never by a new
   * snapshot: a stream of new workspaces cannot make each pass read them all.
   */
  async read(names: WorkspaceNames, allowSnapshot: boolean): Promise<SharedRead> {
    if (allowSnapshot) {
      let snapshot = this.#current();
      if (snapshot === undefined) {
        this.#known.set(names.database, names);
        await this.#refresh();
        snapshot = this.#snapshot;
      }
      const facts = snapshot !== undefined && sameNames(snapshot.names.get(names.database), names) ? snapshot.facts.get(names.database) : undefined;
      if (facts !== undefined) return { facts, fresh: false };
    }
    this.#known.set(names.database, names);
    const facts = (await this.#read([names])).get(names.database);
    if (facts === undefined) throw new Error(`no shared facts read for database ${names.database}`);
    return { facts, fresh: true };
  }

  /** Stops reading `database` into snapshots (its workspace is gone). */
  forget(database: string): void {
    this.#known.delete(database);
  }

  #current(): Snapshot | undefined {
    const snapshot = this.#snapshot;
    if (snapshot !== undefined && this.#now() - snapshot.at >= this.#maxAgeMs) this.#snapshot = undefined;
    return this.#snapshot;
  }

  #refresh(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const at = this.#now();
        for (const expected of this.#expected()) if (!this.#known.has(expected.database)) this.#known.set(expected.database, expected);
        const names = new Map(this.#known);
        const all = [...names.values()];
        const facts = new Map<string, SharedFacts>();
        for (let i = 0; i < all.length; i += this.#batchSize) {
          for (const [database, f] of await this.#read(all.slice(i, i + this.#batchSize))) facts.set(database, f);
        }
        this.#snapshot = { at, names, facts };
        // Not kept past its age: between resyncs the process holds no copy of the catalogs.
        clearTimeout(this.#expiry);
        this.#expiry = setTimeout(() => (this.#snapshot = undefined), this.#maxAgeMs).unref();
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }
}
