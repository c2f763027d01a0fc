// Unit tests of the ownership decision: every attack on names, adoption, 0.1 migration, and what deletion may touch.
import { expect } from "chai";
import { decideClaim, ownedParts, unadoptableRole, type ClaimFacts, type ClaimRequest, type RoleFacts } from "../../../src/postgres/claim.ts";
import { formatMarker } from "../../../src/postgres/marker.ts";

const A = { namespace: "team-a", name: "malaria" };
const B = { namespace: "team-b", name: "thief" };
const NAMES = { database: "malaria", readWrite: "malaria", readOnly: "malaria_ro" };

function role(overrides: Partial<RoleFacts> = {}): RoleFacts {
  return {
    comment: null, superuser: false, createRole: false, createDb: false, replication: false, bypassRls: false, isCurrentUser: false, memberOf: [],
    canLogin: true, members: [], usedElsewhere: [], ...overrides,
  };
}
function db(comment: string | null, overrides: Partial<NonNullable<ClaimFacts["database"]>> = {}): NonNullable<ClaimFacts["database"]> {
  return { comment, isTemplate: false, allowConnections: true, isMaintenance: false, owner: "workspacedb_admin", adminActsAsOwner: true, ...overrides };
}
function request(overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return { owner: A, names: NAMES, named: false, adoptionAllowed: false, adminRoles: new Set(["workspacedb_admin"]), adminRole: "workspacedb_admin", ...overrides };
}
const ours = {
  database: db(formatMarker(A, "database")),
  readWrite: role({ comment: formatMarker(A, "read-write") }),
  readOnly: role({ comment: formatMarker(A, "read-only") }),
};
const LEGACY = "workspacedb.io/owner: team-a/malaria";

