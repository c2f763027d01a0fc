// Conditions in the shape of metav1.Condition, and the reasons this operator reports.
import type { Condition } from "../api/types.ts";

/** The condition both kinds report: is the object in the state its spec asks for. */
export const READY = "Ready";
/** kstatus: True while a pass is changing things (absent otherwise). */
export const RECONCILING = "Reconciling";
/** kstatus: True, with Ready's reason and message, while only a person can change the state (absent otherwise). */
export const STALLED = "Stalled";

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
  /** Reason of Reconciling=True (Ready unchanged) while a login is given a regenerated password. */
  Regenerating: "Regenerating",
  /** PostgreSQL answered with an error the operator does not classify (the message has its SQLSTATE). */
  DatabaseError: "DatabaseError",
  /** The Kubernetes API refused the operator's request (403: its RBAC; 4xx: the request). */
  KubernetesRejected: "KubernetesRejected",
  /** The Kubernetes API did not answer or failed (5xx, timeouts): retried with back-off. */
  KubernetesUnavailable: "KubernetesUnavailable",
  /** A bug: the message says what failed; please report it. */
  InternalError: "InternalError",
} as const;

/**
 * The Ready reasons of states that will not change until someone acts (a spec, a Secret, a grant by a
 * superuser, the server's configuration, the operator's RBAC): reported with Stalled=True, which kstatus
 * reads as Failed. Every other reason that is not Ready=True is a state that heals by itself or is
 * being worked on (Reconciling=True, kstatus InProgress).
 */
export const STALLED_REASONS: ReadonlySet<string> = new Set([
  Reasons.ServerNotFound,
  Reasons.AdminSecretNotFound,
  Reasons.AuthenticationFailed,
  Reasons.PermissionDenied,
  Reasons.Conflict,
  Reasons.NotAllowed,
  Reasons.InsecureAuthentication,
  Reasons.TLSVerificationFailed,
  Reasons.InvalidSpec,
  Reasons.PasswordTooLong,
  Reasons.KubernetesRejected,
]);

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

/** Returns a new list without the condition `type`. */
export function removeCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

/** What a pass says besides Ready: whether only a person can move on, or what it is changing now. */
export interface Progress {
  /** Only a person can change this state: Stalled=True with Ready's reason and message. */
  stalled?: boolean;
  /** A change in progress on an object whose Ready stays as it is (a password being regenerated). */
  reconciling?: { reason: string; message: string };
}

/**
 * Sets Ready and the two kstatus conditions that go with it (as Flux, Helm 4 and cli-utils read them):
 * - Ready=True: Stalled and Reconciling are absent (unless `reconciling` says what is changing);
 * - Ready not True and `stalled`: Stalled=True with Ready's reason and message, no Reconciling;
 * - Ready not True otherwise: Reconciling=True with Ready's reason and message, no Stalled.
 * So kstatus says Current exactly when Ready=True and nothing is being changed, Failed exactly while
 * Stalled=True, and InProgress in between. The abnormal-true conditions are left out rather than set
 * to False, so a Ready object carries Ready alone and a resync that changes nothing writes nothing.
 */
export function setReadiness(conditions: readonly Condition[] | undefined, ready: ConditionInput, now: Date, progress: Progress = {}): Condition[] {
  let list = setCondition(conditions, ready, now);
  const generation = ready.observedGeneration !== undefined ? { observedGeneration: ready.observedGeneration } : {};
  const stalled = ready.status !== "True" && progress.stalled === true;
  const reconciling = progress.reconciling ?? (ready.status !== "True" && !stalled ? { reason: ready.reason, message: ready.message } : undefined);
  list = stalled
    ? setCondition(list, { type: STALLED, status: "True", reason: ready.reason, message: ready.message, ...generation }, now)
    : removeCondition(list, STALLED);
  list = reconciling !== undefined
    ? setCondition(list, { type: RECONCILING, status: "True", reason: reconciling.reason, message: reconciling.message, ...generation }, now)
    : removeCondition(list, RECONCILING);
  return list;
}

/** The condition of `type`, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
