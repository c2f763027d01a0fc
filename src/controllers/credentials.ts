// One login's credentials Secret: create, regenerate on request, repair derived keys — Secret first, role after.
import {
  ANNOTATION_REGENERATE_BOTH,
  ANNOTATION_REGENERATE_RO,
  ANNOTATION_REGENERATE_RW,
  type Access,
  type WorkspaceDatabase,
} from "../api/types.ts";
import type { KubePort } from "../kube/client.ts";
import type { Secret as V1Secret } from "../kube/types.ts";
import { regenerateTokenRecord } from "../api/regenerate.ts";
import { isConflict } from "../kube/errors.ts";
import { MAX_PASSWORD_BYTES } from "../postgres/password.ts";
import { Reasons } from "./conditions.ts";
import { ReconcileFailure } from "./failure.ts";
import { decidePassword, type PasswordDecision } from "./rotation.ts";
import {
  SECRET_ANNOTATION_CHANGED_AT,
  SECRET_ANNOTATION_HANDLED,
  SECRET_ANNOTATION_HANDLED_ALL,
  SECRET_ANNOTATION_HANDLED_LAST,
  controlledBy,
  desiredSecret,
  metadataTrimmed,
  oversizedPassword,
  secretDiffers,
  secretName,
  secretValue,
  type ConnectionEndpoint,
} from "./secret.ts";

/** What the Secret step decided for one login. */
export interface CredentialOutcome {
  access: Access;
  username: string;
  secretName: string;
  /** The password the Secret now holds: the role must end up with it. */
  password: string;
  passwordChangedAt: string;
  handledToken: string | undefined;
  /** Whether the Secret kept its password or got a new one, and why (see decidePassword). */
  change: PasswordDecision["password"];
  /** The role must be given this password first (see decidePassword). */
  rotate: boolean;
  /** The Secret's resourceVersion after this step: which content a login check proved. */
  secretVersion: string;
}

/** Inputs of the Secret step. */
export interface CredentialContext {
  kube: KubePort;
  owner: WorkspaceDatabase;
  endpoint: ConnectionEndpoint;
  database: string;
  now: Date;
  newPassword: () => string;
}

/** The annotation that regenerates only this login. */
export function ownRegenerateAnnotation(access: Access): string {
  return access === "read-write" ? ANNOTATION_REGENERATE_RW : ANNOTATION_REGENERATE_RO;
}

function timestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `value` when it is a timestamp as the operator writes them and not in the future (a minute of clock skew allowed). */
function validTimestamp(value: string | undefined, now: Date): string | undefined {
  if (value === undefined || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) || at > now.getTime() + 60_000 ? undefined : value;
}

function tokenRecord(value: string | undefined): string | undefined {
  return value === undefined ? undefined : regenerateTokenRecord(value);
}

/**
 * The password decision of one login from its object and its Secret as they are (the cached copy
 * will do): what the Secret step will do. `current` is the Secret's password (a placeholder when it is
 * too long to apply: it is not even read, so that only a regeneration replaces it).
 */
function passwordDecision(owner: WorkspaceDatabase, access: Access, existing: V1Secret | undefined, now: Date): { current: string | undefined; decision: PasswordDecision } {
  const annotations = owner.metadata.annotations ?? {};
  const key = access === "read-write" ? "readWrite" : "readOnly";
  const current = oversizedPassword(existing) === undefined ? secretValue(existing, "password") : "(too long)";
  const secretAnnotations = existing?.metadata?.annotations ?? {};
  const decision = decidePassword({
    requested: { own: annotations[ownRegenerateAnnotation(access)], all: annotations[ANNOTATION_REGENERATE_BOTH] },
    // The bookkeeping annotations can be edited by whoever may edit the Secret: they go into status
    // only as a valid timestamp and as token records (bounded), never as written.
    secret: existing === undefined ? undefined : {
      password: current,
      changedAt: validTimestamp(secretAnnotations[SECRET_ANNOTATION_CHANGED_AT], now),
      handled: {
        own: tokenRecord(secretAnnotations[SECRET_ANNOTATION_HANDLED]),
        all: tokenRecord(secretAnnotations[SECRET_ANNOTATION_HANDLED_ALL]),
        last: tokenRecord(secretAnnotations[SECRET_ANNOTATION_HANDLED_LAST]),
      },
    },
    roleChangedAt: owner.status?.credentials?.[key]?.passwordChangedAt,
    now: timestamp(now),
  });
  return { current, decision };
}

