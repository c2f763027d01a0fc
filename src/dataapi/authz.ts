// Whether a caller may do what a data API request asks: one SubjectAccessReview per distinct question,
// answers cached for a few seconds at most.
import type { KubeRequester } from "../kube/rest.ts";
import type { UserInfo } from "./authn.ts";

/** The group of the data API. */
export const DATA_GROUP = "data.workspacedb.io";
export const DATA_VERSION = "v1alpha1";

/** What a request does, as RBAC sees it. */
export interface ResourceAttributes {
  verb: "get" | "list";
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The answer: allowed, or why not (the reason the API server gave, possibly empty). */
export type Decision = { allowed: true } | { allowed: false; reason: string };

/** Options of {@link SubjectAccessReviewer}. */
export interface ReviewerOptions {
  /** How long an answer is reused; default 10 s (allowed) and 5 s (denied). */
  allowedTtlMs?: number;
  deniedTtlMs?: number;
  /** At most this many answers are kept; default 4,096 (the oldest go first). */
  maxEntries?: number;
  now?: () => number;
}

interface SubjectAccessReviewStatus {
  allowed?: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/**
 * Asks the API server with a SubjectAccessReview (verb, group data.workspacedb.io, resource,
 * subresource, namespace, name) whether `user` may do a request; identical questions within the TTL
 * share one review. An error reaching the API server is thrown (the request fails with 503), never
 * taken as an answer.
 */
export class SubjectAccessReviewer {
  readonly #kube: KubeRequester;
  readonly #allowedTtl: number;
  readonly #deniedTtl: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { decision: Decision; expires: number }>();
  readonly #inFlight = new Map<string, Promise<Decision>>();

  constructor(kube: KubeRequester, options: ReviewerOptions = {}) {
    this.#kube = kube;
    this.#allowedTtl = options.allowedTtlMs ?? 10_000;
    this.#deniedTtl = options.deniedTtlMs ?? 5_000;
    this.#max = options.maxEntries ?? 4096;
    this.#now = options.now ?? Date.now;
  }

  async review(user: UserInfo, attributes: ResourceAttributes): Promise<Decision> {
    const key = JSON.stringify([user.name, user.uid ?? "", [...user.groups].sort(), Object.entries(user.extra).sort(), attributes.verb,
      attributes.resource, attributes.subresource ?? "", attributes.namespace ?? "", attributes.name ?? ""]);
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.expires > this.#now()) return cached.decision;
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const asking = this.#ask(user, attributes).then((decision) => {
      this.#cache.delete(key);
      this.#cache.set(key, { decision, expires: this.#now() + (decision.allowed ? this.#allowedTtl : this.#deniedTtl) });
      while (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value!);
      return decision;
    }).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, asking);
    return asking;
  }

  async #ask(user: UserInfo, attributes: ResourceAttributes): Promise<Decision> {
    const review = await this.#kube.request<{ status?: SubjectAccessReviewStatus }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.name,
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          groups: user.groups,
          extra: user.extra,
          resourceAttributes: {
            group: DATA_GROUP,
            version: DATA_VERSION,
            verb: attributes.verb,
            resource: attributes.resource,
            ...(attributes.subresource === undefined ? {} : { subresource: attributes.subresource }),
            ...(attributes.namespace === undefined ? {} : { namespace: attributes.namespace }),
            ...(attributes.name === undefined ? {} : { name: attributes.name }),
          },
        },
      },
      context: "asking the API server whether a caller may use the data API (SubjectAccessReview)",
    });
    const status = review?.status ?? {};
    return status.allowed === true && status.denied !== true ? { allowed: true } : { allowed: false, reason: status.reason ?? "" };
  }
}
