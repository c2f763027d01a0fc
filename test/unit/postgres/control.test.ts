import { expect } from "chai";
import { LISTED_MAX, controlGap, controlGapMessage, type ControlFacts } from "../../../src/postgres/control.ts";

function facts(over: Partial<ControlFacts> = {}): ControlFacts {
  return { major: 18, admin: "new_admin", superuser: false, adminInherits: true, roles: [], databases: [], ...over };
}

const OLD_DB = { name: "d", owner: "old", ownerSafe: true };

describe("control gap (what workspaces own that the admin cannot manage)", () => {
  it("is null when the admin manages everything, or is a superuser", () => {
    expect(controlGap(facts())).to.equal(null);
    expect(controlGap(facts({ superuser: true, databases: [OLD_DB] }))).to.equal(null);
  });

  it("makes the admin an inheriting, non-SET member of the previous admin when that role administers every login and owns every database (16+)", () => {
    const gap = controlGap(facts({
      roles: [{ name: "d", administeredBy: ["old"] }, { name: "d_ro", administeredBy: ["old", "x"] }],
      databases: [OLD_DB],
    }))!;
    expect(gap.statement).to.equal('GRANT "old" TO "new_admin" WITH INHERIT TRUE, SET FALSE;');
    expect(gap.roles).to.deep.equal(["d", "d_ro"]);
    expect(gap.databases).to.deep.equal(["d"]);
  });

  it("uses the plain form before 16 (databases only: a CREATEROLE role manages every login there)", () => {
    expect(controlGap(facts({ major: 15, databases: [OLD_DB] }))!.statement).to.equal('GRANT "old" TO "new_admin";');
  });

  it("hands the databases over directly for a NOINHERIT admin before 16 (a membership would give it nothing)", () => {
    expect(controlGap(facts({ major: 15, adminInherits: false, databases: [OLD_DB] }))!.statement).to.equal('ALTER DATABASE "d" OWNER TO "new_admin";');
  });

  it("never suggests membership in a superuser or privileged owner: the database is handed over instead", () => {
    const gap = controlGap(facts({ databases: [{ name: "d", owner: "postgres", ownerSafe: false }] }))!;
    expect(gap.statement).to.equal('ALTER DATABASE "d" OWNER TO "new_admin";');
    expect(gap.statement).not.to.contain("GRANT");
  });

  it("grants ADMIN OPTION on the logins themselves after an upgrade (no role administers them)", () => {
    const gap = controlGap(facts({ admin: "workspacedb_admin", roles: [{ name: "a", administeredBy: [] }, { name: "a_ro", administeredBy: [] }] }))!;
    expect(gap.statement).to.equal('GRANT "a", "a_ro" TO "workspacedb_admin" WITH ADMIN OPTION;');
  });

  it("switches to DO blocks beyond LISTED_MAX, quoting the admin as a literal and skipping superusers and the admin's own members", () => {
    const roles = Array.from({ length: LISTED_MAX + 1 }, (_, i) => ({ name: `r${i}`, administeredBy: [] }));
    const databases = Array.from({ length: LISTED_MAX + 1 }, (_, i) => ({ name: `d${i}`, owner: "postgres", ownerSafe: false }));
    const gap = controlGap(facts({ admin: "o'admin", roles, databases }))!;
    expect(gap.statement).to.match(/^DO \$\$DECLARE r regrole; BEGIN FOR r IN SELECT oid::regrole FROM pg_roles WHERE NOT rolsuper /);
    expect(gap.statement).to.contain("'o''admin'");
    expect(gap.statement).to.contain("NOT pg_has_role(oid, 'o''admin', 'MEMBER')");
    expect(gap.statement).to.contain("WITH ADMIN OPTION");
    expect(gap.statement).to.contain("format('ALTER DATABASE %I OWNER TO %I', db, 'o''admin')");
    expect(gap.statement.length).to.be.below(1_500);
  });

  it("lists rather than loops for an admin whose name has a dollar sign (it could end the dollar quote)", () => {
    const roles = Array.from({ length: LISTED_MAX + 1 }, (_, i) => ({ name: `r${i}`, administeredBy: [] }));
    const gap = controlGap(facts({ admin: "a$$b", roles }))!;
    expect(gap.statement).not.to.contain("DO $$");
    expect(gap.statement).to.contain('TO "a$$b" WITH ADMIN OPTION;');
  });

  it("quotes hostile names and lists both kinds of fix when no single role covers the gap", () => {
    const gap = controlGap(facts({ roles: [{ name: 'x"; DROP ROLE y; --', administeredBy: [] }], databases: [{ name: 'd"b', owner: "o", ownerSafe: true }] }))!;
    expect(gap.statement).to.equal('GRANT "x""; DROP ROLE y; --" TO "new_admin" WITH ADMIN OPTION; ALTER DATABASE "d""b" OWNER TO "new_admin";');
  });

  it("says what is affected, that logins keep working, and ends with the statement", () => {
    const gap = controlGap(facts({ roles: Array.from({ length: 7 }, (_, i) => ({ name: `r${i}`, administeredBy: ["old"] })), databases: [OLD_DB] }))!;
    const message = controlGapMessage(gap, "new_admin");
    expect(message).to.contain("7 workspace login(s)");
    expect(message).to.contain("and 2 more");
    expect(message).to.contain("keep working");
    expect(message.endsWith(gap.statement)).to.equal(true);
  });
});
