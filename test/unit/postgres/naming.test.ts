// Unit tests of database and login names.
import { expect } from "chai";
import {
  checkDatabaseName,
  deriveDatabaseName,
  MAX_DATABASE_NAME_BYTES,
  readOnlyRoleName,
} from "../../../src/postgres/naming.ts";

const VALID = /^[a-z][a-z0-9_]*$/;

describe("postgres/naming", () => {
  describe("deriveDatabaseName", () => {
    it("keeps a lossless name readable and without hash", () => {
      expect(deriveDatabaseName("analytics", "malaria")).to.equal("analytics_malaria");
    });

    it("uses the name alone when namespace and name are equal", () => {
      expect(deriveDatabaseName("malaria", "malaria")).to.equal("malaria");
    });

    it("appends an 8-hex hash when a character was replaced", () => {
      const name = deriveDatabaseName("workspace-malaria", "malaria");
      expect(name).to.match(/^workspace_malaria_malaria_[0-9a-f]{8}$/);
    });

    it("is deterministic", () => {
      expect(deriveDatabaseName("ws-a", "db.b")).to.equal(deriveDatabaseName("ws-a", "db.b"));
    });

    it("never maps a-b/c and a_b/c to the same name", () => {
      expect(deriveDatabaseName("a-b", "c")).to.not.equal(deriveDatabaseName("a_b", "c"));
      expect(deriveDatabaseName("a_b", "c")).to.not.equal(deriveDatabaseName("a", "b_c"));
      expect(deriveDatabaseName("a", "b-c")).to.not.equal(deriveDatabaseName("a-b", "c"));
    });

    it("treats case folding as lossy", () => {
      expect(deriveDatabaseName("Ns", "db")).to.not.equal(deriveDatabaseName("ns", "db"));
      expect(deriveDatabaseName("Ns", "db")).to.match(/^ns_db_[0-9a-f]{8}$/);
    });

    it("starts with a letter, prefixing w_ otherwise", () => {
      const name = deriveDatabaseName("1team", "db");
      expect(name).to.match(/^w_1team_db_[0-9a-f]{8}$/);
    });

    it("never starts with the reserved pg_ prefix", () => {
      expect(deriveDatabaseName("pg", "x")).to.match(/^w_pg_x_[0-9a-f]{8}$/);
      expect(deriveDatabaseName("pg-team", "x").startsWith("pg_")).to.equal(false);
    });

    it("shortens to at most 60 bytes with a hash, distinct for distinct long names", () => {
      const long = "a".repeat(300);
      const one = deriveDatabaseName("ns", long);
      const two = deriveDatabaseName("ns", `${long}b`);
      expect(Buffer.byteLength(one)).to.be.at.most(MAX_DATABASE_NAME_BYTES);
      expect(one).to.match(VALID);
      expect(one).to.not.equal(two);
      expect(one).to.match(/_[0-9a-f]{8}$/);
    });

    it("hashes a lossless name only when it is longer than 60 bytes", () => {
      const exact = deriveDatabaseName("n", "a".repeat(58));
      expect(exact).to.equal(`n_${"a".repeat(58)}`);
      expect(deriveDatabaseName("n", "a".repeat(59))).to.match(/_[0-9a-f]{8}$/);
    });

    for (const [namespace, name] of [
      ["ns", `x"; DROP DATABASE postgres; --`],
      ["ns", "o'brien\\"],
      ["名前", "データ"],
      ["ns", "é🙂\u0000\n"],
      ["İ", "ß"],
      ["ns", "x".repeat(300)],
    ] as const) {
      it(`maps hostile input ${JSON.stringify(`${namespace}/${name}`.slice(0, 30))} to a safe name`, () => {
        const db = deriveDatabaseName(namespace, name);
        expect(db).to.match(VALID);
        expect(Buffer.byteLength(db)).to.be.at.most(MAX_DATABASE_NAME_BYTES);
        expect(checkDatabaseName(db)).to.equal(null);
        expect(Buffer.byteLength(readOnlyRoleName(db))).to.be.at.most(63);
      });
    }

    it("rejects empty parts", () => {
      expect(() => deriveDatabaseName("", "x")).to.throw();
      expect(() => deriveDatabaseName("x", "")).to.throw();
    });
  });

  describe("readOnlyRoleName", () => {
    it("appends _ro", () => {
      expect(readOnlyRoleName("malaria")).to.equal("malaria_ro");
    });

    it("refuses database names that would make PostgreSQL truncate the role name", () => {
      expect(() => readOnlyRoleName("a".repeat(61))).to.throw(/60 bytes/);
      expect(() => readOnlyRoleName("é".repeat(31))).to.throw(/60 bytes/);
    });
  });

  describe("checkDatabaseName", () => {
    it("accepts ordinary names, rejects empty, NUL, long and pg_ names", () => {
      expect(checkDatabaseName("malaria")).to.equal(null);
      expect(checkDatabaseName("Mixed Case-name")).to.equal(null);
      expect(checkDatabaseName("")).to.be.a("string");
      expect(checkDatabaseName("a\0b")).to.be.a("string");
      expect(checkDatabaseName("x".repeat(61))).to.be.a("string");
      expect(checkDatabaseName("pg_data")).to.be.a("string");
    });
  });

  describe("read-only suffix", () => {
    it("never derives a name ending in _ro, which would be another database's read-only login", () => {
      expect(deriveDatabaseName("foo", "ro")).to.match(/^foo_ro_[0-9a-f]{8}$/);
      expect(deriveDatabaseName("foo", "ro")).to.not.equal(readOnlyRoleName(deriveDatabaseName("foo", "foo")));
      expect(deriveDatabaseName("x", "a-ro")).to.not.match(/_ro$/);
    });

    it("rejects a given name ending in _ro", () => {
      expect(checkDatabaseName("malaria_ro")).to.match(/_ro/);
      expect(() => readOnlyRoleName("malaria_ro")).to.throw(/_ro/);
      expect(checkDatabaseName("malaria_roster")).to.equal(null);
    });
  });
});
