// Ownership markers: the COMMENT the operator writes on every database and role it owns (DESIGN.md, Naming).

/** The WorkspaceDatabase (namespace and name) a marker records as owner. */
export interface WorkspaceRef {
  namespace: string;
  name: string;
}

/** What a marker is on: the database, or one of its two logins. */
export type MarkedPart = "database" | "read-write" | "read-only";

/**
 * A parsed marker. `format` is "current" for markers written by this version, "0.1" for the
 * database markers of version 0.1 (which marked databases only); old-format markers are only ever
 * read, so one can only come from 0.1.
 */
export interface Marker {
  owner: WorkspaceRef;
  part: MarkedPart;
  format: "current" | "0.1";
}

/** Every marker starts with this; used to count workspace databases. */
export const MARKER_PREFIX = "workspacedb.io/";

/** The marker format of version 0.1 (databases only): `workspacedb.io/owner: <namespace>/<name>`. */
const LEGACY_PREFIX = "workspacedb.io/owner: ";
/** The current format: `workspacedb.io/v2 owner=<namespace>/<name> part=<part>`. */
const CURRENT = /^workspacedb\.io\/v2 owner=([^/\s]+)\/(\S+) part=(database|read-write|read-only)$/;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

/** The COMMENT that marks `part` as owned by `owner`. Throws unless namespace and name are valid Kubernetes names. */
export function formatMarker(owner: WorkspaceRef, part: MarkedPart): string {
  if (!isWorkspaceRef(owner)) throw new Error("owner must be a valid Kubernetes namespace and name");
  return `${MARKER_PREFIX}v2 owner=${owner.namespace}/${owner.name} part=${part}`;
}

/** Reads a marker from a COMMENT; null when the comment is absent or not exactly one of our markers. */
export function parseMarker(comment: string | null): Marker | null {
  if (comment === null) return null;
  const current = CURRENT.exec(comment);
  if (current !== null) {
    const owner = { namespace: current[1]!, name: current[2]! };
    return isWorkspaceRef(owner) ? { owner, part: current[3] as MarkedPart, format: "current" } : null;
  }
  if (comment.startsWith(LEGACY_PREFIX)) {
    const rest = comment.slice(LEGACY_PREFIX.length);
    const slash = rest.indexOf("/");
    if (slash < 0) return null;
    const owner = { namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
    return isWorkspaceRef(owner) ? { owner, part: "database", format: "0.1" } : null;
  }
  return null;
}

/** True when `a` and `b` name the same WorkspaceDatabase. */
export function sameWorkspace(a: WorkspaceRef, b: WorkspaceRef): boolean {
  return a.namespace === b.namespace && a.name === b.name;
}

/** True when `marker` is a current-format marker of `part` owned by `owner`. */
export function marks(marker: Marker | null, owner: WorkspaceRef, part: MarkedPart): boolean {
  return marker !== null && marker.format === "current" && marker.part === part && sameWorkspace(marker.owner, owner);
}

function isWorkspaceRef(ref: WorkspaceRef): boolean {
  return ref.namespace.length <= 63 && DNS_LABEL.test(ref.namespace) && ref.name.length <= 253 && DNS_SUBDOMAIN.test(ref.name);
}
