// The benchmark's summary over repeated runs shows the median and the worst run, never the best one.
import { expect } from "chai";
import { median, summarize, worst, type RunRecord } from "../../../hack/bench/summary.ts";

describe("bench/summary", () => {
  const run = (ratio: number, p2: number[], load: number): RunRecord => ({
    figures: [
      { objects: 1000, name: "P1 ratio to the floor", value: ratio, unit: "ratio" },
      { objects: 1000, name: "P2 worst sample", value: Math.max(...p2), unit: "ms" },
      { objects: 0, name: "P4 idle RSS", value: 80, unit: "MB" },
    ],
    p2Samples: { "1000": p2 },
    load: [{ at: "start", load1: load }],
    cores: 2,
  });

  it("takes the median (mean of the middle two for an even count) and the highest value as the worst", () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(worst([3, 9, 1])).to.equal(9);
    expect(Number.isNaN(median([]))).to.equal(true);
  });

  it("prints each figure's median, worst and every run, every P2 sample and each run's load", () => {
    const lines = summarize([run(1.2, [90, 120], 1.5), run(1.5, [100, 6000], 2.1), run(1.1, [80, 95], 1.9)]);
    const text = lines.join("\n");
    expect(text).to.contain("| 1,000 | P1 ratio to the floor | 1.20 | 1.50 | 1.20, 1.50, 1.10 |");
    expect(text).to.contain("| 1,000 | P2 worst sample | 120 ms | 6000 ms | 120.00, 6000.00, 95.00 |");
    expect(text).to.contain("| - | P4 idle RSS | 80.0 MB | 80.0 MB |");
    expect(text).to.contain("1,000 objects, run 2: 100 6000");
    expect(text).to.contain("run 2 (2 cores): start 2.10");
    // The best run's value is never presented as the result.
    expect(text).not.to.match(/\| 1\.10 \|/);
  });
});