describe("postgres/claim", () => {
  describe("decideClaim", () => {
    it("claims nothing-yet and everything-marked-for-it without writing markers", () => {
      expect(decideClaim({ database: null, readWrite: null, readOnly: null }, request())).to.deep.equal({ kind: "ours", how: "owned", mark: [] });
      expect(decideClaim(ours, request())).to.deep.equal({ kind: "ours", how: "owned", mark: [] });
    });

    it("attack: the server's admin role as databaseName (no database of that name) is a conflict", () => {
      const names = { database: "workspacedb_admin", readWrite: "workspacedb_admin", readOnly: "workspacedb_admin_ro" };
      const claim = decideClaim({ database: null, readWrite: role({ isCurrentUser: true, createRole: true, createDb: true }), readOnly: null }, request({ names, owner: B, named: true }));
      expect(claim.kind).to.equal("conflict");
    });

    it("attack: a role made by hand as databaseName is a conflict, even with the Namespace annotation", () => {
      const names = { database: "superset", readWrite: "superset", readOnly: "superset_ro" };
      const claim = decideClaim({ database: null, readWrite: role(), readOnly: null }, request({ names, owner: B, named: true, adoptionAllowed: true }));
      expect(claim).to.deep.include({ kind: "conflict" });
      expect(claim.kind === "conflict" && claim.message).to.match(/"superset".*never taken over/);
    });

    it("attack: another workspace's login (marked for it) is a conflict, naming the owner", () => {
      const claim = decideClaim(ours, request({ owner: B, named: true, adoptionAllowed: true }));
      expect(claim.kind === "conflict" && claim.message).to.match(/team-a\/malaria/);
      const onlyRole = decideClaim({ database: null, readWrite: null, readOnly: role({ comment: formatMarker(A, "read-only") }) }, request({ owner: B }));
      expect(onlyRole.kind === "conflict" && onlyRole.message).to.match(/role "malaria_ro" belongs to WorkspaceDatabase team-a\/malaria/);
    });

    it("attack: a role marked as another part of the same object is a conflict", () => {
      const claim = decideClaim({ database: null, readWrite: role({ comment: formatMarker(A, "read-only") }), readOnly: null }, request());
      expect(claim.kind).to.equal("conflict");
    });

    it("a database of another WorkspaceDatabase is a conflict, in either marker format", () => {
      expect(decideClaim({ ...ours }, request({ owner: B })).kind).to.equal("conflict");
      expect(decideClaim({ database: db(LEGACY), readWrite: null, readOnly: null }, request({ owner: B, named: true, adoptionAllowed: true })).kind).to.equal("conflict");
    });

    it("an unmarked role next to our database is a conflict (re-created by hand)", () => {
      const claim = decideClaim({ ...ours, readOnly: role() }, request());
      expect(claim.kind === "conflict" && claim.message).to.match(/malaria_ro/);
    });

    it("an unmarked database next to our own marked login is ours (crash between CREATE DATABASE and COMMENT)", () => {
      expect(decideClaim({ ...ours, database: db(null) }, request())).to.deep.equal({ kind: "ours", how: "owned", mark: ["database"] });
      expect(decideClaim({ database: db(null), readWrite: null, readOnly: ours.readOnly }, request()).kind).to.equal("conflict");
      // Not if someone else owns it (made between our CREATE ROLE and CREATE DATABASE).
      expect(decideClaim({ ...ours, database: db(null, { owner: "someone", adminActsAsOwner: false }) }, request()).kind).to.equal("conflict");
    });

    describe("adoption", () => {
      const openhexa = { database: db("OpenHEXA workspace"), readWrite: role(), readOnly: role() };

      it("needs spec.databaseName and the Namespace annotation", () => {
        const implicit = decideClaim(openhexa, request({ adoptionAllowed: true }));
        expect(implicit.kind === "conflict" && implicit.message).to.match(/set spec\.databaseName: malaria.*workspacedb\.io\/adopt: malaria/);
        const unannotated = decideClaim(openhexa, request({ named: true }));
        expect(unannotated.kind === "conflict" && unannotated.message).to.match(/annotation workspacedb\.io\/adopt: malaria on namespace team-a/);
      });

      it("adopts a plain database and its plain logins, marking the roles before the database", () => {
        expect(decideClaim(openhexa, request({ named: true, adoptionAllowed: true }))).to.deep.equal({ kind: "ours", how: "adopted", mark: ["read-write", "read-only", "database"] });
        expect(decideClaim({ ...openhexa, readOnly: null }, request({ named: true, adoptionAllowed: true }))).to.deep.equal({ kind: "ours", how: "adopted", mark: ["read-write", "database"] });
      });

      for (const [what, facts] of [
        ["CREATEROLE", role({ createRole: true })],
        ["SUPERUSER", role({ superuser: true })],
        ["CREATEDB", role({ createDb: true })],
        ["REPLICATION", role({ replication: true })],
        ["BYPASSRLS", role({ bypassRls: true })],
        ["a member of", role({ memberOf: ["rds_superuser"] })],
        ["admin role", role({ isCurrentUser: true })],
        ["NOLOGIN", role({ canLogin: false })],
        ["has members", role({ members: ["alice"] })],
        ["outside its database", role({ usedElsewhere: ["finance"] })],
      ] as const) {
        it(`refuses a role with ${what}`, () => {
          const claim = decideClaim({ ...openhexa, readOnly: facts }, request({ named: true, adoptionAllowed: true }));
          expect(claim.kind === "conflict" && claim.message).to.contain(what);
        });
      }

      it("refuses a database owned by a third role the admin does not act as (nothing would be marked half-way)", () => {
        const facts = { ...openhexa, database: db(null, { owner: "legacy_owner", adminActsAsOwner: false }) };
        const claim = decideClaim(facts, request({ named: true, adoptionAllowed: true }));
        expect(claim.kind === "conflict" && claim.message).to.contain(`ALTER DATABASE "malaria" OWNER TO "workspacedb_admin"`);
        const ownedByLogin = { ...openhexa, database: db(null, { owner: "malaria", adminActsAsOwner: false }) };
        expect(decideClaim(ownedByLogin, request({ named: true, adoptionAllowed: true })).kind).to.equal("ours");
      });

      it("refuses another server's admin role by name", () => {
        const claim = decideClaim({ ...openhexa, readWrite: role() }, request({ named: true, adoptionAllowed: true, adminRoles: new Set(["malaria"]) }));
        expect(claim.kind === "conflict" && claim.message).to.match(/admin role/);
      });

      it("never adopts the maintenance database, templates or databases that do not allow connections", () => {
        for (const database of [db(null, { isMaintenance: true }), db(null, { isTemplate: true }), db(null, { allowConnections: false })]) {
          expect(decideClaim({ database, readWrite: null, readOnly: null }, request({ named: true, adoptionAllowed: true })).kind).to.equal("conflict");
        }
        const names = { database: "template1", readWrite: "template1", readOnly: "template1_ro" };
        expect(decideClaim({ database: db(null), readWrite: null, readOnly: null }, request({ names, named: true, adoptionAllowed: true })).kind).to.equal("conflict");
      });
    });

    describe("migration from 0.1", () => {
      it("marks the plain roles of a database with this object's 0.1 marker, then the database", () => {
        const facts = { database: db(LEGACY), readWrite: role(), readOnly: role() };
        expect(decideClaim(facts, request())).to.deep.equal({ kind: "ours", how: "migrated", mark: ["read-write", "read-only", "database"] });
      });

      it("finishes a half-done migration", () => {
        const facts = { database: db(LEGACY), readWrite: ours.readWrite, readOnly: role() };
        expect(decideClaim(facts, request())).to.deep.equal({ kind: "ours", how: "migrated", mark: ["read-only", "database"] });
        expect(decideClaim({ ...ours, database: db(LEGACY) }, request())).to.deep.equal({ kind: "ours", how: "owned", mark: ["database"] });
      });

      it("refuses roles that fail the role test (0.1 let a name take over the admin role)", () => {
        const facts = { database: db(LEGACY), readWrite: role({ createRole: true, createDb: true, isCurrentUser: true }), readOnly: null };
        expect(decideClaim(facts, request()).kind).to.equal("conflict");
      });
    });
  });

  describe("ownedParts", () => {
    const admins = new Set(["workspacedb_admin"]);
    it("is everything marked for the object", () => {
      expect([...ownedParts(ours, A, admins, NAMES, "workspacedb_admin")].sort()).to.deep.equal(["database", "read-only", "read-write"]);
    });

    it("is nothing of another object's, nor an unmarked role", () => {
      expect(ownedParts(ours, B, admins, NAMES, "workspacedb_admin").size).to.equal(0);
      expect(ownedParts({ database: null, readWrite: role(), readOnly: role({ isCurrentUser: true }) }, A, admins, NAMES, "workspacedb_admin").size).to.equal(0);
      expect(ownedParts({ database: db("by hand"), readWrite: role(), readOnly: null }, A, admins, NAMES, "workspacedb_admin").size).to.equal(0);
    });

    it("covers a 0.1 workspace deleted before it was migrated, under the role test", () => {
      const facts = { database: db(LEGACY), readWrite: role(), readOnly: role({ createRole: true }) };
      expect([...ownedParts(facts, A, admins, NAMES, "workspacedb_admin")].sort()).to.deep.equal(["database", "read-write"]);
    });

    it("covers our unmarked database next to our marked login", () => {
      expect([...ownedParts({ ...ours, database: db(null) }, A, admins, NAMES, "workspacedb_admin")].sort()).to.deep.equal(["database", "read-only", "read-write"]);
    });
  });

  it("unadoptableRole lists every attribute", () => {
    expect(unadoptableRole("x", role({ superuser: true, bypassRls: true }), new Set())).to.equal('role "x" has SUPERUSER, BYPASSRLS');
    expect(unadoptableRole("x", role(), new Set())).to.equal(null);
  });
});
