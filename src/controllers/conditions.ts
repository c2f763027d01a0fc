// Conditions in the shape of metav1.Condition, and the reasons this operator reports.
import type { Condition } from "../api/types.ts";

/** The one condition both kinds report. */
export const READY = "Ready";

/** Reasons of the Ready condition (CamelCase, stable: users and alerts match on them). */
export const Reasons = {
  Provisioned: "Provisioned",
  Provisioning: "Provisioning",
  Connected: "Connected",
  ServerNotFound: "ServerNotFound",
  ServerNotReady: "ServerNotReady",
  ServerUnavailable: "ServerUnavailable",
  AdminSecretNotFound: "AdminSecretNotFound",
  AuthenticationFailed: "AuthenticationFailed",
  PermissionDenied: "PermissionDenied",
  Conflict: "Conflict",
  NotAllowed: "NotAllowed",
  InsecureAuthentication: "InsecureAuthentication",
  TLSVerificationFailed: "TLSVerificationFailed",
  InvalidSpec: "InvalidSpec",
  /** A password set by hand in a credentials Secret is longer than MAX_PASSWORD_BYTES. */
  PasswordTooLong: "PasswordTooLong",
  Deleting: "Deleting",
  /** PostgreSQL answered with an error the operator does not classify (the message has its SQLSTATE). */
  DatabaseError: "DatabaseError",
  /** The Kubernetes API refused the operator's request (403: its RBAC; 4xx: the request). */
  KubernetesRejected: "KubernetesRejected",
  /** The Kubernetes API did not answer or failed (5xx, timeouts): retried with back-off. */
  KubernetesUnavailable: "KubernetesUnavailable",
  /** A bug: the message says what failed; please report it. */
  InternalError: "InternalError",
} as const;

/** The desired state of one condition; the transition time is filled in by `setCondition`. */
export type ConditionInput = Omit<Condition, "lastTransitionTime">;

/**
 * Returns a new list with `input` set: `lastTransitionTime` moves only when the status changes,
 * so re-asserting the same state never produces a different object. Other conditions are kept.
 */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, now: Date): Condition[] {
  const list = conditions ? [...conditions] : [];
  const index = list.findIndex((c) => c.type === input.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    lastTransitionTime: previous && previous.status === input.status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    ...(input.observedGeneration !== undefined ? { observedGeneration: input.observedGeneration } : {}),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

/** The condition of `type`, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
