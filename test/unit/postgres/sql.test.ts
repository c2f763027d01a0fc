// Unit tests of quoting and of the exact text of security-relevant statements.
import { expect } from "chai";
import * as sql from "../../../src/postgres/sql.ts";
import { quoteIdent, quoteLiteral } from "../../../src/postgres/sql.ts";
import { POSTGRES_VECTORS } from "./scram-vectors.ts";

const VERIFIER = POSTGRES_VECTORS[0]!.verifier;
const HOSTILE = `x"; DROP DATABASE postgres; --`;

describe("postgres/sql", () => {
  describe("quoteIdent", () => {
    it("double-quotes and doubles inner quotes", () => {
      expect(quoteIdent("malaria")).to.equal('"malaria"');
      expect(quoteIdent('a"b')).to.equal('"a""b"');
      expect(quoteIdent(HOSTILE)).to.equal(`"x""; DROP DATABASE postgres; --"`);
      expect(quoteIdent("Ünïcødé 🙂")).to.equal('"Ünïcødé 🙂"');
    });

    it("rejects NUL and empty identifiers", () => {
      expect(() => quoteIdent("a\0b")).to.throw(/NUL/);
      expect(() => quoteIdent("")).to.throw();
    });
  });

  describe("quoteLiteral", () => {
    it("doubles single quotes", () => {
      expect(quoteLiteral("90min")).to.equal("'90min'");
      expect(quoteLiteral("o'brien")).to.equal("'o''brien'");
      expect(quoteLiteral("'; DROP ROLE x; --")).to.equal("'''; DROP ROLE x; --'");
    });

    it("uses E'' and doubles backslashes when there is a backslash", () => {
      expect(quoteLiteral("a\\b")).to.equal("E'a\\\\b'");
      expect(quoteLiteral("\\'; DROP ROLE x; --")).to.equal("E'\\\\''; DROP ROLE x; --'");
    });

    it("rejects NUL", () => {
      expect(() => quoteLiteral("a\0")).to.throw(/NUL/);
    });
  });

  describe("passwords", () => {
    it("creates a login with the verifier, its connection limit and its marker in one implicit transaction", () => {
      const s = sql.createLoginRole("malaria", VERIFIER, 50, "workspacedb.io/v2 owner=ns/m part=read-write");
      expect(s.sql).to.equal(
        `CREATE ROLE "malaria" WITH LOGIN CONNECTION LIMIT 50 PASSWORD '${VERIFIER}'; COMMENT ON ROLE "malaria" IS 'workspacedb.io/v2 owner=ns/m part=read-write'`,
      );
      expect(s.sql).to.not.match(/BEGIN|COMMIT/);
      expect(s.database).to.equal(null);
      expect(s.summary).to.not.include("SCRAM");
      expect(() => sql.createLoginRole("malaria", VERIFIER, -2, "m")).to.throw(RangeError);
    });

    it("alters a password with the verifier", () => {
      expect(sql.alterRolePassword("malaria_ro", VERIFIER).sql).to.equal(`ALTER ROLE "malaria_ro" WITH PASSWORD '${VERIFIER}'`);
      expect(sql.enableLogin("malaria", VERIFIER).sql).to.equal(`ALTER ROLE "malaria" WITH LOGIN PASSWORD '${VERIFIER}'`);
    });

    it("refuses anything that is not a SCRAM verifier (no plaintext can reach SQL)", () => {
      for (const bad of ["pencil", POSTGRES_VECTORS[0]!.password, `${VERIFIER}' SUPERUSER --`, "md5" + "0".repeat(32)]) {
        expect(() => sql.createLoginRole("x", bad, 1, "m")).to.throw(/SCRAM/);
        expect(() => sql.alterRolePassword("x", bad)).to.throw(/SCRAM/);
        expect(() => sql.enableLogin("x", bad)).to.throw(/SCRAM/);
      }
    });

    it("disables a login", () => {
      expect(sql.disableLogin("malaria").sql).to.equal('ALTER ROLE "malaria" WITH NOLOGIN');
    });
  });

  describe("database statements", () => {
    it("pins creation, ownership, comment, limits and settings", () => {
      expect(sql.createDatabase("malaria").sql).to.equal('CREATE DATABASE "malaria" TEMPLATE template0');
      expect(sql.commentOnRole("m", "it's").sql).to.equal(`COMMENT ON ROLE "m" IS 'it''s'`);
      expect(sql.alterRoleConnectionLimit("m", 5).sql).to.equal('ALTER ROLE "m" WITH CONNECTION LIMIT 5');
      expect(sql.alterDatabaseSearchPath("m", ["$user", "public", "extensions"]).sql).to.equal('ALTER DATABASE "m" SET search_path = "$user", "public", "extensions"');
      expect(sql.alterDatabaseOwner("malaria", "admin").sql).to.equal('ALTER DATABASE "malaria" OWNER TO "admin"');
      expect(sql.commentOnDatabase("malaria", "workspacedb.io/owner: ns/x").sql).to.equal(
        `COMMENT ON DATABASE "malaria" IS 'workspacedb.io/owner: ns/x'`,
      );
      expect(sql.alterDatabaseConnectionLimit("malaria", 50).sql).to.equal('ALTER DATABASE "malaria" WITH CONNECTION LIMIT 50');
      expect(sql.alterDatabaseSet("malaria", "statement_timeout", "90min").sql).to.equal(
        `ALTER DATABASE "malaria" SET statement_timeout = '90min'`,
      );
      expect(sql.alterDatabaseSet("m", "idle_in_transaction_session_timeout", "5min'; DROP DATABASE m; --").sql).to.equal(
        `ALTER DATABASE "m" SET idle_in_transaction_session_timeout = '5min''; DROP DATABASE m; --'`,
      );
    });

    it("rejects a bad connection limit", () => {
      for (const bad of [-2, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => sql.alterDatabaseConnectionLimit("m", bad)).to.throw(RangeError);
      }
      expect(sql.alterDatabaseConnectionLimit("m", -1).sql).to.equal('ALTER DATABASE "m" WITH CONNECTION LIMIT -1');
    });

    it("pins grants and revokes on the database", () => {
      expect(sql.revokeOnDatabase("malaria", "ALL", null).sql).to.equal('REVOKE ALL ON DATABASE "malaria" FROM PUBLIC');
      expect(sql.revokeOnDatabase("malaria", ["CREATE", "TEMPORARY"], "malaria_ro").sql).to.equal(
        'REVOKE CREATE, TEMPORARY ON DATABASE "malaria" FROM "malaria_ro"',
      );
      expect(sql.grantOnDatabase("malaria", ["CONNECT", "CREATE", "TEMPORARY"], "malaria").sql).to.equal(
        'GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "malaria" TO "malaria"',
      );
      expect(sql.grantOnDatabase("malaria", ["CONNECT"], "malaria_ro").sql).to.equal('GRANT CONNECT ON DATABASE "malaria" TO "malaria_ro"');
      expect(() => sql.grantOnDatabase("m", [], "r")).to.throw();
    });

    it("pins role settings and membership", () => {
      expect(sql.alterRoleReadOnlyDefault("m_ro").sql).to.equal('ALTER ROLE "m_ro" SET default_transaction_read_only = on');
      expect(sql.resetRoleReadOnlyInDatabase("m_ro", "m").sql).to.equal('ALTER ROLE "m_ro" IN DATABASE "m" RESET default_transaction_read_only');
      expect(sql.grantRoleMembership("m", "admin", 15).sql).to.equal('GRANT "m" TO "admin"');
      expect(sql.grantRoleMembership("m", "admin", 16).sql).to.equal('GRANT "m" TO "admin" WITH INHERIT TRUE, SET FALSE');
      expect(sql.grantRoleToAdmin("m", 14).sql).to.equal('GRANT "m" TO CURRENT_USER');
      expect(sql.grantRoleToAdmin("m", 18).sql).to.equal('GRANT "m" TO CURRENT_USER WITH INHERIT TRUE, SET FALSE');
      expect(sql.asRole(undefined, sql.dropOwnedBy("m")).sql).to.equal('DROP OWNED BY "m"');
      expect(sql.asRole('m"x', sql.dropOwnedBy('m"x')).sql).to.equal('SET ROLE "m""x"; DROP OWNED BY "m""x"; RESET ROLE');
    });

    it("pins drops", () => {
      expect(sql.dropDatabase("malaria").sql).to.equal('DROP DATABASE IF EXISTS "malaria" WITH (FORCE)');
      expect(sql.dropDatabase("malaria", false).sql).to.equal('DROP DATABASE IF EXISTS "malaria"');
      expect(sql.dropRole("malaria_ro").sql).to.equal('DROP ROLE IF EXISTS "malaria_ro"');
      expect(sql.dropDatabase(HOSTILE).sql).to.equal(`DROP DATABASE IF EXISTS "x""; DROP DATABASE postgres; --" WITH (FORCE)`);
    });
  });

  describe("statements inside the workspace database", () => {
    it("carry the workspace database", () => {
      expect(sql.revokeCreateOnSchemaFromPublic("m", "public")).to.deep.include({ database: "m", sql: 'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC' });
      expect(sql.createExtension("m", "postgis", "extensions")).to.deep.include({ database: "m", sql: 'CREATE EXTENSION IF NOT EXISTS "postgis" SCHEMA "extensions"' });
      expect(sql.createSchema("m", "extensions")).to.deep.include({ database: "m", sql: 'CREATE SCHEMA "extensions"' });
    });

    it("pin schema grants", () => {
      expect(sql.grantAllOnSchema("m", "public", "m").sql).to.equal('GRANT ALL ON SCHEMA "public" TO "m"');
      expect(sql.grantUsageOnSchemas("m", ["public", 'we"ird'], "m_ro").sql).to.equal('GRANT USAGE ON SCHEMA "public", "we""ird" TO "m_ro"');
      expect(() => sql.grantUsageOnSchemas("m", [], "m_ro")).to.throw();
    });

    it("pin SELECT grants on tables and sequences, with hostile names quoted", () => {
      expect(sql.grantSelectOnTables("m", [{ schema: "public", name: "t" }, { schema: "s", name: HOSTILE }], "m_ro").sql).to.equal(
        `GRANT SELECT ON TABLE "public"."t", "s"."x""; DROP DATABASE postgres; --" TO "m_ro"`,
      );
      expect(sql.grantSelectOnSequences("m", [{ schema: "public", name: "t_id_seq" }], "m_ro").sql).to.equal(
        'GRANT SELECT ON SEQUENCE "public"."t_id_seq" TO "m_ro"',
      );
      expect(() => sql.grantSelectOnTables("m", [], "m_ro")).to.throw();
    });

    it("pin default privileges (global, not per schema)", () => {
      expect(sql.grantDefaultPrivileges("m", "m", "TABLES", "m_ro").sql).to.equal(
        'ALTER DEFAULT PRIVILEGES FOR ROLE "m" GRANT SELECT ON TABLES TO "m_ro"',
      );
      expect(sql.grantDefaultPrivileges("m", "admin", "SEQUENCES", "m_ro").sql).to.equal(
        'ALTER DEFAULT PRIVILEGES FOR ROLE "admin" GRANT SELECT ON SEQUENCES TO "m_ro"',
      );
      expect(sql.grantDefaultPrivileges("m", "m", "SCHEMAS", "m_ro").sql).to.equal(
        'ALTER DEFAULT PRIVILEGES FOR ROLE "m" GRANT USAGE ON SCHEMAS TO "m_ro"',
      );
    });
  });
});