/**
 * True when a pass would give a login of `owner` a new password, or its role the Secret's password:
 * a regeneration asked for (by any of the annotations, as the Secret's bookkeeping records them), a
 * Secret or password missing. `secretOf` reads the cache; work a person waits for when true.
 */
export function passwordWorkPending(owner: WorkspaceDatabase, secretOf: (name: string) => V1Secret | undefined, now: Date): boolean {
  return (["read-write", "read-only"] as const).some((access) => {
    const { decision } = passwordDecision(owner, access, secretOf(secretName(owner.metadata.name, access)), now);
    return decision.password !== "keep" || decision.rotate;
  });
}

/**
 * Makes the Secret of `access` hold a password and every derived key, and returns that password.
 * A new password is written to the Secret before any role is touched, so a crash at any point
 * leaves a Secret the next pass can make the role match.
 */
export async function ensureCredentialSecret(ctx: CredentialContext, access: Access, username: string): Promise<CredentialOutcome> {
  // The cache knows every Secret we manage; one it lacks is created, and a name taken by someone
  // else's Secret (not in the cache) answers AlreadyExists: then it is read from the API.
  try {
    return await ensureFrom(ctx, access, username, true);
  } catch (err) {
    if (!(err instanceof SecretNameTaken)) throw err;
    return ensureFrom(ctx, access, username, false);
  }
}

/** Creating a Secret the cache did not know answered AlreadyExists. */
class SecretNameTaken extends Error {}

async function ensureFrom(ctx: CredentialContext, access: Access, username: string, cachedOnly: boolean): Promise<CredentialOutcome> {
  const { kube, owner } = ctx;
  const namespace = owner.metadata.namespace ?? "";
  const name = secretName(owner.metadata.name, access);
  const existing = await kube.getSecret(namespace, name, { cachedOnly });
  if (existing && !controlledBy(existing, owner)) {
    throw new ReconcileFailure(
      Reasons.Conflict,
      `Secret ${namespace}/${name} already exists and is not managed by this WorkspaceDatabase; rename or delete it`,
      { kind: "after", ms: 60_000 },
    );
  }
  const oversized = oversizedPassword(existing);
  const { current, decision } = passwordDecision(owner, access, existing, ctx.now);
  if (decision.password === "keep" && oversized !== undefined) {
    // Nothing is written and the role keeps its password: the Secret changes first (a shorter
    // password by hand, or a regeneration), and that change brings the next pass.
    throw new ReconcileFailure(
      Reasons.PasswordTooLong,
      `the password set by hand in Secret ${namespace}/${name} has ${oversized} bytes, more than the ${MAX_PASSWORD_BYTES} the operator applies: ` +
        `set a shorter one, or regenerate it (annotation ${ownRegenerateAnnotation(access)}); until then the login keeps its previous password`,
      { kind: "never" },
    );
  }
  const password = decision.password === "keep" && current ? current : ctx.newPassword();
  const changedAt = decision.changedAt;
  const tokens = decision.handled;

  const input = { owner, access, endpoint: ctx.endpoint, database: ctx.database, username, password, passwordChangedAt: changedAt, handled: tokens };
  let desired = desiredSecret(input, existing);
  let written = existing;
  // A cached Secret that left others' labels or annotations out (too many) is written from a fresh read.
  if (existing !== undefined && metadataTrimmed(existing) && secretDiffers(existing, desired)) {
    const live = await kube.getSecret(namespace, name, { fresh: true });
    if (live !== undefined && controlledBy(live, owner)) desired = desiredSecret(input, live);
  }
  if (!existing) {
    try {
      written = await kube.createSecret(desired);
    } catch (err) {
      if (cachedOnly && isConflict(err)) throw new SecretNameTaken(`Secret ${namespace}/${name} exists`, { cause: err });
      throw err;
    }
  } else if (secretDiffers(existing, desired)) written = await kube.replaceSecret(desired);

  return {
    access,
    username,
    secretName: name,
    password,
    passwordChangedAt: changedAt,
    handledToken: tokens.last,
    change: decision.password,
    rotate: decision.rotate,
    secretVersion: written?.metadata?.resourceVersion ?? "",
  };
}
