// SubjectAccessReviews of the data API: the question asked, and a short, bounded cache of answers.
import { expect } from "chai";
import { SubjectAccessReviewer } from "../../../src/dataapi/authz.ts";
import type { KubeRequester, Method, RequestOptions } from "../../../src/kube/rest.ts";

class FakeApi implements KubeRequester {
  readonly asked: unknown[] = [];
  allowed = true;
  fail = false;
  async request<T>(_method: Method, _path: string, options?: RequestOptions): Promise<T> {
    this.asked.push(options?.body);
    if (this.fail) throw new Error("connection refused");
    return { status: this.allowed ? { allowed: true } : { allowed: false, reason: "no RBAC rule" } } as T;
  }
}

const alice = { name: "alice", groups: ["team", "system:authenticated"], extra: { scopes: ["x"] } };

describe("SubjectAccessReviewer", () => {
  it("asks about the caller, the verb, the data API resource, subresource, namespace and name", async () => {
    const api = new FakeApi();
    const decision = await new SubjectAccessReviewer(api).review(alice, { verb: "get", resource: "workspacetables", subresource: "preview", namespace: "ns", name: "db.public.t" });
    expect(decision).to.deep.equal({ allowed: true });
    expect(api.asked).to.deep.equal([{
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: "alice",
        groups: ["team", "system:authenticated"],
        extra: { scopes: ["x"] },
        resourceAttributes: { group: "data.workspacedb.io", version: "v1alpha1", verb: "get", resource: "workspacetables", subresource: "preview", namespace: "ns", name: "db.public.t" },
      },
    }]);
  });

  it("reuses an answer for the same question until it expires, and never across callers or objects", async () => {
    const api = new FakeApi();
    let now = 0;
    const reviewer = new SubjectAccessReviewer(api, { now: () => now });
    const q = { verb: "list" as const, resource: "workspacetables", namespace: "ns" };
    await reviewer.review(alice, q);
    await reviewer.review(alice, q);
    expect(api.asked).to.have.length(1);
    await reviewer.review({ ...alice, groups: ["other"] }, q);
    await reviewer.review(alice, { ...q, namespace: "other" });
    expect(api.asked).to.have.length(3);
    api.allowed = false;
    now = 10_001;
    expect(await reviewer.review(alice, q)).to.deep.equal({ allowed: false, reason: "no RBAC rule" });
    now = 15_000;
    await reviewer.review(alice, q);
    expect(api.asked).to.have.length(4);
    now = 15_002;
    await reviewer.review(alice, q);
    expect(api.asked).to.have.length(5);
  });

  it("keeps at most maxEntries answers, and takes no failure for an answer", async () => {
    const api = new FakeApi();
    const reviewer = new SubjectAccessReviewer(api, { maxEntries: 2 });
    for (const ns of ["a", "b", "c", "a"]) await reviewer.review(alice, { verb: "list", resource: "workspacetables", namespace: ns });
    expect(api.asked).to.have.length(4);
    api.fail = true;
    let failed = false;
    await reviewer.review(alice, { verb: "list", resource: "workspacetables", namespace: "d" }).catch(() => (failed = true));
    expect(failed).to.equal(true);
    await reviewer.review(alice, { verb: "list", resource: "workspacetables", namespace: "d" }).catch(() => undefined);
    expect(api.asked).to.have.length(6);
  });
});
