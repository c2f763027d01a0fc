// Unit tests of SASLprep as PostgreSQL applies it, one per branch of pg_saslprep, and of its RFC 3454 tables.
import { expect } from "chai";
import { inTable, saslPrep } from "../../../src/postgres/saslprep.ts";
import * as tables from "../../../src/postgres/saslprep-tables.ts";
import { saslPrep as reexported } from "../../../src/postgres/scram.ts";

describe("postgres/saslprep", () => {
  describe("saslPrep", () => {
    it("returns pure ASCII unchanged, control characters included", () => {
      expect(saslPrep("Abc 123!")).to.equal("Abc 123!");
      expect(saslPrep("a\tb")).to.equal("a\tb");
      expect(saslPrep("\u0001\u007f")).to.equal("\u0001\u007f");
      expect(saslPrep("")).to.equal("");
    });

    it("maps non-ASCII spaces (C.1.2) to U+0020, U+200B included although it is in B.1 too", () => {
      expect(saslPrep("a\u00A0b")).to.equal("a b");
      expect(saslPrep("a\u3000b\u2003c")).to.equal("a b c");
      expect(saslPrep("a\u200Bb")).to.equal("a b");
      expect(saslPrep("\u00A0")).to.equal(" ");
    });

    it("removes B.1 characters (soft hyphen, joiners, variation selectors)", () => {
      expect(saslPrep("I\u00ADX")).to.equal("IX");
      expect(saslPrep("pass\u200Dword\uFE0F")).to.equal("password");
    });

    it("applies NFKC: ligatures, Roman numerals, fullwidth forms, combining marks", () => {
      expect(saslPrep("\uFB01le")).to.equal("file");
      expect(saslPrep("\u2168")).to.equal("IX");
      expect(saslPrep("\uFF30\uFF41\uFF53\uFF53")).to.equal("Pass");
      expect(saslPrep("e\u0301")).to.equal("\u00E9");
      expect(saslPrep("ü")).to.equal("ü");
    });

    it("checks prohibited output before normalisation: U+0340 keeps the raw password", () => {
      expect("e\u0340".normalize("NFKC")).to.equal("\u00E8"); // what an RFC-strict library would use
      expect(saslPrep("e\u0340")).to.equal("e\u0340");
    });

    it("keeps the raw password when a code point is unassigned in Unicode 3.2", () => {
      expect(saslPrep("p\u00E4ss\u{1F600}")).to.equal("p\u00E4ss\u{1F600}");
      expect(saslPrep("\u2150")).to.equal("\u2150");
      // NFKC of U+2093 is plain "x": the unassigned check runs on the input, so PostgreSQL still uses the raw string.
      expect("pa\u2093s".normalize("NFKC")).to.equal("paxs");
      expect(saslPrep("pa\u2093s")).to.equal("pa\u2093s");
    });

    it("keeps the raw password on other prohibited characters", () => {
      for (const raw of ["\u00E9\u0007", "\u00E9\uE000", "\u00E9\u{E0041}", "\u00E9\u2FF0", "\u00E9\uFFFF", "\u00E9\u200E"]) {
        expect(saslPrep(raw), escape(raw)).to.equal(raw);
      }
    });

    it("keeps the raw password when it holds a lone surrogate (not encodable in UTF-8)", () => {
      expect(saslPrep("\u00E9\uD800")).to.equal("\u00E9\uD800");
      expect(saslPrep("\uDC00")).to.equal("\uDC00");
    });

    it("accepts right-to-left strings with RandALCat at both ends and no LCat, returning the NFKC form", () => {
      expect(saslPrep("\u05E9\u05DC\u05D5\u05DD")).to.equal("\u05E9\u05DC\u05D5\u05DD");
      expect(saslPrep("\u05D0123\u05D1")).to.equal("\u05D0123\u05D1");
      expect(saslPrep("\uFB2A\u05D0")).to.equal("\u05E9\u05C1\u05D0");
      expect(saslPrep("\uFEFB")).to.equal("\u0644\u0627");
    });

    it("keeps the raw password when right-to-left and left-to-right characters mix", () => {
      expect(saslPrep("\u05D0a\u05D1")).to.equal("\u05D0a\u05D1");
      expect(saslPrep("\u05E9\u05DC\u05D5\u05DDpassword\u05D0")).to.equal("\u05E9\u05DC\u05D5\u05DDpassword\u05D0");
    });

    it("keeps the raw password when right-to-left text is not at both ends", () => {
      expect(saslPrep("\u05D0\u05D11")).to.equal("\u05D0\u05D11");
      expect(saslPrep("1\u05D0\u05D1")).to.equal("1\u05D0\u05D1");
      expect(saslPrep("\u05D0\u05D1\u00A0")).to.equal("\u05D0\u05D1\u00A0");
    });

    it("keeps the raw password when mapping leaves nothing", () => {
      expect(saslPrep("\u00AD")).to.equal("\u00AD");
      expect(saslPrep("\u00AD\u200D\uFE0F\u2060")).to.equal("\u00AD\u200D\uFE0F\u2060");
    });

    it("is what scram.ts re-exports", () => {
      expect(reexported).to.equal(saslPrep);
    });
  });

  describe("RFC 3454 tables", () => {
    const all = {
      NON_ASCII_SPACE: tables.NON_ASCII_SPACE,
      MAPPED_TO_NOTHING: tables.MAPPED_TO_NOTHING,
      PROHIBITED_OUTPUT: tables.PROHIBITED_OUTPUT,
      UNASSIGNED_IN_UNICODE_3_2: tables.UNASSIGNED_IN_UNICODE_3_2,
      RAND_AL_CAT: tables.RAND_AL_CAT,
      L_CAT: tables.L_CAT,
    };

    for (const [name, ranges] of Object.entries(all)) {
      it(`${name} is sorted, disjoint and merged`, () => {
        expect(ranges.length).to.be.greaterThan(0);
        let previous = -2;
        for (const [first, last] of ranges) {
          expect(first, name).to.be.at.most(last);
          expect(first, name).to.be.greaterThan(previous + 1);
          previous = last;
        }
        expect(previous).to.be.at.most(0x10ffff);
      });
    }

    it("holds the expected code points (spot checks)", () => {
      const holds: [keyof typeof all, number, boolean][] = [
        ["NON_ASCII_SPACE", 0x00a0, true], ["NON_ASCII_SPACE", 0x200b, true], ["NON_ASCII_SPACE", 0x3000, true], ["NON_ASCII_SPACE", 0x0020, false],
        ["MAPPED_TO_NOTHING", 0x00ad, true], ["MAPPED_TO_NOTHING", 0x200b, true], ["MAPPED_TO_NOTHING", 0xfeff, true], ["MAPPED_TO_NOTHING", 0x200e, false],
        ["PROHIBITED_OUTPUT", 0x0000, true], ["PROHIBITED_OUTPUT", 0x007f, true], ["PROHIBITED_OUTPUT", 0x0340, true], ["PROHIBITED_OUTPUT", 0x0341, true],
        ["PROHIBITED_OUTPUT", 0x0342, false], ["PROHIBITED_OUTPUT", 0x2ff0, true], ["PROHIBITED_OUTPUT", 0x1d173, true], ["PROHIBITED_OUTPUT", 0xe0001, true],
        ["PROHIBITED_OUTPUT", 0xe0002, false], ["PROHIBITED_OUTPUT", 0xfdd0, true], ["PROHIBITED_OUTPUT", 0x10ffff, true], ["PROHIBITED_OUTPUT", 0x0041, false],
        ["UNASSIGNED_IN_UNICODE_3_2", 0x0221, true], ["UNASSIGNED_IN_UNICODE_3_2", 0x0220, false], ["UNASSIGNED_IN_UNICODE_3_2", 0x2150, true],
        ["UNASSIGNED_IN_UNICODE_3_2", 0x1f600, true], ["UNASSIGNED_IN_UNICODE_3_2", 0xfdd0, false], ["UNASSIGNED_IN_UNICODE_3_2", 0x4e00, false],
        ["RAND_AL_CAT", 0x05d0, true], ["RAND_AL_CAT", 0x0627, true], ["RAND_AL_CAT", 0x200f, true], ["RAND_AL_CAT", 0x05c1, false], ["RAND_AL_CAT", 0x0660, false],
        ["L_CAT", 0x0041, true], ["L_CAT", 0x00e9, true], ["L_CAT", 0xd800, true], ["L_CAT", 0x0030, false], ["L_CAT", 0x05d0, false],
      ];
      for (const [name, codePoint, expected] of holds) {
        expect(inTable(codePoint, all[name]), `${name} U+${codePoint.toString(16)}`).to.equal(expected);
      }
    });

    it("inTable finds the first and last code point of every range and none just outside", () => {
      for (const ranges of Object.values(all)) {
        for (const [first, last] of ranges) {
          expect(inTable(first, ranges)).to.equal(true);
          expect(inTable(last, ranges)).to.equal(true);
          expect(inTable(first - 1, ranges)).to.equal(false);
          expect(inTable(last + 1, ranges)).to.equal(false);
        }
      }
    });
  });
});

function escape(text: string): string {
  return [...text].map((ch) => `U+${ch.codePointAt(0)!.toString(16)}`).join(" ");
}
