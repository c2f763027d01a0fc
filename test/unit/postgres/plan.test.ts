// Unit tests of the pure planner: fresh workspace, everything in place, and each single drift.
import { expect } from "chai";
import { PostgresError } from "../../../src/postgres/errors.ts";
import { formatMarker } from "../../../src/postgres/marker.ts";
import { GRANT_BATCH_SIZE, misplacedExtensions, planWorkspace } from "../../../src/postgres/plan.ts";
import type { DesiredWorkspace, WorkspaceState } from "../../../src/postgres/state.ts";
import { POSTGRES_VECTORS } from "./scram-vectors.ts";

const V_RW = POSTGRES_VECTORS[0]!.verifier;
const V_RO = POSTGRES_VECTORS[1]!.verifier;

function desired(overrides: Partial<DesiredWorkspace> = {}): DesiredWorkspace {
  return {
    names: { database: "malaria", readWrite: "malaria", readOnly: "malaria_ro" },
    owner: { namespace: "ws-malaria", name: "malaria" },
    connectionLimit: 50,
    statementTimeout: "90min",
    idleInTransactionSessionTimeout: "5min",
    extensions: [],
    verifiers: { readWrite: () => V_RW, readOnly: () => V_RO },
    ...overrides,
  };
}

const OWNER = { namespace: "ws-malaria", name: "malaria" };
const DB_MARKER = formatMarker(OWNER, "database");
const RW_MARKER = formatMarker(OWNER, "read-write");
const RO_MARKER = formatMarker(OWNER, "read-only");

function healthy(): WorkspaceState {
  return {
    admin: "admin",
    major: 18,
    database: {
      owner: "admin",
      comment: DB_MARKER,
      connectionLimit: 50,
      settings: { statement_timeout: "90min", idle_in_transaction_session_timeout: "5min" },
      publicPrivileges: [],
      readWritePrivileges: ["CONNECT", "CREATE", "TEMPORARY"],
      readOnlyPrivileges: ["CONNECT"],
      adminCanConnect: true,
    },
    readWrite: { comment: RW_MARKER, canLogin: true, connectionLimit: 50, config: {}, databaseConfig: {}, adminIsMember: true },
    readOnly: { comment: RO_MARKER, canLogin: true, connectionLimit: 50, config: { default_transaction_read_only: "on" }, databaseConfig: {}, adminIsMember: true },
    inside: {
      publicSchema: { publicCanCreate: false, adminControls: true, actAs: null, readWriteCanUse: true, readWriteCanCreate: true, readWriteGranted: true },
      schemasWithoutReadOnlyUsage: [],
      tablesWithoutReadOnlySelect: [],
      sequencesWithoutReadOnlySelect: [],
      defaultPrivileges: {
        readWrite: { tables: true, sequences: true, schemas: true },
        admin: { tables: true, sequences: true, schemas: true },
      },
      extensions: [{ name: "plpgsql", schema: "pg_catalog" }],
      extensionsSchema: null,
    },
  };
}

function sqlOf(state: WorkspaceState, want = desired()): string[] {
  return planWorkspace(state, want).map((s) => s.sql);
}

