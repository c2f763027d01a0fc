// Unit tests of the work queue: coalescing, one in flight per key, delays, back-off, shutdown, metrics hooks.
import { expect } from "chai";
import { WorkQueue } from "../../../src/runtime/queue.ts";
import type { QueueObserver } from "../../../src/runtime/queue.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with the next key, or the string "timeout" if none comes within `ms`. */
async function getWithin(q: WorkQueue, ms: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
  const got = await Promise.race([q.get(), t]);
  clearTimeout(timer);
  return got;
}

describe("WorkQueue", () => {
  let queues: WorkQueue[] = [];
  const make = (...args: ConstructorParameters<typeof WorkQueue>): WorkQueue => {
    const q = new WorkQueue(...args);
    queues.push(q);
    return q;
  };
  afterEach(() => {
    for (const q of queues) q.shutDown();
    queues = [];
  });

  it("hands keys out in FIFO order", async () => {
    const q = make();
    q.add("a");
    q.add("b");
    q.add("c");
    expect(q.len()).to.equal(3);
    expect([await q.get(), await q.get(), await q.get()]).to.deep.equal(["a", "b", "c"]);
    expect(q.len()).to.equal(0);
  });

  it("coalesces many adds of a queued key into one", async () => {
    const q = make();
    for (let i = 0; i < 10; i++) q.add("a");
    q.add("b");
    q.add("a");
    expect(q.len()).to.equal(2);
    expect(await q.get()).to.equal("a");
    expect(await q.get()).to.equal("b");
    expect(await getWithin(q, 20)).to.equal("timeout");
  });

  it("never hands out a key that is being processed", async () => {
    const q = make();
    q.add("a");
    expect(await q.get()).to.equal("a");
    q.add("a");
    expect(q.len()).to.equal(0);
    expect(await getWithin(q, 20)).to.equal("timeout");
  });

  it("requeues a key added while processing exactly once on done()", async () => {
    const q = make();
    q.add("a");
    const key = await q.get();
    q.add("a");
    q.add("a");
    q.add("a");
    q.done(key!);
    expect(q.len()).to.equal(1);
    expect(await q.get()).to.equal("a");
    q.done("a");
    expect(await getWithin(q, 20)).to.equal("timeout");
  });

  it("does not requeue on done() when nothing was added meanwhile", async () => {
    const q = make();
    q.add("a");
    q.done((await q.get())!);
    expect(q.len()).to.equal(0);
  });

  it("wakes a waiting get() when a key is added", async () => {
    const q = make();
    const pending = q.get();
    await sleep(5);
    q.add("x");
    expect(await pending).to.equal("x");
  });

  it("serves concurrent getters each a different key", async () => {
    const q = make();
    const getters = [q.get(), q.get(), q.get()];
    q.add("a");
    q.add("b");
    q.add("a");
    q.add("c");
    expect((await Promise.all(getters)).sort()).to.deep.equal(["a", "b", "c"]);
  });

  it("with many workers, processes each key at most once at a time and loses no add", async () => {
    const q = make();
    const inFlight = new Set<string>();
    const processed = new Map<string, number>();
    let violations = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        if (inFlight.has(k)) violations++;
        inFlight.add(k);
        await sleep(Math.random() * 3);
        processed.set(k, (processed.get(k) ?? 0) + 1);
        inFlight.delete(k);
        q.done(k);
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 5; i++) q.add(`k${i}`);
      await sleep(1);
    }
    await sleep(50);
    q.shutDown();
    await Promise.all(workers);
    expect(violations).to.equal(0);
    for (let i = 0; i < 5; i++) expect(processed.get(`k${i}`)).to.be.greaterThan(0);
  });

  it("addAfter delays a key", async () => {
    const q = make();
    const t0 = Date.now();
    q.addAfter("a", 40);
    expect(q.len()).to.equal(0);
    expect(await q.get()).to.equal("a");
    expect(Date.now() - t0).to.be.at.least(35);
  });

  it("addAfter keeps the earliest deadline for a key", async () => {
    const q = make();
    const t0 = Date.now();
    q.addAfter("a", 500);
    q.addAfter("a", 20);
    q.addAfter("a", 300);
    expect(await getWithin(q, 250)).to.equal("a");
    expect(Date.now() - t0).to.be.below(250);
    q.done("a");
    expect(await getWithin(q, 400)).to.equal("timeout");
  });

  it("addAfter with 0 or less adds now", () => {
    const q = make();
    q.addAfter("a", 0);
    q.addAfter("b", -5);
    expect(q.len()).to.equal(2);
  });

  it("a delayed key already queued coalesces with the queued one", async () => {
    const q = make();
    q.add("a");
    q.addAfter("a", 10);
    expect(await q.get()).to.equal("a");
    await sleep(30); // the delayed add lands while "a" is processing: dirty, requeued on done
    expect(q.len()).to.equal(0);
    q.done("a");
    expect(await getWithin(q, 20)).to.equal("a");
  });

  it("addRateLimited grows the delay per key, numRequeues counts, forget resets", async () => {
    const q = make({ backoff: { baseMs: 20, maxMs: 80 } });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      q.addRateLimited("a");
      const k = await q.get();
      delays.push(Date.now() - t0);
      q.done(k!);
    }
    expect(q.numRequeues("a")).to.equal(4);
    // Lower bounds are the contract; upper bounds leave room for a busy machine.
    expect(delays[0]).to.be.within(15, 150);
    expect(delays[1]).to.be.within(35, 200);
    expect(delays[2]).to.be.within(75, 250);
    expect(delays[3]).to.be.within(75, 250); // capped at max
    q.forget("a");
    expect(q.numRequeues("a")).to.equal(0);
  });

  it("shutDown resolves pending and later get() with undefined and ignores adds", async () => {
    const q = make();
    const pending = q.get();
    q.addAfter("later", 10);
    q.shutDown();
    expect(await pending).to.equal(undefined);
    q.add("a");
    q.addRateLimited("b");
    expect(q.len()).to.equal(0);
    expect(await q.get()).to.equal(undefined);
    expect(q.shuttingDown()).to.equal(true);
    await sleep(20);
    expect(q.len()).to.equal(0);
  });

  it("shutDownWithDrain waits for in-flight keys", async () => {
    const q = make();
    q.add("a");
    const k = await q.get();
    setTimeout(() => q.done(k!), 30);
    const t0 = Date.now();
    expect(await q.shutDownWithDrain(1000)).to.equal(true);
    expect(Date.now() - t0).to.be.at.least(25);
  });

  it("shutDownWithDrain gives up after the timeout", async () => {
    const q = make();
    q.add("a");
    await q.get();
    expect(await q.shutDownWithDrain(30)).to.equal(false);
  });

  it("shutDownWithDrain resolves at once when idle", async () => {
    const q = make();
    expect(await q.shutDownWithDrain(10_000)).to.equal(true);
  });

  it("reports depth, adds, retries, latency and work duration to the observer", async () => {
    const seen = { depth: [] as number[], adds: 0, retries: 0, latency: [] as number[], work: [] as number[] };
    const observer: QueueObserver = {
      depth: (n) => seen.depth.push(n),
      add: () => seen.adds++,
      retry: () => seen.retries++,
      queueLatency: (s) => seen.latency.push(s),
      workDuration: (s) => seen.work.push(s),
    };
    const q = make({ observer, backoff: { baseMs: 1, maxMs: 1 } });
    q.add("a");
    q.add("a");
    q.add("b");
    expect(seen.adds).to.equal(2);
    expect(seen.depth.at(-1)).to.equal(2);
    await sleep(10);
    const k = await q.get();
    expect(seen.depth.at(-1)).to.equal(1);
    expect(seen.latency[0]).to.be.greaterThan(0.005);
    await sleep(10);
    q.done(k!);
    expect(seen.work[0]).to.be.greaterThan(0.005);
    q.addRateLimited("c");
    expect(seen.retries).to.equal(1);
  });

  describe("priority lanes", () => {
    async function drain(q: WorkQueue): Promise<string[]> {
      const out: string[] = [];
      while (q.len() > 0) {
        const k = (await q.get())!;
        out.push(k);
        q.done(k);
      }
      return out;
    }

    it("hands out every high key before any low key, FIFO within a lane", async () => {
      const q = make();
      for (const k of ["r1", "r2", "r3"]) q.add(k, "low");
      q.add("new");
      q.add("r4", "low");
      q.add("regen");
      expect(q.len()).to.equal(6);
      expect(await drain(q)).to.deep.equal(["new", "regen", "r1", "r2", "r3", "r4"]);
    });

    it("moves a queued low key to the high lane when it is added as high, and hands it out once", async () => {
      const q = make();
      for (const k of ["a", "b", "c"]) q.add(k, "low");
      q.add("c");
      q.add("c", "low");
      expect(q.len()).to.equal(3);
      expect(await drain(q)).to.deep.equal(["c", "a", "b"]);
      expect(q.len()).to.equal(0);
    });

    it("re-queues a key added while it is processed in the higher of the lanes asked for", async () => {
      const q = make();
      q.add("busy", "low");
      const k = (await q.get())!;
      q.add("busy", "low");
      q.add("busy");
      q.add("other", "low");
      q.done(k);
      expect(await drain(q)).to.deep.equal(["busy", "other"]);
    });

    it("keeps the high lane for a delayed key when asked again as low", async () => {
      const q = make();
      q.addAfter("x", 20);
      q.addAfter("x", 10, "low");
      q.add("y", "low");
      await sleep(40);
      expect(await drain(q)).to.deep.equal(["x", "y"]);
    });

    it("gives a high-only getter high keys only, and prefers it for them", async () => {
      const q = make();
      const general = q.get();
      const reserved = q.get(true);
      q.add("resync", "low");
      expect(await general).to.equal("resync");
      let got: string | undefined;
      void reserved.then((k) => (got = k));
      q.add("other", "low");
      await sleep(5);
      expect(got, "a low key never goes to the high-only getter").to.equal(undefined);
      q.add("regen");
      expect(await reserved).to.equal("regen");
      // Only a low key is left: a high-only getter waits, until that key is asked for as high.
      const next = q.get(true);
      let second: string | undefined;
      void next.then((k) => (second = k));
      await sleep(5);
      expect(second).to.equal(undefined);
      q.add("other");
      expect(await next).to.equal("other");
    });

    it("processes at most maxLowInFlight low keys at once, and hands out high keys meanwhile", async () => {
      const q = new WorkQueue({ maxLowInFlight: 2 });
      for (const k of ["r1", "r2", "r3", "r4"]) q.add(k, "low");
      const a = (await q.get())!;
      const b = (await q.get())!;
      expect([a, b]).to.deep.equal(["r1", "r2"]);
      let third: string | undefined;
      const waiting = q.get();
      void waiting.then((k) => (third = k));
      await sleep(5);
      expect(third, "a third low key waits for a place").to.equal(undefined);
      q.add("new");
      expect(await waiting).to.equal("new");
      const next = q.get();
      q.done("new");
      q.done(a);
      expect(await next, "a low key done frees a place").to.equal("r3");
      q.done(b);
      q.done("r3");
      expect(await q.get()).to.equal("r4");
    });

    it("wakes a waiting get() with a key promoted to the high lane", async () => {
      const q = make();
      const waiting = q.get();
      q.add("a", "low");
      expect(await waiting).to.equal("a");
      q.done("a");
    });
  });
});
