import { expect } from "chai";
import { LISTED_ROLES_MAX, controlGap, controlGapMessage, type ControlFacts } from "../../../src/postgres/control.ts";

function facts(over: Partial<ControlFacts> = {}): ControlFacts {
  return { major: 18, admin: "new_admin", superuser: false, roles: [], databases: [], ...over };
}

describe("control gap (what workspaces own that the admin cannot manage)", () => {
  it("is null when the admin manages everything, or is a superuser", () => {
    expect(controlGap(facts())).to.equal(null);
    expect(controlGap(facts({ superuser: true, databases: [{ name: "d", owner: "old" }] }))).to.equal(null);
  });

  it("makes the admin a member of the previous admin when that role administers every login and owns every database", () => {
    const gap = controlGap(facts({
      roles: [{ name: "d", administeredBy: ["old"] }, { name: "d_ro", administeredBy: ["old", "x"] }],
      databases: [{ name: "d", owner: "old" }],
    }))!;
    expect(gap.statement).to.equal('GRANT "old" TO "new_admin" WITH INHERIT TRUE;');
    expect(gap.roles).to.deep.equal(["d", "d_ro"]);
    expect(gap.databases).to.deep.equal(["d"]);
  });

  it("uses the plain form before 16 (databases only: a CREATEROLE role manages every login there)", () => {
    expect(controlGap(facts({ major: 15, databases: [{ name: "d", owner: "old" }] }))!.statement).to.equal('GRANT "old" TO "new_admin";');
  });

  it("grants ADMIN OPTION on the logins themselves after an upgrade (no role administers them)", () => {
    const gap = controlGap(facts({ admin: "workspacedb_admin", roles: [{ name: "a", administeredBy: [] }, { name: "a_ro", administeredBy: [] }] }))!;
    expect(gap.statement).to.equal('GRANT "a", "a_ro" TO "workspacedb_admin" WITH ADMIN OPTION;');
  });

  it("switches to a DO block over the marked logins beyond LISTED_ROLES_MAX, quoting the admin as a literal", () => {
    const roles = Array.from({ length: LISTED_ROLES_MAX + 1 }, (_, i) => ({ name: `r${i}`, administeredBy: [] }));
    const gap = controlGap(facts({ admin: "o'admin", roles }))!;
    expect(gap.statement).to.match(/^DO \$\$DECLARE r regrole; BEGIN FOR r IN SELECT oid::regrole FROM pg_roles/);
    expect(gap.statement).to.contain("'o''admin'");
    expect(gap.statement).to.contain("WITH ADMIN OPTION");
  });

  it("quotes hostile names and lists both kinds of fix when no single role covers the gap", () => {
    const gap = controlGap(facts({ roles: [{ name: 'x"; DROP ROLE y; --', administeredBy: [] }], databases: [{ name: "d", owner: 'o"wner' }] }))!;
    expect(gap.statement).to.equal('GRANT "x""; DROP ROLE y; --" TO "new_admin" WITH ADMIN OPTION; GRANT "o""wner" TO "new_admin" WITH INHERIT TRUE;');
  });

  it("says what is affected, that logins keep working, and ends with the statement", () => {
    const gap = controlGap(facts({ roles: Array.from({ length: 7 }, (_, i) => ({ name: `r${i}`, administeredBy: ["old"] })), databases: [{ name: "d", owner: "old" }] }))!;
    const message = controlGapMessage(gap, "new_admin");
    expect(message).to.contain("7 workspace login(s)");
    expect(message).to.contain("and 2 more");
    expect(message).to.contain("keep working");
    expect(message.endsWith(gap.statement)).to.equal(true);
  });
});
