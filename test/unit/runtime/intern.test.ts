// The informers' string pool: values unchanged, bounded, annotation values and long strings left out.
import { expect } from "chai";
import { StringPool, internStrings } from "../../../src/runtime/intern.ts";
import type { Secret } from "../../../src/kube/types.ts";

describe("internStrings", () => {
  const secret = (ns: string, name: string): Secret => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: ns,
      finalizers: ["example.com/keep"],
      labels: { "app.kubernetes.io/managed-by": "workspacedb-operator" },
      annotations: { "workspacedb.io/password-changed-at": "2026-12-07T10:00:00Z" },
      ownerReferences: [{ apiVersion: "workspacedb.io/v1alpha1", kind: "WorkspaceDatabase", name, uid: "u-1", controller: true }],
    },
    data: { password: "cGFzc3dvcmQ=" },
  });

  it("keeps every value and every other field, and does not change the object it was given", () => {
    const pool = new StringPool();
    const original = secret("team-a", "db-rw");
    const copy = structuredClone(original);
    const out = internStrings(original, pool);
    expect(out).to.deep.equal(copy);
    expect(original).to.deep.equal(copy);
    expect(out.data).to.equal(original.data);
  });

  it("pools the repeating strings once, not annotation values, names or uids", () => {
    const pool = new StringPool();
    internStrings(secret("team-a", "db-rw"), pool);
    const after = pool.size;
    // v1, Secret, team-a, the finalizer, the label key and value, the annotation key, the owner's apiVersion and kind.
    expect(after).to.equal(9);
    internStrings(secret("team-a", "other-rw"), pool);
    expect(pool.size).to.equal(after);
    internStrings(secret("team-b", "db-rw"), pool);
    expect(pool.size).to.equal(after + 1);
  });

  it("stays within its bound and never pools long strings (whoever labels an object chooses them)", () => {
    const pool = new StringPool(3);
    for (let i = 0; i < 10; i++) {
      internStrings({ metadata: { name: "x", namespace: `ns-${i}`, labels: { [`k${i}`]: "v".repeat(300) } } }, pool);
      expect(pool.size).to.be.at.most(3);
    }
    const big = new StringPool();
    expect(big.of("l".repeat(254))).to.equal("l".repeat(254));
    expect(big.size).to.equal(0);
  });

  it("keeps values of unexpected shapes as they are", () => {
    const odd = { apiVersion: 1, metadata: { name: "x", labels: null, finalizers: "f", ownerReferences: [null, { kind: 2 }], annotations: ["a"] } } as unknown as Secret;
    expect(internStrings(odd, new StringPool())).to.deep.equal(odd);
  });
});
