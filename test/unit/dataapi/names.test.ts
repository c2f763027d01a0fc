// WorkspaceTable names: the ~XX escape is valid, canonical and reversible.
import { expect } from "chai";
import { escapePart, parseTableObjectName, tableObjectName, unescapePart } from "../../../src/dataapi/names.ts";

describe("WorkspaceTable names", () => {
  it("keeps [a-z0-9-] and escapes everything else as UTF-8 bytes in hex", () => {
    expect(escapePart("cases_2024")).to.equal("cases~5f2024");
    expect(escapePart("Malaria.Cases")).to.equal("~4dalaria~2e~43ases");
    expect(escapePart("a~b")).to.equal("a~7eb");
    expect(escapePart("données")).to.equal("donn~c3~a9es");
    expect(escapePart("表")).to.equal("~e8~a1~a8");
    expect(escapePart("with space\"quote")).to.equal("with~20space~22quote");
  });

  it("joins workspace, schema and table with dots and parses the name back", () => {
    const name = { workspace: "malaria.team", schema: "public", table: "Cases 2024" };
    const object = tableObjectName(name);
    expect(object).to.equal("malaria~2eteam.public.~43ases~202024");
    expect(parseTableObjectName(object)).to.deep.equal(name);
    for (const text of ["", "x", "~", "..", "a.b", "Ω≈ç√", "😀", "a\u0000b", "-"]) {
      if (text !== "") expect(unescapePart(escapePart(text))).to.equal(text);
    }
  });

  it("accepts one name per table only", () => {
    expect(unescapePart("~61")).to.equal(undefined); // "a" needs no escape
    expect(unescapePart("~2E")).to.equal(undefined); // upper-case hex
    expect(unescapePart("~2")).to.equal(undefined);
    expect(unescapePart("~zz")).to.equal(undefined);
    expect(unescapePart("A")).to.equal(undefined);
    expect(unescapePart("~c3")).to.equal(undefined); // not UTF-8
    expect(parseTableObjectName("a.b")).to.equal(undefined);
    expect(parseTableObjectName("a.b.c.d")).to.equal(undefined);
    expect(parseTableObjectName("a..c")).to.equal(undefined);
    expect(parseTableObjectName("a.b/x.c")).to.equal(undefined);
  });
});
