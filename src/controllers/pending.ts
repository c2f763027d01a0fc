// Since when each WorkspaceDatabase has had password work pending: the age behind the
// `workspacedb_regeneration_oldest_pending_seconds` metric and its alert.
import type { WorkspaceDatabase } from "../api/types.ts";
import type { Secret } from "../kube/types.ts";
import { passwordWorkPending } from "./credentials.ts";
import { secretName } from "./secret.ts";

/**
 * True when a WorkspaceDatabase that was provisioned once has password work not yet applied: a
 * regeneration asked for, a Secret (or its password) deleted, or a new password in the Secret its role
 * does not have yet. One never provisioned is left out: its Ready condition says why.
 */
export function regenerationPending(owner: WorkspaceDatabase, secretOf: (name: string) => Secret | undefined, now: Date): boolean {
  const creds = owner.status?.credentials;
  if (creds?.readWrite === undefined && creds?.readOnly === undefined) return false;
  return passwordWorkPending(owner, secretOf, now);
}

/**
 * First time each key was seen pending, kept while it stays pending, and whether it is pending as of
 * a version of its inputs (the object's and its Secrets' resourceVersions): deciding means hashing
 * regenerate values longer than 128 bytes, which a tenant sets, so it is decided again only when one
 * of them changed — never at every scrape. Nothing is stored in the cluster: a replica counts from
 * when it first saw the request (a new leader from its start, or from the watch event when it ran
 * the caches as a standby).
 */
export class PendingSince {
  readonly #entries = new Map<string, { version: string; decidedAt: number; since: number | undefined }>();

  /** How long a decision stands for an unchanged version (timestamps judged against the clock may age). */
  static readonly RECHECK_MS = 5 * 60_000;

  /**
   * Whether `key` is pending at `version` (`pending()` is called only for a version not seen yet, or
   * decided longer than RECHECK_MS ago); returns since when it has been pending, or undefined.
   */
  mark(key: string, version: string, pending: () => boolean, nowMs: number): number | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.version === version && nowMs - entry.decidedAt < PendingSince.RECHECK_MS) return entry.since;
    const since = pending() ? (entry?.since ?? nowMs) : undefined;
    this.#entries.set(key, { version, decidedAt: nowMs, since });
    return since;
  }

  /** Forgets a key (its object was deleted). */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The version of what decides whether `owner` has password work pending: it and its two Secrets. */
export function pendingInputsVersion(owner: WorkspaceDatabase, secretOf: (name: string) => Secret | undefined): string {
  const rv = (name: string): string => secretOf(name)?.metadata?.resourceVersion ?? "-";
  return `${owner.metadata.resourceVersion ?? ""}/${rv(secretName(owner.metadata.name, "read-write"))}/${rv(secretName(owner.metadata.name, "read-only"))}`;
}
