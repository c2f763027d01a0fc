// Unit tests of password generation.
import { expect } from "chai";
import { generatePassword, PASSWORD_ALPHABET } from "../../../src/postgres/password.ts";

describe("postgres/password", () => {
  it("defaults to 32 characters from the alphabet", () => {
    const password = generatePassword();
    expect(password).to.have.length(32);
    for (const ch of password) expect(PASSWORD_ALPHABET).to.include(ch);
  });

  it("has no look-alikes and nothing that needs URL escaping", () => {
    for (const ch of "0Oo1lI") expect(PASSWORD_ALPHABET).to.not.include(ch);
    expect(PASSWORD_ALPHABET).to.match(/^[A-Za-z0-9]+$/);
    expect(encodeURIComponent(generatePassword(256))).to.have.length(256);
    expect(new Set(PASSWORD_ALPHABET).size).to.equal(PASSWORD_ALPHABET.length);
  });

  it("honours the length and rejects lengths outside 16..256", () => {
    expect(generatePassword(16)).to.have.length(16);
    expect(generatePassword(256)).to.have.length(256);
    for (const bad of [15, 257, 0, -1, 20.5, Number.NaN]) expect(() => generatePassword(bad), String(bad)).to.throw(RangeError);
  });

  it("is random: no repeats, and every character shows up", () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const password = generatePassword();
      seen.add(password);
      for (const ch of password) chars.add(ch);
    }
    expect(seen.size).to.equal(200);
    expect(chars.size).to.equal(PASSWORD_ALPHABET.length);
  });
});
