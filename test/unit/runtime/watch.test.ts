// Unit tests of one watch connection: how each kind of end is normalised, inactivity, abort.
import { expect } from "chai";
import { openWatch } from "../../../src/runtime/watch.ts";
import type { WatchEnd, WatchPort } from "../../../src/runtime/watch.ts";

type Done = (err: unknown) => void;
type Callback = (type: string, obj: unknown) => void;

/** A watch that hands its callbacks to the test. */
function fakeWatch(): { port: WatchPort; done: () => Done; send: () => Callback; controller: AbortController } {
  let done: Done | undefined;
  let send: Callback | undefined;
  const controller = new AbortController();
  const port: WatchPort = {
    async watch(_p, _q, cb, d) {
      send = cb;
      done = d;
      return controller;
    },
  };
  return { port, done: () => done!, send: () => send!, controller };
}

const open = (port: WatchPort, onEvent: (t: string, o: unknown) => WatchEnd | undefined = () => undefined, inactivityMs = 1000) =>
  openWatch({ watch: port, path: "/x", query: {}, inactivityMs, onEvent });

describe("openWatch", () => {
  it("maps a server close to closed, a timeout to closed, 410 to gone, others to error", async () => {
    const cases: Array<[unknown, string]> = [
      [null, "closed"],
      [Object.assign(new Error("t"), { name: "TimeoutError" }), "closed"],
      [Object.assign(new Error("Gone"), { statusCode: 410 }), "gone"],
      [new TypeError("fetch failed"), "error"],
      [Object.assign(new Error("Forbidden"), { statusCode: 403 }), "error"],
    ];
    for (const [err, kind] of cases) {
      const w = fakeWatch();
      const handle = open(w.port);
      await Promise.resolve();
      w.done()(err);
      expect((await handle.ended).kind).to.equal(kind);
    }
  });

  it("ends with what an event handler returns and aborts the connection", async () => {
    const w = fakeWatch();
    const handle = open(w.port, (type) => (type === "ERROR" ? { kind: "gone" } : undefined));
    await Promise.resolve();
    w.send()("ADDED", {});
    w.send()("ERROR", { code: 410 });
    expect(await handle.ended).to.deep.equal({ kind: "gone" });
    expect(w.controller.signal.aborted).to.equal(true);
  });

  it("ends as closed when nothing arrives within the inactivity timeout; events reset the timer", async () => {
    const w = fakeWatch();
    const started = Date.now();
    const handle = open(w.port, () => undefined, 60);
    await new Promise((r) => setTimeout(r, 40));
    w.send()("BOOKMARK", {});
    const end = await handle.ended;
    expect(end).to.deep.equal({ kind: "closed", reason: "inactive for 60 ms" });
    expect(Date.now() - started).to.be.at.least(95);
    expect(w.controller.signal.aborted).to.equal(true);
  });

  it("settles once: later ends and events are ignored", async () => {
    const w = fakeWatch();
    let events = 0;
    const handle = open(w.port, () => { events++; return undefined; });
    await Promise.resolve();
    handle.end({ kind: "closed", reason: "stopped" });
    w.done()(new Error("late"));
    w.send()("ADDED", {});
    expect(await handle.ended).to.deep.equal({ kind: "closed", reason: "stopped" });
    expect(events).to.equal(0);
  });

  it("turns a rejected watch() into an error end", async () => {
    const port: WatchPort = { watch: () => Promise.reject(new Error("No currently active cluster")) };
    const end = await open(port).ended;
    expect(end.kind).to.equal("error");
  });
});
