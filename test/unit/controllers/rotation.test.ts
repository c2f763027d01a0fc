// Unit tests of the pure parts of rotation and ownership: when a Secret's password still has to reach its role, and the adopt annotation.
import { expect } from "chai";
import type { WorkspaceDatabase } from "../../../src/api/types.ts";
import type { CredentialOutcome } from "../../../src/controllers/credentials.ts";
import { adoptableDatabases } from "../../../src/controllers/ownership.ts";
import { pendingChange } from "../../../src/controllers/rotation.ts";

function object(changedAt?: string): WorkspaceDatabase {
  return {
    apiVersion: "workspacedb.io/v1alpha1",
    kind: "WorkspaceDatabase",
    metadata: { name: "m", namespace: "ns" },
    spec: {},
    ...(changedAt === undefined ? {} : { status: { credentials: { readWrite: { secretName: "m-rw", username: "m", passwordChangedAt: changedAt } } } }),
  };
}

function outcome(overrides: Partial<CredentialOutcome> = {}): CredentialOutcome {
  return {
    access: "read-write", username: "m", secretName: "m-rw", password: "p", passwordChangedAt: "2026-11-28T10:00:00Z",
    handledToken: undefined, regenerated: false, recreated: false, secretVersion: "1", ...overrides,
  };
}

describe("controllers/rotation", () => {
  it("has nothing pending on first provisioning (the role is created with the password)", () => {
    expect(pendingChange(object(), outcome())).to.equal(false);
  });

  it("has nothing pending when status records the Secret's password", () => {
    expect(pendingChange(object("2026-11-28T10:00:00Z"), outcome())).to.equal(false);
  });

  it("is pending after a regeneration or re-creation in this pass, even within the same second", () => {
    expect(pendingChange(object(), outcome({ regenerated: true }))).to.equal(true);
    expect(pendingChange(object("2026-11-28T10:00:00Z"), outcome({ recreated: true }))).to.equal(true);
  });

  it("is pending when an earlier pass wrote a new password to the Secret but did not finish", () => {
    expect(pendingChange(object("2026-11-28T09:00:00Z"), outcome())).to.equal(true);
  });
});

describe("controllers/ownership: adoptableDatabases", () => {
  it("reads a comma or space separated list, ignoring empties", () => {
    expect([...adoptableDatabases({ "workspacedb.io/adopt": " a, b  c,,d " })]).to.deep.equal(["a", "b", "c", "d"]);
    expect(adoptableDatabases({}).size).to.equal(0);
    expect(adoptableDatabases({ "other.io/adopt": "a" }).size).to.equal(0);
  });
});
