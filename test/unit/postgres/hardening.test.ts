// Unit tests of the hardening report: what a non-superuser admin cannot lock down, per server version.
import { expect } from "chai";
import { hardeningItems, type HardeningFacts } from "../../../src/postgres/hardening.ts";

function facts(overrides: Partial<HardeningFacts> = {}): HardeningFacts {
  return {
    major: 18,
    admin: "workspacedb_admin",
    superuser: false,
    maintenanceDatabase: "postgres",
    maintenancePublicPrivileges: ["CONNECT", "TEMPORARY"],
    largeObjectsOpen: true,
    reservedConnections: 0,
    adminMayUseReserved: false,
    ...overrides,
  };
}

describe("postgres/hardening", () => {
  it("lists everything open on a default server, with the statements to run", () => {
    const items = hardeningItems(facts());
    expect(items.map((i) => i.name)).to.deep.equal(["large-objects", "maintenance-database", "reserved-connections"]);
    const maintenance = items.find((i) => i.name === "maintenance-database")!;
    expect(maintenance.statements).to.deep.equal(['REVOKE CONNECT, TEMPORARY ON DATABASE "postgres" FROM PUBLIC;', 'GRANT CONNECT ON DATABASE "postgres" TO "workspacedb_admin";']);
    expect(items.find((i) => i.name === "large-objects")!.statements.join("\n")).to.contain("REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea) FROM PUBLIC");
    expect(items.find((i) => i.name === "reserved-connections")!.statements).to.deep.equal([
      "ALTER SYSTEM SET reserved_connections = 3;  -- takes effect after a restart",
      'GRANT pg_use_reserved_connections TO "workspacedb_admin";',
    ]);
  });

  it("adds the public schema on 14 and has no reserved connections before 16", () => {
    expect(hardeningItems(facts({ major: 14 })).map((i) => i.name)).to.deep.equal(["public-schema", "large-objects", "maintenance-database"]);
    expect(hardeningItems(facts({ major: 15 })).map((i) => i.name)).to.deep.equal(["large-objects", "maintenance-database"]);
  });

  it("drops what a superuser already closed, and everything for a superuser admin", () => {
    expect(hardeningItems(facts({ maintenancePublicPrivileges: [], largeObjectsOpen: false, reservedConnections: 3, adminMayUseReserved: true }))).to.deep.equal([]);
    expect(hardeningItems(facts({ superuser: true }))).to.deep.equal([]);
  });

  it("quotes the admin role", () => {
    const items = hardeningItems(facts({ admin: 'we"ird' }));
    expect(items.find((i) => i.name === "maintenance-database")!.statements[1]).to.equal('GRANT CONNECT ON DATABASE "postgres" TO "we""ird";');
  });
});
