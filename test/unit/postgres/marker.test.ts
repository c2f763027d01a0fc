// Unit tests of ownership markers: the current format, the 0.1 format, and what is never a marker.
import { expect } from "chai";
import { formatMarker, marks, parseMarker } from "../../../src/postgres/marker.ts";

const OWNER = { namespace: "workspace-malaria", name: "malaria.db" };

describe("postgres/marker", () => {
  it("formats and parses the current format for each part", () => {
    for (const part of ["database", "read-write", "read-only"] as const) {
      const marker = formatMarker(OWNER, part);
      expect(marker).to.equal(`workspacedb.io/v2 owner=workspace-malaria/malaria.db part=${part}`);
      expect(parseMarker(marker)).to.deep.equal({ owner: OWNER, part, format: "current" });
      expect(marks(parseMarker(marker), OWNER, part)).to.equal(true);
    }
  });

  it("reads 0.1's database marker as the old format, which never proves ownership by itself", () => {
    const old = parseMarker("workspacedb.io/owner: workspace-malaria/malaria.db");
    expect(old).to.deep.equal({ owner: OWNER, part: "database", format: "0.1" });
    expect(marks(old, OWNER, "database")).to.equal(false);
  });

  it("tells owners and parts apart", () => {
    const marker = parseMarker(formatMarker(OWNER, "read-only"));
    expect(marks(marker, OWNER, "read-write")).to.equal(false);
    expect(marks(marker, { namespace: "workspace-malaria", name: "other" }, "read-only")).to.equal(false);
    expect(marks(marker, { namespace: "other", name: "malaria.db" }, "read-only")).to.equal(false);
    expect(marks(null, OWNER, "read-only")).to.equal(false);
  });

  it("returns null for absent, foreign or malformed comments", () => {
    for (const comment of [
      null,
      "",
      "created by hand",
      "workspacedb.io/owner: ",
      "workspacedb.io/owner: ns",
      "workspacedb.io/owner: ns/",
      "workspacedb.io/owner: /name",
      "workspacedb.io/owner: ns/name/extra",
      "workspacedb.io/owner: ns/name ",
      " workspacedb.io/owner: ns/name",
      "workspacedb.io/owner: NS/name",
      "workspacedb.io/owner: ns/na'me",
      "workspacedb.io/owner: ns/name\nworkspacedb.io/owner: other/x",
      "other.io/owner: ns/name",
      "workspacedb.io/v2 owner=ns/name part=admin",
      "workspacedb.io/v2 owner=ns/name part=database ",
      "workspacedb.io/v2 owner=ns/name",
      "workspacedb.io/v2 owner=NS/name part=database",
      "workspacedb.io/v2 owner=ns/na me part=database",
      "workspacedb.io/v2 owner=ns/name part=database\nworkspacedb.io/v2 owner=x/y part=database",
      "workspacedb.io/v3 owner=ns/name part=database",
    ]) {
      expect(parseMarker(comment), JSON.stringify(comment)).to.equal(null);
    }
  });

  it("refuses to format invalid Kubernetes names", () => {
    expect(() => formatMarker({ namespace: "a/b", name: "c" }, "database")).to.throw();
    expect(() => formatMarker({ namespace: "ns", name: "x'; DROP" }, "database")).to.throw();
    expect(() => formatMarker({ namespace: "n".repeat(64), name: "x" }, "database")).to.throw();
    expect(() => formatMarker({ namespace: "ns", name: "" }, "database")).to.throw();
    expect(() => formatMarker({ namespace: "ns", name: "a part=read-only" }, "database")).to.throw();
  });
});
