// Reconcile failures that carry the Ready reason a person sees, and how the queue should treat them.
import { KubeApiError } from "../kube/errors.ts";
import { PostgresError } from "../postgres/errors.ts";
import { Reasons, STALLED_REASONS } from "./conditions.ts";

/** How a failed pass is retried. */
export type RetryPolicy =
  /** Exponential back-off through the work queue. */
  | { kind: "backoff" }
  /** Poll again after a fixed delay (waiting on something outside this object). */
  | { kind: "after"; ms: number }
  /** Do not retry: the spec must change first. */
  | { kind: "never" };

/** A failure with a Ready reason and an actionable message (never a secret). */
export class ReconcileFailure extends Error {
  readonly reason: string;
  readonly retry: RetryPolicy;
  /** Only a person can end this state (Stalled=True); by default, whether the reason is one of STALLED_REASONS. */
  readonly stalled: boolean;

  constructor(reason: string, message: string, retry: RetryPolicy = { kind: "backoff" }, options?: { cause?: unknown; stalled?: boolean }) {
    super(message, options);
    this.name = "ReconcileFailure";
    this.reason = reason;
    this.retry = retry;
    this.stalled = options?.stalled ?? STALLED_REASONS.has(reason);
  }
}

const POSTGRES_REASONS: Record<PostgresError["kind"], string> = {
  Unavailable: Reasons.ServerUnavailable,
  AuthenticationFailed: Reasons.AuthenticationFailed,
  PermissionDenied: Reasons.PermissionDenied,
  InvalidSpec: Reasons.InvalidSpec,
  Conflict: Reasons.Conflict,
  Transient: Reasons.ServerUnavailable,
  TLSVerificationFailed: Reasons.TLSVerificationFailed,
  InsecureAuthentication: Reasons.InsecureAuthentication,
  Unknown: Reasons.DatabaseError,
};

/** Maps any error of a pass to a ReconcileFailure (reason, message, retry policy). */
export function toFailure(err: unknown): ReconcileFailure {
  if (err instanceof ReconcileFailure) return err;
  if (err instanceof PostgresError) {
    const reason = POSTGRES_REASONS[err.kind];
    const retry: RetryPolicy = err.kind === "InvalidSpec" ? { kind: "never" } : { kind: "backoff" };
    // A network error alone ("connect ECONNREFUSED …") does not say what is wrong: name it.
    const message = err.kind === "Unavailable" ? `PostgreSQL server unreachable (${err.message}); retrying` : err.message;
    return new ReconcileFailure(reason, message, retry, { cause: err });
  }
  if (err instanceof KubeApiError) {
    // 0: unreachable; 408, 429, 5xx: busy or failing. Anything else the API server decided.
    const unavailable = err.code === 0 || err.code === 408 || err.code === 429 || err.code >= 500;
    const message = err.code === 403 ? `${err.message} (the operator's RBAC does not allow it: see config/rbac/)` : err.message;
    // 404, 409, 410 (the object went or changed between our read and our write) are over at the next
    // pass; any other refusal (403 RBAC, 422 a webhook or quota) waits for a person.
    const raced = err.code === 404 || err.code === 409 || err.code === 410;
    return new ReconcileFailure(unavailable ? Reasons.KubernetesUnavailable : Reasons.KubernetesRejected, message, { kind: "backoff" }, { cause: err, stalled: !unavailable && !raced });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ReconcileFailure(Reasons.InternalError, `${message} (an unexpected failure of the operator: please report it with its log)`, { kind: "backoff" }, { cause: err });
}
