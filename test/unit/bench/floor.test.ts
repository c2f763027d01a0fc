// The benchmark's floor issues exactly the operator's plan for a fresh workspace, so P1's ratio cannot be gamed.
import { expect } from "chai";
import { floorStatements, freshState } from "../../../hack/bench/floor.ts";
import { planWorkspace } from "../../../src/postgres/plan.ts";
import type { DesiredWorkspace } from "../../../src/postgres/state.ts";
import { POSTGRES_VECTORS } from "../postgres/scram-vectors.ts";

describe("bench/floor", () => {
  const desired: DesiredWorkspace = {
    names: { database: "w0", readWrite: "w0", readOnly: "w0_ro" },
    owner: { namespace: "bench", name: "w0" },
    connectionLimit: 50,
    statementTimeout: "90min",
    idleInTransactionSessionTimeout: "5min",
    extensions: [],
    verifiers: { readWrite: () => POSTGRES_VECTORS[0]!.verifier, readOnly: () => POSTGRES_VECTORS[1]!.verifier },
  };

  it("issues the statements the operator plans for a workspace that does not exist yet", () => {
    for (const major of [14, 18]) {
      const floor = floorStatements("admin", major, desired).map((s) => s.sql);
      const operator = planWorkspace({ admin: "admin", major, database: null, readWrite: null, readOnly: null, inside: null }, desired).map((s) => s.sql);
      expect(floor).to.deep.equal(operator);
      expect(freshState("admin", major)).to.deep.equal({ admin: "admin", major, database: null, readWrite: null, readOnly: null, inside: null });
    }
    const floor = floorStatements("admin", 18, desired).map((s) => s.sql);
    expect(floor[0]).to.match(/^CREATE ROLE "w0" WITH LOGIN CONNECTION LIMIT 50 PASSWORD 'SCRAM-SHA-256\$/);
    expect(floor).to.have.length.at.least(20);
  });
});