describe("postgres/plan", () => {
  it("plans the whole workspace for a fresh server, in a safe order", () => {
    const fresh: WorkspaceState = { admin: "admin", major: 18, database: null, readWrite: null, readOnly: null, inside: null };
    const plan = planWorkspace(fresh, desired({ extensions: ["postgis"] }));
    expect(plan.map((s) => [s.database, s.sql])).to.deep.equal([
      [null, `CREATE ROLE "malaria" WITH LOGIN CONNECTION LIMIT 50 PASSWORD '${V_RW}'; COMMENT ON ROLE "malaria" IS '${RW_MARKER}'`],
      [null, 'GRANT "malaria" TO "admin" WITH INHERIT TRUE, SET FALSE'],
      [null, `CREATE ROLE "malaria_ro" WITH LOGIN CONNECTION LIMIT 50 PASSWORD '${V_RO}'; COMMENT ON ROLE "malaria_ro" IS '${RO_MARKER}'`],
      [null, 'GRANT "malaria_ro" TO "admin" WITH INHERIT TRUE, SET FALSE'],
      [null, 'ALTER ROLE "malaria_ro" SET default_transaction_read_only = on'],
      [null, 'CREATE DATABASE "malaria" TEMPLATE template0'],
      [null, `COMMENT ON DATABASE "malaria" IS '${DB_MARKER}'`],
      [null, 'REVOKE ALL ON DATABASE "malaria" FROM PUBLIC'],
      [null, 'ALTER DATABASE "malaria" WITH CONNECTION LIMIT 50'],
      [null, `ALTER DATABASE "malaria" SET statement_timeout = '90min'`],
      [null, `ALTER DATABASE "malaria" SET idle_in_transaction_session_timeout = '5min'`],
      [null, `ALTER DATABASE "malaria" SET search_path = "$user", "public", "extensions"`],
      [null, 'GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "malaria" TO "malaria"'],
      [null, 'GRANT CONNECT ON DATABASE "malaria" TO "malaria_ro"'],
      ["malaria", 'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC'],
      ["malaria", 'GRANT ALL ON SCHEMA "public" TO "malaria"'],
      ["malaria", 'ALTER DEFAULT PRIVILEGES FOR ROLE "malaria" GRANT SELECT ON TABLES TO "malaria_ro"'],
      ["malaria", 'ALTER DEFAULT PRIVILEGES FOR ROLE "malaria" GRANT SELECT ON SEQUENCES TO "malaria_ro"'],
      ["malaria", 'ALTER DEFAULT PRIVILEGES FOR ROLE "malaria" GRANT USAGE ON SCHEMAS TO "malaria_ro"'],
      ["malaria", 'ALTER DEFAULT PRIVILEGES FOR ROLE "admin" GRANT SELECT ON TABLES TO "malaria_ro"'],
      ["malaria", 'ALTER DEFAULT PRIVILEGES FOR ROLE "admin" GRANT SELECT ON SEQUENCES TO "malaria_ro"'],
      ["malaria", 'ALTER DEFAULT PRIVILEGES FOR ROLE "admin" GRANT USAGE ON SCHEMAS TO "malaria_ro"'],
      ["malaria", 'GRANT USAGE ON SCHEMA "public" TO "malaria_ro"'],
      ["malaria", 'CREATE SCHEMA "extensions"'],
      ["malaria", 'GRANT USAGE ON SCHEMA "extensions" TO "malaria"'],
      ["malaria", 'GRANT USAGE ON SCHEMA "extensions" TO "malaria_ro"'],
      ["malaria", 'CREATE EXTENSION IF NOT EXISTS "postgis" SCHEMA "extensions"'],
    ]);
    for (const s of plan) expect(s.summary).to.not.include("SCRAM");
  });

  it("plans nothing when everything is in place", () => {
    expect(planWorkspace(healthy(), desired())).to.deep.equal([]);
  });

  it("accepts other spellings of on for default_transaction_read_only", () => {
    const state = healthy();
    state.readOnly!.config = { ...state.readOnly!.config, default_transaction_read_only: "true" };
    expect(sqlOf(state)).to.deep.equal([]);
  });

  const drifts: [string, (s: WorkspaceState) => void, string[], Partial<DesiredWorkspace>?][] = [
    ["a missing SELECT on one table", (s) => { s.inside!.tablesWithoutReadOnlySelect.push({ schema: "public", name: "t", grantable: true }); },
      ['GRANT SELECT ON TABLE "public"."t" TO "malaria_ro"']],
    ["a missing SELECT on a sequence", (s) => { s.inside!.sequencesWithoutReadOnlySelect.push({ schema: "s", name: "q", grantable: true }); },
      ['GRANT SELECT ON SEQUENCE "s"."q" TO "malaria_ro"']],
    ["a missing USAGE on two schemas", (s) => {
      s.inside!.schemasWithoutReadOnlyUsage.push({ schema: "a", name: "a", grantable: true }, { schema: "b", name: "b", grantable: true });
    }, ['GRANT USAGE ON SCHEMA "a", "b" TO "malaria_ro"']],
    ["objects the admin cannot grant on (skipped)", (s) => {
      s.inside!.tablesWithoutReadOnlySelect.push({ schema: "public", name: "foreign", grantable: false });
      s.inside!.schemasWithoutReadOnlyUsage.push({ schema: "x", name: "x", grantable: false });
    }, []],
    ["PUBLIC allowed to connect again", (s) => { s.database!.publicPrivileges = ["CONNECT", "TEMPORARY"]; },
      ['REVOKE ALL ON DATABASE "malaria" FROM PUBLIC']],
    ["PUBLIC allowed to create in public", (s) => { s.inside!.publicSchema!.publicCanCreate = true; },
      ['REVOKE CREATE ON SCHEMA "public" FROM PUBLIC']],
    ["rw lost CREATE on public", (s) => { s.inside!.publicSchema!.readWriteCanCreate = false; s.inside!.publicSchema!.readWriteGranted = false; },
      ['GRANT ALL ON SCHEMA "public" TO "malaria"']],
    ["rw creates in public only through PUBLIC (revoked and granted in one plan)", (s) => {
      s.inside!.publicSchema!.publicCanCreate = true;
      s.inside!.publicSchema!.readWriteGranted = false;
    }, ['REVOKE CREATE ON SCHEMA "public" FROM PUBLIC', 'GRANT ALL ON SCHEMA "public" TO "malaria"']],
    ["a public schema the admin does not control, where rw may create (PostgreSQL 14)", (s) => {
      s.inside!.publicSchema!.adminControls = false;
      s.inside!.publicSchema!.readWriteGranted = false;
    }, []],
    ["PUBLIC may create in public, owned by the bootstrap superuser (PostgreSQL 14: reported in status.hardening, not retried)", (s) => {
      s.inside!.publicSchema!.publicCanCreate = true;
      s.inside!.publicSchema!.adminControls = false;
    }, []],
    ["no public schema (nothing to do there)", (s) => { s.inside!.publicSchema = null; }, []],
    ["rw lost TEMPORARY", (s) => { s.database!.readWritePrivileges = ["CONNECT", "CREATE"]; },
      ['GRANT TEMPORARY ON DATABASE "malaria" TO "malaria"']],
    ["ro lost CONNECT", (s) => { s.database!.readOnlyPrivileges = []; },
      ['GRANT CONNECT ON DATABASE "malaria" TO "malaria_ro"']],
    ["ro was given CREATE and TEMPORARY", (s) => { s.database!.readOnlyPrivileges = ["CONNECT", "CREATE", "TEMPORARY"]; },
      ['REVOKE CREATE, TEMPORARY ON DATABASE "malaria" FROM "malaria_ro"']],
    ["a changed connection limit", (s) => { s.database!.connectionLimit = -1; },
      ['ALTER DATABASE "malaria" WITH CONNECTION LIMIT 50']],
    ["a changed statement timeout", (s) => { s.database!.settings = { ...s.database!.settings, statement_timeout: "0" }; },
      [`ALTER DATABASE "malaria" SET statement_timeout = '90min'`]],
    ["a missing idle timeout", (s) => { const { idle_in_transaction_session_timeout: _gone, ...rest } = s.database!.settings; s.database!.settings = rest; },
      [`ALTER DATABASE "malaria" SET idle_in_transaction_session_timeout = '5min'`]],
    ["a new spec timeout", () => undefined, [`ALTER DATABASE "malaria" SET statement_timeout = '30s'`], { statementTimeout: "30s" }],
    ["ro read-only default removed", (s) => { s.readOnly!.config = {}; },
      ['ALTER ROLE "malaria_ro" SET default_transaction_read_only = on']],
    ["ro read-only default overridden in the database", (s) => { s.readOnly!.databaseConfig = { default_transaction_read_only: "off" }; },
      ['ALTER ROLE "malaria_ro" IN DATABASE "malaria" RESET default_transaction_read_only']],
    ["a disabled rw login (Retain, then applied again)", (s) => { s.readWrite!.canLogin = false; },
      [`ALTER ROLE "malaria" WITH LOGIN PASSWORD '${V_RW}'`]],
    ["a missing ro login", (s) => { s.readOnly = null; }, [
      `CREATE ROLE "malaria_ro" WITH LOGIN CONNECTION LIMIT 50 PASSWORD '${V_RO}'; COMMENT ON ROLE "malaria_ro" IS '${RO_MARKER}'`,
      'GRANT "malaria_ro" TO "admin" WITH INHERIT TRUE, SET FALSE',
      'ALTER ROLE "malaria_ro" SET default_transaction_read_only = on',
    ]],
    ["admin no longer member of rw", (s) => { s.readWrite!.adminIsMember = false; }, ['GRANT "malaria" TO "admin" WITH INHERIT TRUE, SET FALSE']],
    ["a missing default privilege of rw on sequences", (s) => { s.inside!.defaultPrivileges.readWrite.sequences = false; },
      ['ALTER DEFAULT PRIVILEGES FOR ROLE "malaria" GRANT SELECT ON SEQUENCES TO "malaria_ro"']],
    ["a missing default privilege of admin on schemas", (s) => { s.inside!.defaultPrivileges.admin.schemas = false; },
      ['ALTER DEFAULT PRIVILEGES FOR ROLE "admin" GRANT USAGE ON SCHEMAS TO "malaria_ro"']],
    ["a new extension (schema and search_path in place)", (s) => {
      s.database!.settings = { ...s.database!.settings, search_path: '"$user", public, extensions' };
      s.inside!.extensionsSchema = { owner: "admin", othersCanCreate: false, readWriteCanUse: true };
    }, ['CREATE EXTENSION IF NOT EXISTS "postgis" SCHEMA "extensions"'], { extensions: ["plpgsql", "postgis"] }],
    ["the extensions schema's USAGE revoked from rw", (s) => {
      s.database!.settings = { ...s.database!.settings, search_path: '"$user", public, extensions' };
      s.inside!.extensionsSchema = { owner: "admin", othersCanCreate: false, readWriteCanUse: false };
      s.inside!.extensions.push({ name: "pg_trgm", schema: "extensions" });
    }, ['GRANT USAGE ON SCHEMA "extensions" TO "malaria"'], { extensions: ["pg_trgm"] }],
    ["an extension of 0.1 in schema public (left there)", (s) => {
      s.database!.settings = { ...s.database!.settings, search_path: '"$user", public, extensions' };
      s.inside!.extensionsSchema = { owner: "admin", othersCanCreate: false, readWriteCanUse: true };
      s.inside!.extensions.push({ name: "pg_trgm", schema: "public" });
    }, [], { extensions: ["pg_trgm"] }],
    ["a changed role connection limit", (s) => { s.readOnly!.connectionLimit = -1; }, ['ALTER ROLE "malaria_ro" WITH CONNECTION LIMIT 50']],
    ["admin no longer member of rw, on 15 (membership inherits by the admin's own attribute there)", (s) => {
      s.readWrite!.adminIsMember = false;
      s.major = 15;
    }, ['GRANT "malaria" TO "admin"']],
    ["rw-owned objects a NOINHERIT admin grants on as their owner (before 16)", (s) => {
      s.inside!.tablesWithoutReadOnlySelect.push(
        { schema: "public", name: "t", grantable: true, actAs: "malaria" },
        { schema: "public", name: "by_admin", grantable: true },
      );
      s.inside!.schemasWithoutReadOnlyUsage.push({ schema: "mine", name: "mine", grantable: true, actAs: "malaria" });
    }, [
      'SET ROLE "malaria"; GRANT USAGE ON SCHEMA "mine" TO "malaria_ro"; RESET ROLE',
      'SET ROLE "malaria"; GRANT SELECT ON TABLE "public"."t" TO "malaria_ro"; RESET ROLE',
      'GRANT SELECT ON TABLE "public"."by_admin" TO "malaria_ro"',
    ]],
    ["public of pg_database_owner, changed by a NOINHERIT admin as that role (before 16)", (s) => {
      s.major = 15;
      s.inside!.publicSchema = { publicCanCreate: true, adminControls: true, actAs: "pg_database_owner", readWriteCanUse: true, readWriteCanCreate: true, readWriteGranted: false };
    }, [
      'SET ROLE "pg_database_owner"; REVOKE CREATE ON SCHEMA "public" FROM PUBLIC; RESET ROLE',
      'SET ROLE "pg_database_owner"; GRANT ALL ON SCHEMA "public" TO "malaria"; RESET ROLE',
    ]],
    ["a database owned by someone else", (s) => { s.database!.owner = "bob"; }, ['ALTER DATABASE "malaria" OWNER TO "admin"']],
  ];
  for (const [what, drift, expected, spec] of drifts) {
    it(`plans only the fix for ${what}`, () => {
      const state = healthy();
      drift(state);
      expect(sqlOf(state, desired(spec))).to.deep.equal(expected);
    });
  }

  it("names the superuser's statement when the read/write login lacks CREATE on a public schema the admin cannot change", () => {
    const state = healthy();
    state.inside!.publicSchema = { publicCanCreate: false, adminControls: false, actAs: null, readWriteCanUse: true, readWriteCanCreate: false, readWriteGranted: false };
    expect(() => planWorkspace(state, desired())).to.throw(PostgresError, /ALTER SCHEMA public OWNER TO pg_database_owner/).with.property("kind", "PermissionDenied");
  });

  it("batches many grants", () => {
    const state = healthy();
    for (let i = 0; i < GRANT_BATCH_SIZE + 1; i++) {
      state.inside!.tablesWithoutReadOnlySelect.push({ schema: "public", name: `t${i}`, grantable: true });
    }
    const plan = planWorkspace(state, desired());
    expect(plan).to.have.length(2);
    expect(plan[1]!.sql).to.equal(`GRANT SELECT ON TABLE "public"."t${GRANT_BATCH_SIZE}" TO "malaria_ro"`);
    expect(plan.every((s) => s.database === "malaria")).to.equal(true);
  });

  it("keeps hostile object names quoted", () => {
    const state = healthy();
    state.inside!.tablesWithoutReadOnlySelect.push({ schema: 'sch"ema', name: "t; DROP TABLE x", grantable: true });
    expect(sqlOf(state)).to.deep.equal(['GRANT SELECT ON TABLE "sch""ema"."t; DROP TABLE x" TO "malaria_ro"']);
  });

  it("plans inside statements for a database the admin cannot enter yet", () => {
    const state = healthy();
    state.database!.owner = "bob";
    state.database!.adminCanConnect = false;
    state.inside = null;
    const plan = sqlOf(state);
    expect(plan[0]).to.equal('ALTER DATABASE "malaria" OWNER TO "admin"');
    expect(plan).to.include('GRANT ALL ON SCHEMA "public" TO "malaria"');
  });

  it("computes verifiers only when a login has to be created or re-enabled", () => {
    let computed = 0;
    const counting = desired({ verifiers: { readWrite: () => { computed++; return V_RW; }, readOnly: () => { computed++; return V_RO; } } });
    planWorkspace(healthy(), counting);
    expect(computed).to.equal(0);
  });

  for (const [what, change] of [
    ["a database without our current marker (0.1, by hand, another owner)", (s: WorkspaceState) => { s.database!.comment = "workspacedb.io/owner: ws-malaria/malaria"; }],
    ["a database of another WorkspaceDatabase", (s: WorkspaceState) => { s.database!.comment = formatMarker({ namespace: "other", name: "malaria" }, "database"); }],
    ["an unmarked login", (s: WorkspaceState) => { s.readWrite!.comment = null; }],
    ["a login of another WorkspaceDatabase", (s: WorkspaceState) => { s.readOnly!.comment = formatMarker({ namespace: "other", name: "x" }, "read-only"); }],
  ] as const) {
    it(`refuses ${what} (the claim step marks what may be ours first)`, () => {
      const state = healthy();
      change(state);
      expect(() => planWorkspace(state, desired())).to.throw(PostgresError).with.property("kind", "Conflict");
    });
  }

  it("refuses an extensions schema that a login owns or may create objects in", () => {
    for (const schema of [{ owner: "malaria", othersCanCreate: false, readWriteCanUse: true }, { owner: "admin", othersCanCreate: true, readWriteCanUse: true }]) {
      const state = healthy();
      state.inside!.extensionsSchema = schema;
      expect(() => planWorkspace(state, desired({ extensions: ["pg_trgm"] }))).to.throw(PostgresError, /schema extensions/).with.property("kind", "Conflict");
    }
  });

  it("reports requested extensions outside the extensions schema", () => {
    const state = healthy();
    state.inside!.extensions.push({ name: "pg_trgm", schema: "public" }, { name: "hstore", schema: "extensions" });
    expect(misplacedExtensions(state.inside, desired({ extensions: ["pg_trgm", "hstore"] }))).to.deep.equal([{ name: "pg_trgm", schema: "public" }]);
  });
});
