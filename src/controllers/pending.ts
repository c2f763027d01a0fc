// Since when each WorkspaceDatabase has had password work pending: the age behind the
// `workspacedb_regeneration_oldest_pending_seconds` metric and its alert.
import type { WorkspaceDatabase } from "../api/types.ts";
import type { Secret } from "../kube/types.ts";
import { passwordWorkPending } from "./credentials.ts";

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
 * First time each key was seen pending, kept while it stays pending. Nothing is stored: a replica
 * counts from when it first saw the request (a new leader from its start, or from the watch event when
 * it ran the caches as a standby).
 */
export class PendingSince {
  readonly #since = new Map<string, number>();

  /** Records whether `key` is pending now; returns since when it has been, or undefined. */
  mark(key: string, pending: boolean, nowMs: number): number | undefined {
    if (!pending) {
      this.#since.delete(key);
      return undefined;
    }
    const since = this.#since.get(key);
    if (since !== undefined) return since;
    this.#since.set(key, nowMs);
    return nowMs;
  }

  /** Forgets a key (its object was deleted). */
  forget(key: string): void {
    this.#since.delete(key);
  }

  get size(): number {
    return this.#since.size;
  }
}
