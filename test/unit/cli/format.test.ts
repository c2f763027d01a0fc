// kubectl-wsdb's output: aligned columns, psql-like previews, table references, credential formats.
import { expect } from "chai";
import { alignedTable, cell, formatCredentials, parseTableRef, psqlTable } from "../../../src/cli/format.ts";

describe("kubectl-wsdb output", () => {
  it("aligns columns, numbers to the right", () => {
    expect(alignedTable(["NAME", "ROWS", "TYPE"], [["a", "5", "table"], ["longer", "12345", "view"]], [false, true, false])).to.equal(
      ["NAME      ROWS   TYPE", "a            5   table", "longer   12345   view"].join("\n"));
  });

  it("prints rows like psql, with a row count", () => {
    const text = psqlTable([{ name: "id", type: "integer" }, { name: "district", type: "text" }], [[1, "Bo"], [10, null], [2, "line\nbreak"]]);
    expect(text).to.equal([
      " id |  district",
      "----+------------",
      "  1 | Bo",
      " 10 |",
      "  2 | line↵break",
      "(3 rows)",
    ].join("\n"));
    expect(psqlTable([{ name: "x", type: "text" }], [])).to.equal([" x", "---", "(0 rows)"].join("\n"));
    expect(cell(true)).to.equal("t");
    // Nothing from a database reaches the terminal as a control sequence.
    expect(cell("a\u001b]52;c;ZXZpbA==\u0007b\rc\u009b")).to.equal("a\\x1b]52;c;ZXZpbA==\\x07b\\x0dc\\x9b");
    expect(psqlTable([{ name: "x\u001b[2J", type: "text" }], [["ok"]])).to.include("x\\x1b[2J");
    expect(alignedTable(["T"], [["t\u001b[31m"]])).to.equal("T\nt\\x1b[31m");
    expect(cell({ a: 1 })).to.equal('{"a":1}');
  });

  it("reads SCHEMA.TABLE, public by default, with quoted dots", () => {
    expect(parseTableRef("cases")).to.deep.equal({ schema: "public", table: "cases" });
    expect(parseTableRef("raw.cases")).to.deep.equal({ schema: "raw", table: "cases" });
    expect(parseTableRef('"my.schema"."Cases ""2024"""')).to.deep.equal({ schema: "my.schema", table: 'Cases "2024"' });
    expect(parseTableRef("a.b.c")).to.equal(undefined);
    expect(parseTableRef(".b")).to.equal(undefined);
    expect(parseTableRef('"open')).to.equal(undefined);
  });

  it("formats credentials for shells, URIs, JDBC and Superset, percent-encoding what needs it", () => {
    const keys = { host: "pg.db.svc", port: "5432", database: "malaria", username: "malaria_ro", password: "p@ss w'rd", sslmode: "require", "external-host": "db.example.org", "external-port": "15432" };
    expect(formatCredentials(keys, "env", false)).to.equal([
      "PGHOST=pg.db.svc", "PGPORT=5432", "PGDATABASE=malaria", "PGUSER=malaria_ro", "PGPASSWORD='p@ss w'\\''rd'", "PGSSLMODE=require",
    ].join("\n"));
    expect(formatCredentials(keys, "uri", false)).to.equal("postgresql://malaria_ro:p%40ss%20w'rd@pg.db.svc:5432/malaria?sslmode=require");
    expect(formatCredentials(keys, "jdbc", true)).to.equal("jdbc:postgresql://db.example.org:15432/malaria?sslmode=require&user=malaria_ro&password=p%40ss%20w'rd");
    expect(formatCredentials(keys, "superset", true)).to.equal("postgresql+psycopg2://malaria_ro:p%40ss%20w'rd@db.example.org:15432/malaria?sslmode=require");
  });
});
