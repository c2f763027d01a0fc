// The few built-in Kubernetes shapes the operator reads and writes, as they are on the wire (JSON).
import type { ObjectMeta } from "../api/types.ts";

/** Any Kubernetes object: what generic code (informers, cache keys) relies on. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** `metadata` of a list: the snapshot's resourceVersion and, for a paginated list, the next page's token. */
export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

/** A list of `T`, as every list endpoint answers. */
export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: ListMeta;
  items: T[];
}

/** A core/v1 Secret; `data` values are base64. */
export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
}

/** `spec` of a coordination.k8s.io/v1 Lease; times are MicroTime strings (see {@link microTime}). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** A coordination.k8s.io/v1 Lease. */
export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** What a core/v1 Event is about. */
export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** A core/v1 Event as the operator writes it (timestamps RFC 3339). */
export interface KubeEvent extends KubeObject {
  involvedObject: ObjectReference;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
  reportingInstance?: string;
  firstTimestamp?: string;
  lastTimestamp?: string;
  count?: number;
}

/** The body of an error answer (meta/v1 Status). */
export interface Status {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/**
 * `date` as a MicroTime, the way client-go serialises it: RFC 3339 in UTC with exactly six fractional
 * digits, e.g. `2024-05-01T12:00:00.123000Z` (a Date has milliseconds; the last three digits are 0).
 */
export function microTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
