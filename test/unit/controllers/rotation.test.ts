// Unit tests of the pure parts of rotation and ownership: the password decision of a login, and the adopt annotation.
import { expect } from "chai";
import { adoptableDatabases } from "../../../src/controllers/ownership.ts";
import { decidePassword, type PasswordFacts } from "../../../src/controllers/rotation.ts";

const NOW = "2026-11-28T10:00:00Z";
const EARLIER = "2026-11-28T09:00:00Z";

function facts(overrides: Partial<PasswordFacts> = {}): PasswordFacts {
  return {
    requested: {},
    secret: { password: "p", changedAt: EARLIER, handled: {} },
    roleChangedAt: EARLIER,
    now: NOW,
    ...overrides,
  };
}

describe("controllers/rotation: decidePassword", () => {
  it("first provisioning: a new password, nothing to rotate (the role is created with it)", () => {
    expect(decidePassword(facts({ secret: undefined, roleChangedAt: undefined }))).to.deep.equal({
      password: "missing", changedAt: NOW, handled: { own: undefined, all: undefined, last: undefined }, rotate: false,
    });
  });

  it("settled: keeps the Secret's password and its timestamp, nothing to rotate", () => {
    expect(decidePassword(facts())).to.deep.equal({ password: "keep", changedAt: EARLIER, handled: { own: undefined, all: undefined, last: undefined }, rotate: false });
  });

  it("a Secret (or its password key) deleted after provisioning: a new password given to the role", () => {
    expect(decidePassword(facts({ secret: undefined }))).to.include({ password: "missing", rotate: true });
    expect(decidePassword(facts({ secret: { password: "", changedAt: EARLIER, handled: {} } }))).to.include({ password: "missing", rotate: true });
  });

  it("a new value of the login's own annotation, or of the one for both, regenerates once and is recorded", () => {
    const own = decidePassword(facts({ requested: { own: "v1" } }));
    expect(own).to.deep.equal({ password: "regenerate", changedAt: NOW, handled: { own: "v1", all: undefined, last: "v1" }, rotate: true });
    const again = decidePassword(facts({ requested: { own: "v1" }, secret: { password: "q", changedAt: NOW, handled: own.handled }, roleChangedAt: NOW }));
    expect(again).to.include({ password: "keep", rotate: false });
    expect(decidePassword(facts({ requested: { all: "x" } }))).to.deep.include({ password: "regenerate", handled: { own: undefined, all: "x", last: "x" } });
    // Both new at once: status reports the login's own value.
    expect(decidePassword(facts({ requested: { own: "a", all: "b" } })).handled.last).to.equal("a");
  });

  it("records a regenerate value of more than 128 bytes as its digest, and still regenerates exactly once for it", () => {
    const long = "x".repeat(200_000);
    const first = decidePassword(facts({ requested: { own: long } }));
    expect(first.password).to.equal("regenerate");
    expect(first.handled.own).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(first.handled.last).to.equal(first.handled.own);
    const again = decidePassword(facts({ requested: { own: long }, secret: { password: "q", changedAt: NOW, handled: first.handled }, roleChangedAt: NOW }));
    expect(again.password).to.equal("keep");
    // A record written whole by an earlier version counts as handled too: upgrading regenerates nothing.
    expect(decidePassword(facts({ requested: { all: long }, secret: { password: "p", changedAt: EARLIER, handled: { all: long } } })).password).to.equal("keep");
    // Up to 128 bytes a value is its own record (a multi-byte character counts its bytes).
    expect(decidePassword(facts({ requested: { own: "é".repeat(64) } })).handled.own).to.equal("é".repeat(64));
    expect(decidePassword(facts({ requested: { own: `${"é".repeat(64)}x` } })).handled.own).to.match(/^sha256:/);
  });

  it("a value removed and set again is not new: the handled value is kept while the annotation is absent", () => {
    const removed = decidePassword(facts({ requested: {}, secret: { password: "p", changedAt: EARLIER, handled: { own: "v1", last: "v1" } } }));
    expect(removed).to.deep.include({ password: "keep", handled: { own: "v1", all: undefined, last: "v1" } });
    expect(decidePassword(facts({ requested: { own: "v1" }, secret: { password: "p", changedAt: EARLIER, handled: removed.handled } })).password).to.equal("keep");
  });

  it("a new password an earlier pass wrote to the Secret but did not give to the role is rotated, even within the same second", () => {
    expect(decidePassword(facts({ secret: { password: "p", changedAt: NOW, handled: {} }, roleChangedAt: EARLIER }))).to.include({ password: "keep", rotate: true });
    expect(decidePassword(facts({ requested: { own: "v2" }, roleChangedAt: NOW })).rotate).to.equal(true);
  });

  it("gives a new password a timestamp unlike the role's and the old Secret's, so a crash before the rotation is still seen", () => {
    const sameSecond = decidePassword(facts({ requested: { own: "v1" }, secret: { password: "p", changedAt: NOW, handled: {} }, roleChangedAt: NOW }));
    expect(sameSecond.changedAt).to.equal("2026-11-28T10:00:01Z");
    // The crash: the Secret holds the new password, status still the role's old timestamp.
    const after = decidePassword(facts({ requested: { own: "v1" }, secret: { password: "new", changedAt: sameSecond.changedAt, handled: sameSecond.handled }, roleChangedAt: NOW }));
    expect(after).to.include({ password: "keep", rotate: true });
    expect(decidePassword(facts({ secret: undefined, roleChangedAt: NOW })).changedAt).to.equal("2026-11-28T10:00:01Z");
  });

  it("a password edited into the Secret by hand keeps its timestamp: no rotation (the login check sets it)", () => {
    expect(decidePassword(facts({ secret: { password: "edited", changedAt: EARLIER, handled: {} } }))).to.include({ password: "keep", rotate: false });
  });

  it("an old Secret without timestamp or last value: now, and the own handled value as the last one", () => {
    expect(decidePassword(facts({ secret: { password: "p", handled: { own: "v0" } }, roleChangedAt: undefined }))).to.deep.equal({
      password: "keep", changedAt: NOW, handled: { own: "v0", all: undefined, last: "v0" }, rotate: false,
    });
  });
});

describe("controllers/ownership: adoptableDatabases", () => {
  it("reads a comma or space separated list, ignoring empties", () => {
    expect([...adoptableDatabases({ "workspacedb.io/adopt": " a, b  c,,d " })]).to.deep.equal(["a", "b", "c", "d"]);
    expect(adoptableDatabases({}).size).to.equal(0);
    expect(adoptableDatabases({ "other.io/adopt": "a" }).size).to.equal(0);
  });
});
