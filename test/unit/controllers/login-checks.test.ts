// Unit tests of LoginChecks: which passes log in to prove a password, and the per-server budget.
import { expect } from "chai";
import { LoginChecks } from "../../../src/controllers/login-checks.ts";

function checks(perMinute: number, minIntervalMs = 60_000): { lc: LoginChecks; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { lc: new LoginChecks({ perMinute, minIntervalMs, now: () => clock.now }), clock };
}

describe("controllers/login-checks", () => {
  it("always checks in a pass that is not settled, whatever the budget", () => {
    const { lc } = checks(0);
    expect(lc.due("s", "a", "1", false)).to.equal(true);
    expect(lc.due("s", "a", "1", false)).to.equal(true);
  });

  it("always checks a login whose Secret changed since its last check", () => {
    const { lc } = checks(0);
    lc.checked("s", "a", "1");
    expect(lc.due("s", "a", "1", true)).to.equal(false);
    expect(lc.due("s", "a", "2", true)).to.equal(true);
  });

  it("remembers the Secret's version of a login the budget skipped, so a later change is checked at once", () => {
    const { lc } = checks(0);
    expect(lc.due("s", "a", "1", true)).to.equal(false);
    expect(lc.due("s", "a", "2", true)).to.equal(true);
  });

  it("spends at most the budget per minute and server on settled logins, refilling over time", () => {
    const { lc, clock } = checks(3, 1);
    const due = (server: string): number => ["a", "b", "c", "d", "e"].filter((u) => lc.due(server, u, "1", true)).length;
    expect(due("s")).to.equal(3);
    expect(due("t")).to.equal(3); // another server has its own budget
    expect(due("s")).to.equal(0);
    clock.now += 20_000; // one token back
    expect(due("s")).to.equal(1);
    clock.now += 10 * 60_000; // never more than a minute's worth at once
    expect(due("s")).to.equal(3);
  });

  it("does not check a settled login again within its interval, stretched so that the budget goes round every login", () => {
    const { lc, clock } = checks(2, 1_000);
    const round = (): string[] => ["a", "b", "c", "d"].filter((u) => {
      const yes = lc.due("s", u, "1", true);
      if (yes) lc.checked("s", u, "1");
      return yes;
    });
    expect(round()).to.deep.equal(["a", "b"]);
    // 4 logins at 2 per minute: a round takes 2 minutes; a and b wait for theirs while c and d get the tokens.
    clock.now += 30_000;
    expect(round()).to.deep.equal(["c"]);
    clock.now += 30_000;
    expect(round()).to.deep.equal(["d"]);
    clock.now += 60_000;
    expect(round()).to.deep.equal(["a", "b"]);
  });

  it("forgets a login", () => {
    const { lc } = checks(0);
    lc.checked("s", "a", "1");
    lc.forget("s", "a");
    expect(lc.due("s", "a", "2", true)).to.equal(false);
  });
});
